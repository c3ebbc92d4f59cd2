"""loadtest/writes.py: the client side of loadtest/writes.sh (see its header).

  writes.py creates API BOOTSTRAP N WORKERS IDS     creates N codes, prints the rate, writes the ids
  writes.py updates API BOOTSTRAP IDS N WORKERS     N updates of the target spread over the codes
  writes.py propagation API EDGE BOOTSTRAP IDS N    N updates, one at a time: how long until the
                                                    edge serves each new target
  writes.py ids API BOOTSTRAP N IDS                 the first N of the team's codes (an imported
                                                    store's), written to IDS as creates does

Every line it prints starts with the measurement's name; the figures are for the run only.
"""

import http.client
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


def hostport(url):
    parts = urlsplit(url)
    return parts.hostname, parts.port


class Api:
    """One keep-alive connection per thread to qredge's API, with the bootstrap credential."""

    def __init__(self, url, bootstrap):
        self.host, self.port = hostport(url)
        b = json.load(open(bootstrap))
        self.headers = {
            "x-request-team-id": b["teamId"],
            "x-request-client-id": b["clientId"],
            "x-request-client-secret": b["clientSecret"],
            "content-type": "application/json",
        }
        self.local = threading.local()

    def call(self, method, path, body):
        try:
            return self.once(method, path, body)
        except (ConnectionError, http.client.RemoteDisconnected):
            # The server closed the kept-alive connection between two requests: once more on
            # a new one.
            self.local.conn = None
            return self.once(method, path, body)

    def once(self, method, path, body):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        conn.request(method, path, None if body is None else json.dumps(body), self.headers)
        r = conn.getresponse()
        return r.status, r.read()


def run_all(workers, items, one):
    """Calls one(item) on a pool; returns (seconds taken, failures)."""
    failures, lock = [], threading.Lock()

    def guarded(item):
        problem = one(item)
        if problem:
            with lock:
                failures.append(problem)

    t0 = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(guarded, items):
            pass
    return time.monotonic() - t0, failures


def report(name, count, took, failures):
    rate = count / took if took else 0
    print("%s %d in %.2f s = %.0f/s%s" % (name, count, took, rate,
          "" if not failures else "; %d FAILED, e.g. %r" % (len(failures), failures[0])))
    return 0 if not failures else 1


def creates(api_url, bootstrap, n, workers, out_ids):
    api, ids, lock = Api(api_url, bootstrap), {}, threading.Lock()

    def one(i):
        d = "w%07d" % i
        body = {"qrType": "WEB", "displayId": d, "qrRedirectUrl": "https://example.com/%s" % d}
        status, data = api.call("POST", "/api/qrs-api", body)
        if status != 201:
            return (d, status, data[:200])
        with lock:
            ids[d] = json.loads(data)["data"]["id"]

    took, failures = run_all(int(workers), range(int(n)), one)
    with open(out_ids, "w") as f:
        for d, qr_id in sorted(ids.items()):
            f.write("%s\t%s\n" % (d, qr_id))
    return report("creates", len(ids), took, failures)


def ids(api_url, bootstrap, n, out_ids):
    """Pages through the team's list (100 a page, by cursor) until N codes are known."""
    api, found, cursor = Api(api_url, bootstrap), [], None
    while len(found) < int(n):
        path = "/api/qrs-api?limit=100" + ("&cursor=" + cursor if cursor else "")
        status, data = api.call("GET", path, None)
        if status != 200:
            print("ids FAILED: the list answered %d %r" % (status, data[:200]))
            return 1
        page = json.loads(data)
        found += [(q["displayId"], q["id"]) for q in page["data"]["qrs"]]
        cursor = page.get("nextCursor")
        if not cursor:
            break
    with open(out_ids, "w") as f:
        for d, qr_id in found[: int(n)]:
            f.write("%s\t%s\n" % (d, qr_id))
    print("ids %d" % min(len(found), int(n)))
    return 0


def read_ids(path):
    return [line.rstrip("\n").split("\t") for line in open(path)]


def updates(api_url, bootstrap, ids_file, n, workers):
    api, codes = Api(api_url, bootstrap), read_ids(ids_file)

    def one(i):
        d, qr_id = codes[i % len(codes)]
        body = {"qrRedirectUrl": "https://example.com/%s/u%d" % (d, i)}
        status, data = api.call("PUT", "/api/qrs-api/" + qr_id, body)
        if status != 200:
            return (d, status, data[:200])

    took, failures = run_all(int(workers), range(int(n)), one)
    return report("updates", int(n), took, failures)


def served_location(conn, display_id):
    conn.request("HEAD", "/" + display_id, headers={"User-Agent": BROWSER})
    r = conn.getresponse()
    r.read()
    return r.getheader("Location")


def propagation(api_url, edge_url, bootstrap, ids_file, n):
    """Per update: from the API's answer to the first edge answer with the new target."""
    api, codes = Api(api_url, bootstrap), read_ids(ids_file)
    edge = http.client.HTTPConnection(*hostport(edge_url), timeout=10)
    waits, late = [], 0
    for i in range(int(n)):
        d, qr_id = codes[i % len(codes)]
        target = "https://example.com/%s/p%d" % (d, i)
        status, data = api.call("PUT", "/api/qrs-api/" + qr_id, {"qrRedirectUrl": target})
        if status != 200:
            print("propagation FAILED: update answered %d %r" % (status, data[:200]))
            return 1
        acked = time.monotonic()
        while served_location(edge, d) != target:
            if time.monotonic() - acked > 10:
                late += 1
                break
        waits.append(time.monotonic() - acked)
    waits.sort()
    pick = lambda q: waits[min(len(waits) - 1, int(q * len(waits)))] * 1000
    print("propagation %d updates: p50 %.2f ms, p99 %.2f ms, max %.2f ms%s"
          % (len(waits), pick(0.5), pick(0.99), waits[-1] * 1000,
             "" if not late else "; %d NOT SERVED within 10 s" % late))
    return 0 if not late else 1


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    sys.exit({"creates": creates, "updates": updates, "propagation": propagation, "ids": ids}[command](*args))

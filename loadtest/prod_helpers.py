"""Helpers of loadtest/cold_start.sh and loadtest/aggregator.sh (the production topology).

Subcommands (stdlib only, except `produce` and `consume`, which need confluent_kafka):
  create API_URL BOOTSTRAP N CONNECTIONS      create codes c0000001..cN through POST /api/qrs-api
  launch READY_FILE STDOUT_FILE STDERR_FILE -- CMD...
                                              start CMD, write "PID SECONDS" to READY_FILE when it
                                              prints its "qredge ready" line (time from spawn)
  phases STDERR_FILE SPAWN_EPOCH               seconds from spawn to the edge's load/serving logs
  check EDGE_URL N SAMPLE                     GET SAMPLE random codes: 302 + exact Location; 404
  produce BROKERS TOPIC N CODES TEAM_ID [IDS_FILE]
                                              N scan events over CODES qrIds, key = qrId (the
                                              qrIds listed in IDS_FILE)
  consume BROKERS TOPIC N                     read N messages with a fresh group: the broker's pace
  poll REDIS_PORT SET PREFIX N SPAWN_EPOCH TIMEOUT INTERVAL
                                              until the summed counts of the codes in SET reach N
  sum REDIS_PORT SET PREFIX [counts|events]   the sum once (events: distinct event ids stored)
"""
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time


def display_id(i, n):
    return "c%0*d" % (max(7, len(str(n))), i)


def hostport(url):
    hp = url.split("//", 1)[1].split("/", 1)[0]
    h, p = hp.rsplit(":", 1)
    return h, int(p)


def read_response(sock, buf):
    """One HTTP/1.1 response with a Content-Length body: (status, headers, body, rest)."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    lines = buf[:end].decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    total = end + 4 + int(headers.get("content-length", "0"))
    while len(buf) < total:
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    return status, headers, buf[end + 4:total], buf[total:]


def create(api_url, bootstrap, n, connections):
    """Codes c0000001..cN -> https://example.com/<displayId>, over CONNECTIONS keep-alive
    connections (one request in flight on each: the API does not set TCP_NODELAY, so pipelined
    requests stall on delayed ACKs)."""
    h, p = hostport(api_url)
    b = json.load(open(bootstrap))
    head = ("POST /api/qrs-api HTTP/1.1\r\nHost: %s:%d\r\nx-request-team-id: %s\r\n"
            "x-request-client-id: %s\r\nx-request-client-secret: %s\r\n"
            "content-type: application/json\r\n" % (h, p, b["teamId"], b["clientId"], b["clientSecret"])).encode()
    created = [0] * connections
    failures = []
    lock = threading.Lock()

    def run(k):
        s = socket.create_connection((h, p))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        for i in range(k + 1, n + 1, connections):
            d = display_id(i, n)
            body = ('{"qrType":"WEB","displayId":"%s","qrRedirectUrl":"https://example.com/%s"}' % (d, d)).encode()
            for attempt in range(5):
                try:
                    s.sendall(head + b"content-length: %d\r\n\r\n" % len(body) + body)
                    status, _, data, buf = read_response(s, buf)
                    break
                except OSError:
                    s.close()
                    if attempt == 4:
                        raise
                    time.sleep(0.2 * (attempt + 1))
                    s = socket.create_connection((h, p))
                    buf = b""
            if status == 201 or (status == 409 and attempt > 0):   # 409 after a retry: ours
                created[k] += 1
            else:
                with lock:
                    failures.append((d, status, data[:200]))
        s.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - t0
    total = sum(created)
    print("created %d of %d codes through the API in %.1f s (%.0f/s, %d connections)%s"
          % (total, n, took, total / took, connections,
             "" if not failures else "; %d FAILED, e.g. %r" % (len(failures), failures[0])))
    return 0 if not failures else 1


def launch(ready_file, stdout_file, stderr_file, cmd):
    """Starts cmd; on its ready line writes "PID SECONDS" (from just before the spawn) to
    ready_file; keeps copying its stdout to stdout_file until it exits."""
    with open(stderr_file, "wb") as err, open(stdout_file, "w") as out:
        wall0, t0 = time.time(), time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                text=True, bufsize=1)
        ready = False
        for line in proc.stdout:
            if not ready and line.startswith("qredge ready"):
                took = time.monotonic() - t0
                with open(ready_file + ".tmp", "w") as f:
                    f.write("%d %.4f %.6f\n" % (proc.pid, took, wall0))
                os.rename(ready_file + ".tmp", ready_file)
                ready = True
            out.write(line)
            out.flush()
        return proc.wait()


def phases(stderr_file, wall0):
    """Seconds from the spawn to the edge's "route table loaded" and "qredge is serving" logs."""
    from datetime import datetime
    out = {}
    for line in open(stderr_file, errors="replace"):
        for name, text in (("loaded", "route table loaded"), ("serving", "qredge is serving")):
            if text in line and name not in out:
                stamp = datetime.fromisoformat(line.split()[0].replace("Z", "+00:00"))
                out[name] = stamp.timestamp() - wall0
    print("%.3f %.3f" % (out.get("loaded", -1), out.get("serving", -1)))
    return 0


def check(edge_url, n, sample):
    h, p = hostport(edge_url)
    rng = random.Random()
    picks = [display_id(rng.randint(1, n), n) for _ in range(sample)]
    s = socket.create_connection((h, p))
    buf, bad = b"", []
    ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    for d in picks + ["no-such-code-xyz"]:
        s.sendall(("GET /%s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: %s\r\n\r\n" % (d, h, p, ua)).encode())
        status, headers, _, buf = read_response(s, buf)
        want = (404, None) if d == "no-such-code-xyz" else (302, "https://example.com/" + d)
        if (status, headers.get("location")) != want:
            bad.append((d, status, headers.get("location")))
    if bad:
        print("check: %d bad answers, e.g. %r" % (len(bad), bad[:3]))
        return 1
    print("check: %d random codes (e.g. %s) answer 302 with the right Location; an unknown code 404"
          % (len(picks), ", ".join(picks[:3])))
    return 0


# Realistic variety: the Lua script's work per code grows with the distinct dimension values.
AGENTS = [
    ("mobile", "Safari", "iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"),
    ("mobile", "Chrome", "Android", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36"),
    ("tablet", "Safari", "iPadOS", "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"),
    ("desktop", "Chrome", "Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"),
    ("desktop", "Firefox", "macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0"),
]
PLACES = [("US", "New York"), ("US", "Chicago"), ("DE", "Berlin"), ("FR", "Paris"), ("GB", "London"),
          ("JP", "Tokyo"), ("BR", "São Paulo"), ("", "")]
REFERRERS = ["", "", "", "https://www.google.com/", "https://t.co/abc", "https://www.facebook.com/"]


def qr_id(i):
    return "qr_LoadTest%012d" % i


def produce(brokers, topic, n, codes, team_id, ids_file=None):
    from confluent_kafka import Producer
    producer = Producer({
        "bootstrap.servers": brokers,
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": "lz4",   # as qredge's edge produces
        "linger.ms": 5,
        "partitioner": "murmur2_random",   # qredge's: a qrId lands where the edge would put it
        "queue.buffering.max.messages": 500000,
    })
    failed = [0]
    delivered = [0]

    def report(err, _msg):
        if err is not None:
            failed[0] += 1
        else:
            delivered[0] += 1

    if ids_file:
        with open(ids_file, "w") as f:
            for q in range(codes):
                f.write(qr_id(q) + "\n")
    rng = random.Random(1)
    t0 = time.monotonic()
    for i in range(n):
        q = rng.randrange(codes)
        device, browser, os_, ua = AGENTS[rng.randrange(len(AGENTS))]
        country, city = PLACES[rng.randrange(len(PLACES))]
        event = {
            "eventId": "%032x" % random.getrandbits(128),
            "qrId": qr_id(q),
            "teamId": team_id,
            "displayId": "h%06d" % q,
            "scanTime": int(time.time() * 1000),
            "device": device,
            "browser": browser,
            "os": os_,
            "country": country,
            "city": city,
            "ipAddress": "10.%d.%d.%d" % (rng.randrange(4), rng.randrange(256), rng.randrange(1, 255)),
            "referrer": REFERRERS[rng.randrange(len(REFERRERS))],
            "userAgent": ua,
            "bot": False,
        }
        key = event["qrId"].encode()
        value = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
        while True:
            try:
                producer.produce(topic, key=key, value=value, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    left = producer.flush(300)
    took = time.monotonic() - t0
    print("produced %d events (%d delivered, %d failed, %d unflushed) over %d qrIds in %.1f s (%.0f/s)"
          % (n, delivered[0], failed[0], left, codes, took, n / took))
    return 0 if delivered[0] == n else 1


def consume(brokers, topic, n):
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": brokers, "group.id": "loadtest-read-%d" % os.getpid(),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    got, t0, first = 0, time.monotonic(), None
    while got < n and time.monotonic() - t0 < 600:
        msgs = c.consume(10000, 1.0)
        for m in msgs:
            if m.error() is None:
                if first is None:
                    first = time.monotonic()
                got += 1
    end = time.monotonic()
    c.close()
    print("%d %.2f %.2f" % (got, end - t0, (end - first) if first else 0))
    return 0 if got >= n else 1


# Sums the counters of every code listed in the set KEYS[1]: ARGV[1] is the key prefix; with
# ARGV[2] == "events" it sums the sizes of the codes' event sets (= distinct event ids) instead.
SUM_LUA = """
local s = 0
for _, q in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if ARGV[2] == 'events' then
    s = s + redis.call('ZCARD', ARGV[1] .. 'qr:' .. q .. ':events')
  else
    -- HGET, not HMGET: the aggregator's script uses HMGET, and aggregator.sh reports its share
    local k = ARGV[1] .. 'qr:' .. q .. ':counts'
    s = s + tonumber(redis.call('HGET', k, 'total') or '0') + tonumber(redis.call('HGET', k, 'bots') or '0')
  end
end
return s
"""


class Resp:
    """Just enough of a Redis client: commands in, integer/bulk/status replies out."""
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self.reply()

    def reply(self):
        line = self.file.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind == b":":
            return int(rest)
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)[:-2]
            return data.decode()
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise RuntimeError("unexpected reply %r" % line)


def count_sum(port, set_key, prefix, what="counts"):
    return Resp(port).call("EVAL", SUM_LUA, 1, set_key, prefix, what)


def poll(port, set_key, prefix, n, spawn_epoch, timeout, interval):
    """Polls the sum of counts until it reaches n: prints seconds after the spawn when it first
    moved, passed 10/50/90 % and reached n (-1: never), and the sum then."""
    r = Resp(port)
    marks = {"first": None, "10": None, "50": None, "90": None, "done": None}
    total = 0
    while time.time() - spawn_epoch < timeout:
        total = r.call("EVAL", SUM_LUA, 1, set_key, prefix, "counts")
        now = time.time() - spawn_epoch
        for name, frac in (("first", 1e-12), ("10", 0.1), ("50", 0.5), ("90", 0.9), ("done", 1.0)):
            if marks[name] is None and total >= frac * n:
                marks[name] = now
        if total >= n:
            break
        time.sleep(interval)
    print(" ".join("%.3f" % (marks[k] if marks[k] is not None else -1)
                   for k in ("first", "10", "50", "90", "done")), total)
    return 0


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "create":
        rc = create(args[0], args[1], int(args[2]), int(args[3]))
    elif cmd == "launch":
        assert args[3] == "--"
        rc = launch(args[0], args[1], args[2], args[4:])
    elif cmd == "phases":
        rc = phases(args[0], float(args[1]))
    elif cmd == "check":
        rc = check(args[0], int(args[1]), int(args[2]))
    elif cmd == "produce":
        rc = produce(args[0], args[1], int(args[2]), int(args[3]), args[4], args[5] if len(args) > 5 else None)
    elif cmd == "poll":
        rc = poll(int(args[0]), args[1], args[2], int(args[3]), float(args[4]), float(args[5]), float(args[6]))
    elif cmd == "sum":
        print(count_sum(int(args[0]), args[1], args[2], args[3] if len(args) > 3 else "counts")); rc = 0
    elif cmd == "consume":
        rc = consume(args[0], args[1], int(args[2]))
    else:
        raise SystemExit("unknown command " + cmd)
    sys.exit(rc)

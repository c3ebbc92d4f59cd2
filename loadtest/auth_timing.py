#!/usr/bin/env python3
"""How long the API takes to refuse a credential: an unknown client id against a known client id
with a wrong secret. Both must do the same work (hash the secret and compare), so an attacker
cannot tell which client ids exist by timing.

    loadtest/auth_timing.py [PATH_TO_QREDGE] [ROUNDS]

Starts `qredge serve` on the embedded store in a temporary directory (loopback ports only),
sends ROUNDS (default 20000) refused requests of each kind, alternating on one keep-alive
connection (so that both kinds meet the same connection, task and load), and prints the median and the mean of the fastest 90% per kind, in µs.
"""
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/qredge"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        env = dict(os.environ, QREDGE_DATA_DIR=data, QREDGE_API_LISTEN=f"127.0.0.1:{port}",
                   QREDGE_EDGE_LISTEN="127.0.0.1:0", RUST_LOG="warn")
        server = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL)
        try:
            boot = os.path.join(data, "bootstrap.json")
            for _ in range(300):
                if os.path.exists(boot):
                    try:
                        creds = json.load(open(boot))
                        conn = http.client.HTTPConnection("127.0.0.1", port)
                        conn.request("GET", "/healthz")
                        conn.getresponse().read()
                        break
                    except (OSError, ValueError):
                        pass
                time.sleep(0.1)
            else:
                sys.exit("qredge did not start")
            kinds = {
                "unknown client id": "cli_doesnotexist00000000",
                "known id, wrong secret": creds["clientId"],
            }
            conn = http.client.HTTPConnection("127.0.0.1", port)
            times = {k: [] for k in kinds}
            for i in range(rounds + 500):
                for kind, client_id in kinds.items():
                    headers = {"x-request-team-id": creds["teamId"],
                               "x-request-client-id": client_id,
                               "x-request-client-secret": "qsk_wrongsecretwrongsecretwrong"}
                    start = time.perf_counter_ns()
                    conn.request("GET", "/api/qrs-api", headers=headers)
                    response = conn.getresponse()
                    response.read()
                    elapsed = time.perf_counter_ns() - start
                    assert response.status == 401, response.status
                    if i >= 500:  # warm-up
                        times[kind].append(elapsed / 1000)
            for kind, samples in times.items():
                samples.sort()
                fastest = samples[: len(samples) * 9 // 10]
                print(f"{kind:24} median {statistics.median(samples):7.1f} µs   "
                      f"mean of fastest 90% {statistics.mean(fastest):7.1f} µs   n={len(samples)}")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()

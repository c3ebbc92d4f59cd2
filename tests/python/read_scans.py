#!/usr/bin/env python3
"""Reads qredge's scans topic with a real Kafka client (confluent-kafka) and checks every event.

Used by tests/it/kafka_python.rs, runnable by hand too:

    python tests/python/read_scans.py --brokers 127.0.0.1:9092 --topic qredge.scans --count 10

A consumer in a fresh group (auto.offset.reset=earliest) reads the topic until it has --count
messages, then goes on for --settle seconds to catch any extra (a duplicate would show there).
Every message is checked against the schema in docs/events.md: the value is a JSON object with
exactly the documented fields and types, the key is the value's qrId, the timestamp is its
scanTime, and the partition is the one the Java client's murmur2 partitioner picks for the key.

On success it prints one JSON object on stdout, {"count": N, "partitions": P, "events": [...]},
each event {"partition", "offset", "key", "timestamp", "timestampType", "value"}, and exits 0.
Otherwise it prints what was wrong on stderr and exits 1 (bad events or too few before
--timeout) or 2 (bad arguments). Only the standard library besides confluent_kafka.
"""

import argparse
import importlib.metadata
import ipaddress
import json
import re
import sys
import time
import uuid

try:
    import confluent_kafka
    from confluent_kafka import Consumer, KafkaError, TIMESTAMP_CREATE_TIME
except ImportError as e:  # the harness installs it; never a silent skip
    sys.exit(f"read_scans.py: cannot import confluent_kafka ({e}): run through scripts/test.sh")

# The schema: field -> JSON type. Must match src/model/scan.rs (ScanEvent) and docs/events.md.
STRING, INTEGER, BOOLEAN = "string", "integer", "boolean"
FIELDS = {
    "eventId": STRING,
    "qrId": STRING,
    "teamId": STRING,
    "displayId": STRING,
    "scanTime": INTEGER,
    "device": STRING,
    "browser": STRING,
    "os": STRING,
    "country": STRING,
    "city": STRING,
    "ipAddress": STRING,
    "referrer": STRING,
    "userAgent": STRING,
    "bot": BOOLEAN,
    "head": BOOLEAN,
    "orphan": BOOLEAN,
}
DEVICES = {"mobile", "tablet", "desktop", "bot", "other"}
EVENT_ID = re.compile(r"[0-9a-f]{32}")
COUNTRY = re.compile(r"(?:[A-Z]{2})?")
# scanTime must be epoch milliseconds: after 2020-01-01 and at most a day ahead of this clock.
EARLIEST_MS = 1_577_836_800_000
AHEAD_MS = 24 * 3600 * 1000


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as an unsigned 32-bit int."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail, rest = length & ~3, length % 4
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


# Kafka's own test vectors (UtilsTest.testMurmur2), as signed Java ints.
for _text, _java in [("21", -973932308), ("foobar", -790332482), ("abc", 479470107),
                     ("a-little-bit-long-string", -985981536),
                     ("a-little-bit-longer-string", -1486304829),
                     ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971)]:
    assert murmur2(_text.encode()) == _java & 0xFFFFFFFF, _text


def java_partition(key: bytes, partitions: int) -> int:
    """The partition the Java client's default partitioner (and librdkafka's murmur2) picks."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def json_type(value) -> str:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, str):
        return STRING
    return type(value).__name__


def no_duplicate_keys(pairs):
    seen = {}
    for name, value in pairs:
        if name in seen:
            raise ValueError(f"duplicate field {name!r}")
        seen[name] = value
    return seen


def reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def check(msg, partitions: int, now_ms: int) -> list:
    """The problems with one message (empty: it is a well-formed scan event)."""
    where = f"partition {msg.partition()} offset {msg.offset()}"
    raw = msg.value()
    if raw is None:
        return [f"{where}: no value"]
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicate_keys,
                           parse_constant=reject_constant)
    except ValueError as e:  # includes UnicodeDecodeError and json.JSONDecodeError
        return [f"{where}: the value is not UTF-8 JSON ({e}): {raw[:200]!r}"]
    if not isinstance(value, dict):
        return [f"{where}: the value is not a JSON object: {value!r}"]

    problems = []
    missing = sorted(set(FIELDS) - set(value))
    extra = sorted(set(value) - set(FIELDS))
    if missing:
        problems.append(f"missing fields {missing}")
    if extra:
        problems.append(f"undocumented fields {extra}")
    for name, want in FIELDS.items():
        if name in value and json_type(value[name]) != want:
            problems.append(f"{name} is {json_type(value[name])} {value[name]!r}, not {want}")
    if problems:
        return [f"{where}: {p}" for p in problems]

    if not EVENT_ID.fullmatch(value["eventId"]):
        problems.append(f"eventId {value['eventId']!r} is not 32 lower-case hex digits")
    for name in ("qrId", "teamId", "displayId"):
        if not value[name]:
            problems.append(f"{name} is empty")
    scan_time = value["scanTime"]
    if not EARLIEST_MS <= scan_time <= now_ms + AHEAD_MS:
        problems.append(f"scanTime {scan_time} is not epoch milliseconds of a plausible time")
    if value["device"] not in DEVICES:
        problems.append(f"device {value['device']!r} is not one of {sorted(DEVICES)}")
    if value["bot"] != (value["device"] == "bot"):
        problems.append(f"bot is {value['bot']} but device is {value['device']!r}")
    if not COUNTRY.fullmatch(value["country"]):
        problems.append(f"country {value['country']!r} is not ISO 3166-1 alpha-2 or empty")
    try:
        ipaddress.ip_address(value["ipAddress"])
    except ValueError:
        problems.append(f"ipAddress {value['ipAddress']!r} is not an IP address")

    key = msg.key()
    if key != value["qrId"].encode("utf-8"):
        problems.append(f"key {key!r} is not the qrId {value['qrId']!r}")
    ts_type, ts = msg.timestamp()
    if ts_type != TIMESTAMP_CREATE_TIME:
        problems.append(f"timestamp type {ts_type} is not CreateTime ({TIMESTAMP_CREATE_TIME})")
    if ts != scan_time:
        problems.append(f"timestamp {ts} is not scanTime {scan_time}")
    if key is not None and msg.partition() != java_partition(key, partitions):
        problems.append(f"partition {msg.partition()} is not murmur2's "
                        f"{java_partition(key, partitions)} of {partitions} for key {key!r}")
    if msg.headers():
        problems.append(f"unexpected headers {msg.headers()!r}")
    return [f"{where}: {p}" for p in problems]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", required=True, help="bootstrap servers, host:port[,...]")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, required=True, help="messages to wait for")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for --count messages (default 60)")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds to keep reading after --count, for extras (default 2)")
    args = parser.parse_args()
    if args.count < 1:
        parser.error("--count must be at least 1")

    group = f"qredge-read-scans-{uuid.uuid4().hex}"
    consumer = Consumer({
        "bootstrap.servers": args.brokers,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "client.id": "qredge-read-scans",
    })
    started = time.monotonic()
    try:
        metadata = consumer.list_topics(args.topic, timeout=min(args.timeout, 30))
        topic = metadata.topics.get(args.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            print(f"read_scans.py: topic {args.topic!r} not found on {args.brokers}: "
                  f"{topic.error if topic else 'absent from the metadata'}", file=sys.stderr)
            return 1
        partitions = len(topic.partitions)
        consumer.subscribe([args.topic])

        messages, errors = [], []
        deadline = started + args.timeout
        settle_until = None
        while True:
            now = time.monotonic()
            if settle_until is None and len(messages) >= args.count:
                settle_until = now + args.settle
            if (settle_until is not None and now >= settle_until) or \
                    (settle_until is None and now >= deadline):
                break
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                error = msg.error()
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                if error.fatal() or not error.retriable():
                    errors.append(str(error))
                print(f"read_scans.py: consumer error: {error}", file=sys.stderr)
                if error.fatal():
                    break
                continue
            messages.append(msg)
    finally:
        consumer.close()

    now_ms = int(time.time() * 1000)
    problems = [p for msg in messages for p in check(msg, partitions, now_ms)]
    problems += [f"consumer error: {e}" for e in errors]
    if len(messages) < args.count:
        problems.append(f"only {len(messages)} of {args.count} messages within {args.timeout}s")
    if problems:
        for p in problems:
            print(f"read_scans.py: {p}", file=sys.stderr)
        return 1

    summary = {
        "topic": args.topic,
        "group": group,
        "client": f"confluent-kafka {importlib.metadata.version('confluent-kafka')} "
                  f"(librdkafka {confluent_kafka.libversion()[0]})",
        "partitions": partitions,
        "count": len(messages),
        "elapsedMs": int((time.monotonic() - started) * 1000),
        "events": [
            {
                "partition": msg.partition(),
                "offset": msg.offset(),
                "key": msg.key().decode("utf-8"),
                "timestamp": msg.timestamp()[1],
                "timestampType": msg.timestamp()[0],
                "value": json.loads(msg.value()),
            }
            for msg in messages
        ],
    }
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

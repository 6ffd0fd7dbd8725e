#!/usr/bin/env python3
"""Reproduction 2: Tansu slows down as a partition fills with record batches.

Independent of DemoSync's Swift wrapper and of librdkafka: the client is kafka-python (pure Python),
and a raw wire client in common.py times single requests with no library between.

On a fresh broker and a fresh 1-partition topic, ROUNDS rounds of request-reply-like work: a
producer sends N small records, one record per produce request (linger 0, each send waited for
before the next, so every record is a batch of its own), while a live consumer (no group, assigned,
long-polling) reads them back. Per round: end-to-end records/s (first send to last record
consumed), produce-only records/s, produce ack latency, and the broker process's CPU seconds
(utime+stime from /proc/<pid>/stat) per 1000 records. After each round, with only the idle
consumer's long poll running: the broker's idle CPU, and the time of single raw requests against
the grown partition (ListOffsets latest; Fetch of the last record with max_wait 100 ms, and how
often the same fetch with max_wait 1 ms comes back empty; Fetch at the end with max_wait 1 ms).

Usage: .deps/bench-venv/bin/python bench/reproductions/tansu_fetch_growth.py [--rounds 6] [--records 3000]
Exit status: 0 when it ran (whatever it found), 2 when it could not run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time

import common


class LiveConsumer(threading.Thread):
    """kafka-python consumer (no group) on partition 0 from offset 0, polling until stopped;
    counts what it received."""

    def __init__(self, bootstrap: str, topic: str, fetch_wait_ms: int):
        super().__init__(daemon=True, name="live-consumer")
        from kafka import KafkaConsumer, TopicPartition  # noqa: PLC0415

        self.partition = TopicPartition(topic, 0)
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=fetch_wait_ms, fetch_min_bytes=1
        )
        self.consumer.assign([self.partition])
        self.consumer.seek(self.partition, 0)
        self.received = 0
        self.last_offset = -1
        self.error: BaseException | None = None
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                for records in self.consumer.poll(timeout_ms=100).values():
                    with self.lock:
                        self.received += len(records)
                        self.last_offset = records[-1].offset
        except BaseException as error:  # noqa: BLE001
            self.error = error
        finally:
            self.consumer.close()

    def count(self) -> int:
        with self.lock:
            return self.received

    def wait_for(self, total: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count() >= total:
                return True
            if self.error is not None:
                raise common.CannotRun(f"consumer failed: {self.error!r}")
            time.sleep(0.002)
        return False


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


def probe(wire: common.Wire, topic: str, repeats: int, short_waits: list[int], pid: int) -> dict:
    """Single raw requests against the partition as it is now, each kind timed `repeats` times in a
    row (wall-clock median, and the broker's CPU time over the run divided by `repeats`):
    ListOffsets latest; Fetch of the last record (offset HWM-1) with max_wait 100 ms, which answers
    as soon as the broker has found it; the same with each short max_wait, counting empty answers
    (the broker gave up before finding it); Fetch at the end (offset HWM, nothing to return) with
    max_wait 1 ms."""
    _error, high_watermark, _batches = wire.fetch(topic, 0, 0, 100, 1)
    if high_watermark is None:
        raise common.CannotRun("fetch of partition 0 returned no partition")

    def series(call) -> tuple[float, float, list]:
        cpu = common.cpu_seconds(pid)
        samples, results = [], []
        for _ in range(repeats):
            ms, result = common.timed(call)
            samples.append(ms)
            results.append(result)
        return median_ms(samples), (common.cpu_seconds(pid) - cpu) * 1000 / repeats, results

    list_ms, list_cpu, _ = series(lambda: wire.list_offsets(topic, 0, -1))
    last_ms, last_cpu, answers = series(lambda: wire.fetch(topic, 0, high_watermark - 1, 100))
    if not all(batches for _error, _hwm, batches in answers):
        raise common.CannotRun("fetch of the last record (max_wait 100 ms) returned no batch")
    short_empty = {}
    for wait in short_waits:
        _ms, _cpu, answers = series(lambda wait=wait: wire.fetch(topic, 0, high_watermark - 1, wait))
        short_empty[wait] = f"{sum(1 for _error, _hwm, batches in answers if not batches)}/{repeats}"
    end_ms, _cpu, _ = series(lambda: wire.fetch(topic, 0, high_watermark, 1))
    _error, latest = wire.list_offsets(topic, 0, -1)
    return {
        "hwm": high_watermark,
        "latest": latest,
        "list_offsets_ms": list_ms,
        "list_offsets_cpu_ms": list_cpu,
        "fetch_last_ms": last_ms,
        "fetch_last_cpu_ms": last_cpu,
        "fetch_last_short_empty": short_empty,
        "fetch_end_ms": end_ms,
    }


def short_wait_reader(bootstrap: str, topic: str, start: int, wait_ms: int, seconds: float) -> int:
    """Records a fresh kafka-python consumer with fetch_max_wait_ms=`wait_ms`, assigned and seeked
    to `start`, receives within `seconds`."""
    from kafka import KafkaConsumer, TopicPartition  # noqa: PLC0415

    partition = TopicPartition(topic, 0)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=wait_ms)
    try:
        consumer.assign([partition])
        consumer.seek(partition, start)
        received, deadline = 0, time.monotonic() + seconds
        while time.monotonic() < deadline:
            received += sum(len(records) for records in consumer.poll(timeout_ms=100).values())
        return received
    finally:
        consumer.close()


def wake_up_probe(wire: common.Wire, producer, topic: str) -> dict:
    """Does the broker answer a waiting fetch when data arrives, or only when max_wait expires?
    kafka-python produces one record (warm-up, offset 0); then a raw Fetch at offset 1 (the empty
    end) with max_wait 500 ms, while kafka-python produces one more record 50 ms after it was sent."""
    producer.send(topic, value=b"warm-up", partition=0).get(timeout=10)
    acked = {}

    def send_one() -> None:
        producer.send(topic, value=b"wake", partition=0).get(timeout=10)
        acked["at"] = time.perf_counter()

    sender = threading.Timer(0.05, send_one)
    started = time.perf_counter()
    sender.start()
    ms, (_error, _hwm, batches) = common.timed(wire.fetch, topic, 0, 1, 500)
    sender.join()
    return {"ms": ms, "acked_ms": (acked.get("at", float("nan")) - started) * 1000, "records": len(batches)}


def run(args) -> list[dict]:
    from kafka import KafkaProducer  # noqa: PLC0415

    broker = common.BrokerOnly(common.log_dir("repro-fetch-growth"))
    consumer = None
    producer = None
    wire = None
    rounds: list[dict] = []
    try:
        process = broker.broker()
        bootstrap = f"127.0.0.1:{process.port}"
        topic = "growth"
        common.create_topic(bootstrap, topic)
        producer = KafkaProducer(
            bootstrap_servers=bootstrap, acks=1, linger_ms=0, max_in_flight_requests_per_connection=1, enable_idempotence=False, retries=0
        )
        if not args.no_consumer:
            consumer = LiveConsumer(bootstrap, topic, args.fetch_wait_ms)
            consumer.start()
        wire = common.Wire(process.port)
        wake = wake_up_probe(wire, producer, topic)
        print(
            f"long poll: a fetch at the end with max_wait 500 ms answered after {wake['ms']:.0f} ms with {wake['records']} batch(es); "
            f"the record it waited for was produced 50 ms and acked {wake['acked_ms']:.0f} ms after the fetch was sent",
            flush=True,
        )
        payload = b"x" * args.size
        started_all = time.monotonic()
        total = 2  # the wake-up probe's two records
        print(
            f"rounds of {args.records} records ({args.size}-byte values), one record per produce request; "
            + ("NO consumer (produce only)" if args.no_consumer else f"live consumer fetch_max_wait_ms={args.fetch_wait_ms}"),
            flush=True,
        )
        for number in range(1, args.rounds + 1):
            if number > 1 and time.monotonic() - started_all > args.max_seconds:
                print(f"(stopping after {number - 1} rounds: --max-seconds {args.max_seconds} reached)", flush=True)
                break
            cpu_start = common.cpu_seconds(process.pid)
            t_start = time.perf_counter()
            acks = []
            for _ in range(args.records):
                sent = time.perf_counter()
                producer.send(topic, value=payload, partition=0).get(timeout=30)
                acks.append((time.perf_counter() - sent) * 1000)
            t_produced = time.perf_counter()
            total += args.records
            if consumer is not None and not consumer.wait_for(total, 120):
                raise common.CannotRun(f"round {number}: the consumer got {consumer.count()} of {total} records in 120 s")
            t_end = time.perf_counter()
            cpu_end = common.cpu_seconds(process.pid)
            # idle: only the live consumer's long poll runs
            idle_cpu_start, idle_t = common.cpu_seconds(process.pid), time.perf_counter()
            time.sleep(args.idle_seconds)
            idle_cpu = (common.cpu_seconds(process.pid) - idle_cpu_start) / (time.perf_counter() - idle_t)
            probed = probe(wire, topic, args.probe_repeats, args.short_waits, process.pid)
            if not process.alive():
                raise common.CannotRun(f"the broker exited:\n{process.log_tail()}")
            acks.sort()
            row = {
                "round": number,
                "stored": total,
                "e2e_rps": args.records / (t_end - t_start),
                "produce_rps": args.records / (t_produced - t_start),
                "ack_p50": acks[len(acks) // 2],
                "ack_p99": acks[int(len(acks) * 0.99)],
                "cpu_per_1000": (cpu_end - cpu_start) / (args.records / 1000),
                "idle_cpu_pct": idle_cpu * 100,
                **probed,
            }
            rounds.append(row)
            print(
                f"  round {number}: {row['e2e_rps']:.0f} records/s, broker {row['cpu_per_1000']:.3f} CPU s/1000 records, "
                f"fetch of last record {row['fetch_last_ms']:.2f} ms",
                flush=True,
            )
        if args.reader_check:
            start = max(total - 100, 0)
            print(f"fresh kafka-python readers seeked to offset {start} of {total} (100 records to read), {args.reader_seconds:.0f} s each:", flush=True)
            for wait in args.reader_waits:
                got = short_wait_reader(bootstrap, topic, start, wait, args.reader_seconds)
                line = f"fresh reader at offset {start} of {total}, fetch_max_wait_ms={wait:>4}: received {got} of 100 in {args.reader_seconds:.0f} s"
                rounds[-1].setdefault("readers", []).append(line)
                print("  " + line, flush=True)
        return rounds
    finally:
        if wire is not None:
            wire.close()
        if consumer is not None:
            consumer.stopping.set()
            consumer.join(timeout=10)
        if producer is not None:
            producer.close(timeout=10)
        broker.teardown()


def table(rounds: list[dict], short_waits: list[int]) -> list[str]:
    first = rounds[0]
    columns = [
        ("round", lambda r: f"{r['round']}"),
        ("batches stored", lambda r: f"{r['stored']}"),
        ("e2e rec/s", lambda r: f"{r['e2e_rps']:.0f}"),
        ("vs r1", lambda r: f"{r['e2e_rps'] / first['e2e_rps']:.2f}"),
        ("produce rec/s", lambda r: f"{r['produce_rps']:.0f}"),
        ("ack p50 ms", lambda r: f"{r['ack_p50']:.2f}"),
        ("ack p99 ms", lambda r: f"{r['ack_p99']:.2f}"),
        ("broker CPU s/1000 rec", lambda r: f"{r['cpu_per_1000']:.3f}"),
        ("vs r1", lambda r: f"{r['cpu_per_1000'] / first['cpu_per_1000']:.2f}"),
        ("idle broker CPU %", lambda r: f"{r['idle_cpu_pct']:.1f}"),
        ("ListOffsets ms", lambda r: f"{r['list_offsets_ms']:.2f}"),
        ("  its CPU ms", lambda r: f"{r['list_offsets_cpu_ms']:.2f}"),
        ("fetch last rec ms", lambda r: f"{r['fetch_last_ms']:.2f}"),
        ("  its CPU ms", lambda r: f"{r['fetch_last_cpu_ms']:.2f}"),
        *[(f"same, wait {wait}ms: empty", lambda r, wait=wait: r["fetch_last_short_empty"][wait]) for wait in short_waits],
        ("fetch @end wait 1ms: ms", lambda r: f"{r['fetch_end_ms']:.2f}"),
        ("HWM / ListOffsets", lambda r: f"{r['hwm']}/{r['latest']}"),
    ]
    cells = [[getter(r) for _, getter in columns] for r in rounds]
    widths = [max(len(name), *(len(row[i]) for row in cells)) for i, (name, _) in enumerate(columns)]
    lines = [" | ".join(f"{name:>{widths[i]}}" for i, (name, _) in enumerate(columns))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(f"{cell:>{widths[i]}}" for i, cell in enumerate(row)) for row in cells]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--records", type=int, default=3000, help="records per round (one per produce request)")
    parser.add_argument("--size", type=int, default=100, help="value size in bytes")
    parser.add_argument("--fetch-wait-ms", type=int, default=100, help="the live consumer's fetch_max_wait_ms")
    parser.add_argument("--idle-seconds", type=float, default=1.0, help="idle broker CPU measured over this long after each round")
    parser.add_argument("--probe-repeats", type=int, default=20, help="each single raw request timed this many times (median)")
    parser.add_argument("--short-waits", type=lambda text: [int(x) for x in text.split(",")], default=[1, 5],
                        help="max_wait_ms values (comma-separated) for the fetch-of-the-last-record emptiness probe; "
                        "5 is fetch.wait.max.ms of our `local` client profile")
    parser.add_argument("--reader-waits", type=lambda text: [int(x) for x in text.split(",")], default=[5, 100],
                        help="after the last round, fresh readers with these fetch_max_wait_ms read the last 100 records")
    parser.add_argument("--reader-seconds", type=float, default=3.0)
    parser.add_argument("--no-reader-check", dest="reader_check", action="store_false")
    parser.add_argument("--no-consumer", action="store_true", help="no live consumer: produce only (attributes the broker CPU)")
    parser.add_argument("--max-seconds", type=float, default=100.0, help="start no new round after this long")
    args = parser.parse_args()
    rounds, status = common.run_reproduction("Tansu reproduction 2: throughput and broker CPU as a partition fills", lambda: run(args))
    if status is not None:
        return status
    if not rounds:
        print("COULD NOT RUN: no round completed", file=sys.stderr)
        return 2
    out = [""] + table(rounds, args.short_waits) + [""]
    first, last = rounds[0], rounds[-1]
    out.append(
        f"round {last['round']} vs round 1: end-to-end throughput x{last['e2e_rps'] / first['e2e_rps']:.2f}, "
        f"broker CPU per record x{last['cpu_per_1000'] / first['cpu_per_1000']:.2f}, "
        f"fetch of the last record x{last['fetch_last_ms'] / first['fetch_last_ms']:.2f} "
        f"(broker CPU per fetch x{last['fetch_last_cpu_ms'] / max(first['fetch_last_cpu_ms'], 1e-9):.2f}), "
        f"ListOffsets x{last['list_offsets_ms'] / first['list_offsets_ms']:.2f}"
    )
    out += last.get("readers", [])
    out.append("(probe columns: medians of single raw requests on one connection, taken after the round with only the idle consumer running;")
    out.append(" 'its CPU ms' = the broker's utime+stime over that series of requests / their number (CLK_TCK resolution, so coarse);")
    out.append(" 'fetch last rec' = Fetch v4 at offset HWM-1 with max_wait 100 ms, answered as soon as the broker found the record;")
    out.append(" 'same, wait N ms: empty' = how many of the same fetches with max_wait N ms came back with no record at all)")
    common.print_lines(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

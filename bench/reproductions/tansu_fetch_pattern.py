#!/usr/bin/env python3
"""Reproduction 4: the product's fetch pattern alone, on a broker filled the way a growth run fills it.

Independent of DemoSync's Swift wrapper and of librdkafka: kafka-python fills the topics, and the raw
wire client in common.py sends the fetches, with no library between.

Growth runs (docs/benchmarks.md) slow down while the broker's CPU per capture rises four- to
fivefold. This replays what the product's consumers ask of the broker under load, and nothing
else, at the fill levels a growth run passes through: no producer, no HTTP, no `serve` or
`simulate` while it is measured.

A fresh broker, a 1-partition request topic and a 3-partition reply topic (the `local` profile's
layout). The topics are filled in steps with record batches of `--records-per-batch` records (20:
a growth run's request batches averaged 20.6 records, its reply batches 25), as many reply batches
as request batches, spread over the reply partitions. After each step, for `--seconds`:

- request fetches at `--request-fetches` per second (the processor's consumer and the API's request
  observer together: 120 + 60 measured at 64 connections), each from the last record's offset, so
  that the broker finds data, as it does for every fetch under load;
- reply fetches at `--reply-fetches` per second (the API's reply consumer: 245 fetches a second at
  64 connections, about 1.3 of its 3 partitions with data in each), one partition per fetch, in turn;

and then the same fetches from the end of each partition (nothing new to return), the control. The
broker's CPU per second in both, and the fetch rates reached.

Usage: .deps/bench-venv/bin/python bench/reproductions/tansu_fetch_pattern.py [--steps 500,1500,3000,4500]
Exit status: 0 when it ran (whatever it found), 2 when it could not run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time

import common

REQUESTS, REPLIES, REPLY_PARTITIONS = "repro-requests", "repro-replies", 3


class Filler:
    """kafka-python producer that writes whole batches: `count` records to one partition, then a
    flush, so that each flush is one batch per partition written."""

    def __init__(self, bootstrap: str, record_size: int):
        from kafka import KafkaProducer  # noqa: PLC0415

        self.producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=10_000, batch_size=1 << 20, acks=1)
        self.value = b"x" * record_size
        self.ends = {(REQUESTS, 0): 0, **{(REPLIES, p): 0 for p in range(REPLY_PARTITIONS)}}
        self.batches = 0

    def add(self, batches: int, records_per_batch: int) -> None:
        for _ in range(batches):
            reply_partition = self.batches % REPLY_PARTITIONS
            futures = {}
            for topic, partition in ((REQUESTS, 0), (REPLIES, reply_partition)):
                for _ in range(records_per_batch):
                    futures[(topic, partition)] = self.producer.send(topic, self.value, partition=partition)
            self.producer.flush()
            for key, future in futures.items():
                self.ends[key] = future.get(timeout=30).offset + 1
            self.batches += 1

    def close(self) -> None:
        self.producer.close()


class FetchStream(threading.Thread):
    """Raw fetches of `partitions` (in turn) at `rate` per second, from `offset_of(partition)`."""

    def __init__(self, port: int, topic: str, partitions: list[int], rate: float, offset_of, until: float):
        super().__init__(daemon=True)
        self.wire = common.Wire(port)
        self.topic, self.partitions, self.rate, self.offset_of, self.until = topic, partitions, rate, offset_of, until
        self.fetches, self.with_data, self.times_ms = 0, 0, []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            interval = 1.0 / self.rate
            next_at = time.monotonic()
            while time.monotonic() < self.until:
                partition = self.partitions[self.fetches % len(self.partitions)]
                started = time.perf_counter()
                _error, _hw, batches = self.wire.fetch(self.topic, partition, self.offset_of(partition), max_wait_ms=5)
                self.times_ms.append(1000 * (time.perf_counter() - started))
                self.fetches += 1
                self.with_data += bool(batches)
                next_at += interval
                pause = next_at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                else:
                    next_at = time.monotonic()  # behind: go on at once, do not make up for it
        except BaseException as error:  # noqa: BLE001
            self.error = error
        finally:
            self.wire.close()


def pattern(port: int, pid: int, args, offset_of) -> dict:
    """Both fetch streams for `args.seconds`: the broker's CPU ms per second and what they reached."""
    until = time.monotonic() + args.seconds
    streams = [
        FetchStream(port, REQUESTS, [0], args.request_fetches, lambda p: offset_of(REQUESTS, p), until),
        FetchStream(port, REPLIES, list(range(REPLY_PARTITIONS)), args.reply_fetches, lambda p: offset_of(REPLIES, p), until),
    ]
    cpu_before, started = common.cpu_seconds(pid), time.monotonic()
    for stream in streams:
        stream.start()
    for stream in streams:
        stream.join()
    elapsed = time.monotonic() - started
    cpu = common.cpu_seconds(pid) - cpu_before
    for stream in streams:
        if stream.error is not None:
            raise common.CannotRun(f"fetch stream failed: {stream.error!r}")
    return {
        "cpu_ms_per_s": 1000 * cpu / elapsed,
        "rates": [s.fetches / elapsed for s in streams],
        "with_data": [s.with_data / max(1, s.fetches) for s in streams],
        "median_ms": [statistics.median(s.times_ms) if s.times_ms else float("nan") for s in streams],
    }


def run(args) -> list[str]:
    broker_stack = common.BrokerOnly(common.log_dir("repro-fetch-pattern"))
    try:
        broker = broker_stack.broker()
        bootstrap = f"127.0.0.1:{broker.port}"
        common.create_topic(bootstrap, REQUESTS, 1)
        common.create_topic(bootstrap, REPLIES, REPLY_PARTITIONS)
        filler = Filler(bootstrap, args.record_size)
        rows = []
        try:
            for step in args.steps:
                filler.add(step - filler.batches, args.records_per_batch)
                time.sleep(1)  # let the fill's own work end before measuring
                last = lambda topic, p: max(0, filler.ends[(topic, p)] - 1)  # noqa: E731
                end = lambda topic, p: filler.ends[(topic, p)]  # noqa: E731
                with_data = pattern(broker.port, broker.pid, args, last)
                at_end = pattern(broker.port, broker.pid, args, end)
                rows.append((filler.batches, with_data, at_end))
                print(f"  {filler.batches} request batches: broker {with_data['cpu_ms_per_s']:.0f} ms/s with data, "
                      f"{at_end['cpu_ms_per_s']:.0f} ms/s at the end", flush=True)
        finally:
            filler.close()
    finally:
        broker_stack.teardown()

    first = rows[0][1]["cpu_ms_per_s"]
    lines = [
        f"fetch pattern: {args.request_fetches:g} request fetches/s (1 partition) + {args.reply_fetches:g} reply fetches/s "
        f"(3 partitions in turn), {args.seconds:g} s per cell; batches of {args.records_per_batch} records of {args.record_size} B",
        "",
        "request batches | reply batches (each partition) | broker CPU ms/s, fetches find data | vs first | "
        "request fetches/s reached | reply fetches/s reached | found data (req, rep) | median fetch ms (req, rep) | "
        "broker CPU ms per fetch | broker CPU ms/s, fetches at the end",
    ]
    for batches, data, end in rows:
        lines.append(
            f"{batches:15d} | {batches // REPLY_PARTITIONS:30d} | {data['cpu_ms_per_s']:34.0f} | {data['cpu_ms_per_s'] / first:8.2f} | "
            f"{data['rates'][0]:25.0f} | {data['rates'][1]:23.0f} | {data['with_data'][0]:.2f}, {data['with_data'][1]:.2f}"
            f"{'':12} | {data['median_ms'][0]:.2f}, {data['median_ms'][1]:.2f}{'':15} | "
            f"{data['cpu_ms_per_s'] / max(1e-9, sum(data['rates'])):23.2f} | {end['cpu_ms_per_s']:.0f}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=lambda s: [int(x) for x in s.split(",")], default=[500, 1500, 3000, 4500],
                        help="request batches stored at each measurement (default 500,1500,3000,4500: a growth run's four runs end near 1,500, 2,700, 3,700 and 4,500)")
    parser.add_argument("--records-per-batch", type=int, default=20)
    parser.add_argument("--record-size", type=int, default=1000, help="bytes per record value (a request record with its headers is about 1 KB)")
    parser.add_argument("--request-fetches", type=float, default=180.0)
    parser.add_argument("--reply-fetches", type=float, default=320.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    return common.run_and_print("Reproduction 4: the product's fetch pattern alone, as the topics fill", lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Reproduction 3: a live reader of Tansu can be answered with a later record batch before an
earlier one is listed; how long the earlier one stays invisible.

Independent of DemoSync's Swift wrapper and of librdkafka: the producers are kafka-python (pure
Python), one process each, all writing one partition of a fresh topic on a fresh broker; the live
reader is the raw wire client in common.py (Fetch v4, no library between), which follows the
partition from offset 0 and never moves past an offset it has not seen. When an answer starts
past the offset it expects (a gap), it fetches at the expected offset again, with the same
max_wait as our `local` profile (5 ms), until the missing batch is there, and records how long
that took and how many fetches. Afterwards a fresh kafka-python consumer reads the partition from
offset 0 and counts every record: the records missing from a live answer were stored.

Why it matters: the broker reserves a batch's offsets (its high watermark moves) before it stores
the batch, so a concurrent producer's later batch can be listed first. A reader that accepts the
later batch moves past the earlier one for good. Our `local` profile re-reads a gap; how long the
re-reading must keep trying is what this measures.

Usage: .deps/bench-venv/bin/python bench/reproductions/tansu_live_gap.py [--producers 8] [--seconds 20]
Exit status: 0 when it ran (whatever it found), 2 when it could not run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time

import common

FETCH_WAIT_MS = 5  # fetch.wait.max.ms of our `local` profile
OUR_REREAD_BUDGET = 5  # re-reads our wrapper makes before accepting a gap (ConsumerCore.maximumGapRereads)


def produce(bootstrap: str, topic: str, seconds: float, size: int, window: int, results) -> None:
    """One producer process: for `seconds`, sends `window` small records, waits for their acks,
    and again (window 1: one record per produce request, as a request-reply client sends)."""
    from kafka import KafkaProducer  # noqa: PLC0415

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=0, enable_idempotence=False, retries=0)
    payload = b"x" * size
    sent, failed = 0, 0
    futures = []

    def settle() -> None:
        nonlocal sent, failed
        for future in futures:
            try:
                future.get(timeout=30)
                sent += 1
            except Exception:  # noqa: BLE001
                failed += 1
        futures.clear()

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        futures.append(producer.send(topic, payload, partition=0))
        if len(futures) >= window:
            settle()
    settle()
    producer.close()
    results.put((sent, failed))


def follow(wire: common.Wire, topic: str, producers: list, expected_total_after) -> dict:
    """Follows partition 0 from offset 0 until the producers are done and the reader has reached
    the end. Returns the gaps seen: for each, its first missing offset, how many offsets were
    missing, the fetches it took to see them, and how long."""
    expected = 0
    gaps: list[dict] = []
    open_gap: dict | None = None
    fetches = 0
    quiet_since: float | None = None
    last_progress = time.monotonic()
    while True:
        error, high_watermark, batches = wire.fetch(topic, 0, expected, max_wait_ms=FETCH_WAIT_MS)
        fetches += 1
        if error not in (None, 0):
            raise common.CannotRun(f"fetch error {error}")
        advanced = False
        for base, last_delta, _count in batches:
            if base < expected:
                continue  # a batch starting before the offset asked for cannot happen here; ignore it
            if base > expected:
                if open_gap is None:
                    open_gap = {"first_missing": expected, "missing": base - expected, "started": time.monotonic(), "fetches": 0}
                open_gap["fetches"] += 1
                break
            if open_gap is not None:
                open_gap["ms"] = (time.monotonic() - open_gap.pop("started")) * 1000
                gaps.append(open_gap)
                open_gap = None
            expected = base + last_delta + 1
            advanced = True
        if advanced:
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > 30:
            break  # no progress for 30 s (a fetch slower than its max_wait comes back empty): reported below
        producing = any(process.is_alive() for process in producers)
        if advanced or producing or open_gap is not None:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 2.0:
            total = expected_total_after()
            if total is not None and expected >= total:
                break
            if time.monotonic() - quiet_since > 30:
                break  # the reader stopped short of the end: reported below
    return {"gaps": gaps, "reached": expected, "fetches": fetches, "open_gap": open_gap}


def fresh_count(bootstrap: str, topic: str, end: int) -> int:
    """Records a fresh kafka-python consumer (no group, assigned, from offset 0) reads."""
    from kafka import KafkaConsumer, TopicPartition  # noqa: PLC0415

    partition = TopicPartition(topic, 0)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=100)
    consumer.assign([partition])
    consumer.seek(partition, 0)
    seen: set[int] = set()
    deadline = time.monotonic() + 60
    quiet = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - quiet < 3:
        for records in consumer.poll(timeout_ms=200).values():
            for record in records:
                seen.add(record.offset)
            quiet = time.monotonic()
        if len(seen) >= end:
            break
    consumer.close()
    return len(seen)


def one_round(process, topic: str, args) -> dict:
    """Producers and the live reader on a fresh topic; then the fresh reader's count."""
    bootstrap = f"127.0.0.1:{process.port}"
    common.create_topic(bootstrap, topic)
    wire = common.Wire(process.port)
    results = multiprocessing.Queue()
    producers = [
        multiprocessing.Process(target=produce, args=(bootstrap, topic, args.seconds, args.size, args.window, results), daemon=True)
        for _ in range(args.producers)
    ]
    finished: list[tuple[int, int]] = []

    def total_after():
        while not results.empty():
            finished.append(results.get())
        if len(finished) < len(producers):
            return None
        return sum(sent for sent, _ in finished)

    try:
        for producer in producers:
            producer.start()
        followed = follow(wire, topic, producers, total_after)
    finally:
        wire.close()
    for producer in producers:
        producer.join(timeout=60)
    total_after()
    sent = sum(s for s, _ in finished)
    followed["sent"] = sent
    followed["failed"] = sum(f for _, f in finished)
    followed["fresh"] = fresh_count(bootstrap, topic, sent)
    return followed


def run(args) -> list[str]:
    broker = common.BrokerOnly(common.log_dir("repro-live-gap"))
    rounds = []
    try:
        process = broker.broker()
        cpu_before = common.cpu_seconds(process.pid)
        for index in range(args.rounds):
            rounds.append(one_round(process, f"live-gap-{index}", args))
            last = rounds[-1]
            print(
                f"round {index + 1}: {last['sent']} records acknowledged ({last['failed']} failed); live reader reached {last['reached']}"
                + ("" if last["open_gap"] is None else f", STOPPED IN A GAP at {last['open_gap']['first_missing']}")
                + f"; fresh reader from 0: {last['fresh']}; gaps {len(last['gaps'])}",
                flush=True,
            )
        broker_cpu = common.cpu_seconds(process.pid) - cpu_before
    finally:
        broker.teardown()

    gaps = [gap for one in rounds for gap in one["gaps"]]
    sent = sum(one["sent"] for one in rounds)
    out = [
        "",
        f"{args.rounds} rounds, each a fresh 1-partition topic: {args.producers} kafka-python producers (acks=1, linger 0, "
        f"{args.window} record(s) at a time, one process each) writing it for {args.seconds:.0f} s; a live raw-wire reader "
        f"following it from offset 0 with max_wait {FETCH_WAIT_MS} ms",
        f"records acknowledged: {sent} (failed sends: {sum(one['failed'] for one in rounds)}); broker CPU {broker_cpu:.1f} s",
        f"live reader: reached {sum(one['reached'] for one in rounds)}; fresh kafka-python readers from offset 0: "
        f"{sum(one['fresh'] for one in rounds)} records",
        f"gaps (a live answer starting past the offset asked for): {len(gaps)}",
    ]
    if gaps:
        ms = sorted(gap["ms"] for gap in gaps)
        tries = sorted(gap["fetches"] for gap in gaps)
        over_budget = sum(1 for gap in gaps if gap["fetches"] > OUR_REREAD_BUDGET)
        out += [
            f"  offsets missing from the live answers: {sum(gap['missing'] for gap in gaps)}; each was then read at its offset by the live reader",
            f"  until the missing batch was listed: median {statistics.median(ms):.1f} ms, max {ms[-1]:.1f} ms; "
            f"fetches at the missing offset: median {statistics.median(tries):.0f}, max {tries[-1]}",
            f"  gaps that needed more than {OUR_REREAD_BUDGET} fetches (a reader giving up after {OUR_REREAD_BUDGET} re-reads loses them): "
            f"{over_budget} of {len(gaps)}",
            "  the 10 longest (first missing offset, offsets missing, fetches, ms): "
            + ", ".join(f"({g['first_missing']}, {g['missing']}, {g['fetches']}, {g['ms']:.0f})" for g in sorted(gaps, key=lambda g: -g["ms"])[:10]),
        ]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--producers", type=int, default=8, help="producer processes writing the one partition at once")
    parser.add_argument("--seconds", type=float, default=6.0, help="how long each producer sends, per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, each on a fresh topic (a partition past about 12,000 batches is "
                        "too slow to fetch within 5 ms: reproduction 2)")
    parser.add_argument("--size", type=int, default=100, help="value size in bytes")
    parser.add_argument("--window", type=int, default=1, help="records each producer sends before waiting for their acks")
    args = parser.parse_args()
    return common.run_and_print("Tansu reproduction 3: a live reader's gaps, and how long they last", lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())

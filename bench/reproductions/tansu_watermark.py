#!/usr/bin/env python3
"""Reproduction 1: Tansu reports the wrong end offset (ListOffsets "latest") for a partition whose
last record batch holds more than one record.

Independent of DemoSync's Swift wrapper and of librdkafka: the client is kafka-python (pure Python),
and a raw wire client in common.py asks the broker the same questions with no library between.

Three cases, each on a fresh broker and a fresh 1-partition topic:
  one-batch     ONE produce request holding ONE record batch of 1000 records
  five-batches  five produce requests, each one batch of 200 records
  control       10 produce requests, each one batch of 1 record (expected correct)
and, on a fourth fresh broker, one produce request carrying one 250-record batch for each of 4
partitions (are all records stored? what end offset per partition?).
For each: the end offset from kafka-python's end_offsets() and from a raw ListOffsets v1, the high
watermark in the Fetch answer, what a fresh consumer (no group, assign, seek 0) reads, the batches
as stored, and what a consumer that starts at the reported end (seek_to_end) receives next.

Usage: .deps/bench-venv/bin/python bench/reproductions/tansu_watermark.py   (or `make reproduce-broker`)
Exit status: 0 when it ran (whatever it found), 2 when it could not run.
"""

from __future__ import annotations

import sys
import time

import common


def produce(bootstrap: str, topic: str, batches: int, per_batch: int) -> dict:
    """Sends `batches` groups of `per_batch` records, each group flushed as one produce request:
    linger 60 s and a 16 MiB batch so nothing leaves before flush(), one request in flight."""
    from kafka import KafkaProducer  # noqa: PLC0415

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks=1,
        linger_ms=60_000,
        batch_size=16 << 20,
        max_request_size=32 << 20,
        max_in_flight_requests_per_connection=1,
        enable_idempotence=False,
        retries=0,
    )
    try:
        metadata = []
        for batch in range(batches):
            futures = [
                producer.send(topic, value=f"b{batch:02d}-r{index:04d}".encode(), partition=0) for index in range(per_batch)
            ]
            producer.flush(timeout=30)
            metadata.extend(future.get(timeout=30) for future in futures)
        metrics = producer.metrics().get("producer-metrics", {})
        return {
            "acked_first": metadata[0].offset,
            "acked_last": metadata[-1].offset,
            "records_per_request_avg": metrics.get("records-per-request-avg"),
        }
    finally:
        producer.close(timeout=10)


def read_all_fresh(bootstrap: str, topic: str, expected: int) -> dict:
    """A fresh consumer (no group): assign partition 0, seek to 0, poll until `expected` records
    arrived or 2 s pass without a new one."""
    from kafka import KafkaConsumer, TopicPartition  # noqa: PLC0415

    partition = TopicPartition(topic, 0)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=100)
    try:
        end_offset = consumer.end_offsets([partition])[partition]
        begin_offset = consumer.beginning_offsets([partition])[partition]
        consumer.assign([partition])
        consumer.seek(partition, 0)
        offsets = drain(consumer, expected)
        return {
            "end_offsets": end_offset,
            "beginning_offsets": begin_offset,
            "count": len(offsets),
            "first": offsets[0] if offsets else None,
            "last": offsets[-1] if offsets else None,
            "contiguous": offsets == list(range(offsets[0], offsets[0] + len(offsets))) if offsets else False,
            "highwater": consumer.highwater(partition),
            "position": consumer.position(partition),
        }
    finally:
        consumer.close()


def read_from_end(bootstrap: str, topic: str) -> dict:
    """A consumer that starts where the broker says the partition ends (seek_to_end, as a consumer
    with auto_offset_reset=latest does): its position, and what it receives in the next 3 s although
    nothing new is produced."""
    from kafka import KafkaConsumer, TopicPartition  # noqa: PLC0415

    partition = TopicPartition(topic, 0)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=100)
    try:
        consumer.assign([partition])
        consumer.seek_to_end(partition)
        start = consumer.position(partition)
        offsets = drain(consumer, None, quiet_s=3.0)
        return {"start": start, "count": len(offsets), "first": offsets[0] if offsets else None, "last": offsets[-1] if offsets else None}
    finally:
        consumer.close()


def drain(consumer, expected: int | None, quiet_s: float = 2.0, limit_s: float = 20.0) -> list[int]:
    offsets: list[int] = []
    started = last_new = time.monotonic()
    while time.monotonic() - last_new < quiet_s and time.monotonic() - started < limit_s:
        for records in consumer.poll(timeout_ms=200).values():
            offsets.extend(record.offset for record in records)
            last_new = time.monotonic()
        if expected is not None and len(offsets) >= expected:
            break
    return offsets


def run_case(name: str, batches: int, per_batch: int) -> dict:
    broker = common.BrokerOnly(common.log_dir(f"repro-watermark-{name}"))
    try:
        process = broker.broker()
        bootstrap = f"127.0.0.1:{process.port}"
        topic = f"watermark-{name}"
        common.create_topic(bootstrap, topic)
        total = batches * per_batch
        produced = produce(bootstrap, topic, batches, per_batch)
        wire = common.Wire(process.port)
        try:
            _error, raw_latest = wire.list_offsets(topic, 0, -1)
            _error, raw_earliest = wire.list_offsets(topic, 0, -2)
            _error, fetch_hwm, stored = wire.fetch(topic, 0, 0)
        finally:
            wire.close()
        fresh = read_all_fresh(bootstrap, topic, total)
        from_end = read_from_end(bootstrap, topic)
        if not process.alive():
            raise common.CannotRun(f"the broker exited during case {name}:\n{process.log_tail()}")
        return {
            "name": name,
            "shape": f"{batches} x {per_batch}",
            "produced": total,
            "produced_info": produced,
            "raw_latest": raw_latest,
            "raw_earliest": raw_earliest,
            "fetch_hwm": fetch_hwm,
            "stored": stored,
            "fresh": fresh,
            "from_end": from_end,
            "log": str(process.log),
        }
    finally:
        broker.teardown()


def run_multi_partition(partitions: int = 4, per_partition: int = 250) -> list[str]:
    """ONE produce request carrying one batch for each of `partitions` partitions: are all the
    records stored (read back from offset 0), and what end offset is reported for each?"""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: PLC0415

    broker = common.BrokerOnly(common.log_dir("repro-watermark-multi-partition"))
    try:
        process = broker.broker()
        bootstrap = f"127.0.0.1:{process.port}"
        topic = "watermark-multi-partition"
        common.create_topic(bootstrap, topic, partitions)
        producer = KafkaProducer(
            bootstrap_servers=bootstrap, acks=1, linger_ms=60_000, batch_size=16 << 20, max_request_size=32 << 20,
            max_in_flight_requests_per_connection=1, enable_idempotence=False, retries=0,
        )
        try:
            futures = [producer.send(topic, value=f"r{i:04d}".encode(), partition=i % partitions) for i in range(partitions * per_partition)]
            producer.flush(timeout=30)
            for future in futures:
                future.get(timeout=30)
            per_request = producer.metrics().get("producer-metrics", {}).get("records-per-request-avg")
        finally:
            producer.close(timeout=10)
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=100)
        try:
            assigned = [TopicPartition(topic, index) for index in range(partitions)]
            consumer.assign(assigned)
            for tp in assigned:
                consumer.seek(tp, 0)
            read: dict[int, int] = {}
            started = last_new = time.monotonic()
            while time.monotonic() - last_new < 2.0 and time.monotonic() - started < 20 and sum(read.values()) < partitions * per_partition:
                for tp, records in consumer.poll(timeout_ms=200).items():
                    read[tp.partition] = read.get(tp.partition, 0) + len(records)
                    last_new = time.monotonic()
        finally:
            consumer.close()
        wire = common.Wire(process.port)
        lines = [
            f"one produce request, {partitions} partitions x {per_partition} records "
            f"(producer records-per-request-avg {per_request:.0f}):"
        ]
        try:
            for index in range(partitions):
                _error, latest = wire.list_offsets(topic, index, -1)
                _error, hwm, stored = wire.fetch(topic, index, 0, 100)
                lines.append(
                    f"  partition {index}: batches stored {batches_text(stored)}; ListOffsets latest {latest}; "
                    f"Fetch high watermark {hwm}; fresh reader @0 read {read.get(index, 0)} of {per_partition}"
                )
        finally:
            wire.close()
        total = sum(read.values())
        lines.append(
            f"  => all {total} of {partitions * per_partition} records stored and readable"
            if total == partitions * per_partition
            else f"  => only {total} of {partitions * per_partition} records read back"
        )
        return lines
    finally:
        broker.teardown()


def batches_text(stored: list[tuple[int, int, int]]) -> str:
    if not stored:
        return "none"
    shown = ", ".join(f"[{base}..{base + delta}]x{count}" for base, delta, count in stored[:3])
    return f"{len(stored)}: {shown}" + (" ..." if len(stored) > 3 else "")


def main() -> int:
    def work():
        results = [run_case("one-batch", 1, 1000), run_case("five-batches", 5, 200), run_case("control", 10, 1)]
        return results, run_multi_partition()

    outcome, status = common.run_reproduction("Tansu reproduction 1: end offset (high watermark) of multi-record batches", work)
    if status is not None:
        return status
    results, multi = outcome

    rows = [
        ("case: produce requests x records each", lambda r: r["shape"]),
        ("records produced (acked)", lambda r: f"{r['produced']} (offsets {r['produced_info']['acked_first']}..{r['produced_info']['acked_last']})"),
        ("producer records-per-request-avg", lambda r: f"{r['produced_info']['records_per_request_avg']:.0f}"),
        ("record batches stored (raw Fetch @0)", lambda r: batches_text(r["stored"])),
        ("END OFFSET kafka-python end_offsets()", lambda r: r["fresh"]["end_offsets"]),
        ("END OFFSET raw ListOffsets v1 latest", lambda r: r["raw_latest"]),
        ("earliest (raw ListOffsets -2)", lambda r: r["raw_earliest"]),
        ("high watermark in Fetch v4 answer", lambda r: r["fetch_hwm"]),
        ("fresh reader @0: records read", lambda r: r["fresh"]["count"]),
        ("fresh reader @0: offsets", lambda r: f"{r['fresh']['first']}..{r['fresh']['last']}" + (" contiguous" if r["fresh"]["contiguous"] else " GAPS")),
        ("fresh reader: consumer.highwater()", lambda r: r["fresh"]["highwater"]),
        ("seek_to_end(): position", lambda r: r["from_end"]["start"]),
        ("then receives (nothing new produced)", lambda r: f"{r['from_end']['count']} records" + (f" ({r['from_end']['first']}..{r['from_end']['last']})" if r["from_end"]["count"] else "")),
        ("correct end offset would be", lambda r: r["produced"]),
    ]
    width = max(len(label) for label, _ in rows)
    cells = [[str(getter(r)) for r in results] for _, getter in rows]
    column = [max(len(row[i]) for row in cells) for i in range(len(results))]
    out = []
    for (label, _), row in zip(rows, cells):
        out.append(f"{label:<{width}} | " + " | ".join(f"{cell:<{column[i]}}" for i, cell in enumerate(row)))
        if label.startswith("case"):
            out.append("-" * width + "-+-" + "-+-".join("-" * c for c in column))
    out.append("")
    for r in results:
        under = r["produced"] - r["raw_latest"]
        if under > 0:
            verdict = (
                f"UNDER-REPORTED by {under}: ListOffsets says {r['raw_latest']}, a reader from 0 gets "
                f"{r['fresh']['count']}; a reader starting at the reported end gets {r['from_end']['count']} old records"
            )
        elif under == 0:
            verdict = "correct"
        else:
            verdict = f"OVER-reported by {-under}"
        out.append(f"{r['name']:<13}: {verdict}")
    out.append("")
    out += multi
    out.append("")
    out.append("broker logs: " + ", ".join(r["log"] for r in results))
    common.print_lines(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

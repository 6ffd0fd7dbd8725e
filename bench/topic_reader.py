"""Reads whole topics back from offset 0 with a fresh kafka-python consumer (no group, explicit
assignment): not our client, so what it counts does not depend on the code under test.

The local broker's ListOffsets end offset is wrong after multi-record batches (it reports the last
batch's first offset + 1, bench/reproductions/README.md), so the end is never taken from it: the
reader polls until no record has arrived for `quiet_s` seconds and its position in every
partition has reached the high watermark of the Fetch answers (consumer.highwater(), which comes
from Fetch and is right), or until no record has arrived for `give_up_s` seconds (then
`caught_up` is False and the shortfall is reported).

Needs kafka-python (`make bench-deps` installs it into .deps/bench-venv).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field


@dataclass
class TopicRecord:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: str | None
    headers: dict[str, str]
    value: dict

    @property
    def transaction_id(self) -> str | None:
        value = self.value.get("transaction_id")
        return value if isinstance(value, str) else None


@dataclass
class TopicRead:
    records: dict[str, list[TopicRecord]] = field(default_factory=dict)
    highwater: dict[str, int | None] = field(default_factory=dict)  # "topic/partition" -> Fetch high watermark
    position: dict[str, int] = field(default_factory=dict)
    gaps: dict[str, int] = field(default_factory=dict)  # offsets skipped between consecutive records read
    caught_up: bool = False
    elapsed_s: float = 0.0
    unparseable: int = 0

    def summary(self) -> dict:
        per_topic = {}
        for topic, records in self.records.items():
            names = [name for name in self.highwater if name.startswith(topic + "/")]
            per_topic[topic] = {
                "records": len(records),
                "fetch_high_watermark_sum": sum(self.highwater[n] or 0 for n in names),
                "partitions": {n: {"read": sum(1 for r in records if f"{r.topic}/{r.partition}" == n),
                                   "fetch_high_watermark": self.highwater[n], "position": self.position.get(n),
                                   "gaps": self.gaps.get(n, 0)} for n in sorted(names, key=lambda n: int(n.rsplit("/", 1)[1]))},
            }
        return {"topics": per_topic, "caught_up_with_fetch_high_watermark": self.caught_up, "elapsed_s": round(self.elapsed_s, 2),
                "unparseable_values": self.unparseable}


def topic_layout(bootstrap: str, topics: list[str]) -> dict[str, int]:
    """How many partitions each topic has, as the broker's metadata says (0 for a missing one)."""
    from kafka import KafkaConsumer  # noqa: PLC0415  (bench venv only)

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        return {topic: len(consumer.partitions_for_topic(topic) or ()) for topic in topics}
    finally:
        consumer.close()


def read_topics(bootstrap: str, topics: list[str], quiet_s: float = 3.0, give_up_s: float = 15.0, budget_s: float = 240.0) -> TopicRead:
    from kafka import KafkaConsumer, TopicPartition  # noqa: PLC0415  (bench venv only)

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=500,
                             max_partition_fetch_bytes=8 << 20, fetch_max_bytes=64 << 20, request_timeout_ms=40_000)
    result = TopicRead(records={topic: [] for topic in topics})
    started = time.monotonic()
    try:
        partitions = []
        for topic in topics:
            deadline = time.monotonic() + 20
            found = consumer.partitions_for_topic(topic)
            while not found and time.monotonic() < deadline:
                time.sleep(0.5)
                found = consumer.partitions_for_topic(topic)
            partitions += [TopicPartition(topic, p) for p in sorted(found or [])]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, 0)
        last_offset: dict[str, int] = {}
        last_record = time.monotonic()
        while True:
            batch = consumer.poll(timeout_ms=500, max_records=10_000)
            now = time.monotonic()
            for tp, records in batch.items():
                if records:
                    last_record = now
                name = f"{tp.topic}/{tp.partition}"
                for r in records:
                    previous = last_offset.get(name, -1)
                    if r.offset > previous + 1:
                        result.gaps[name] = result.gaps.get(name, 0) + (r.offset - previous - 1)
                    last_offset[name] = r.offset
                    try:
                        value = json.loads(r.value) if r.value else {}
                        if not isinstance(value, dict):
                            value = {}
                    except ValueError:
                        value, result.unparseable = {}, result.unparseable + 1
                    headers = {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)) for k, v in (r.headers or [])}
                    key = r.key.decode("utf-8", "replace") if isinstance(r.key, bytes) else r.key
                    result.records[tp.topic].append(TopicRecord(tp.topic, tp.partition, r.offset, r.timestamp, key, headers, value))
            highwater = {f"{tp.topic}/{tp.partition}": consumer.highwater(tp) for tp in partitions}
            position = {f"{tp.topic}/{tp.partition}": consumer.position(tp) for tp in partitions}
            caught_up = all(highwater[n] is not None and position[n] >= highwater[n] for n in highwater)
            quiet = now - last_record
            if (caught_up and quiet >= quiet_s) or quiet >= give_up_s or now - started > budget_s:
                result.highwater, result.position, result.caught_up = highwater, position, caught_up
                break
    finally:
        consumer.close()
    result.elapsed_s = time.monotonic() - started
    return result

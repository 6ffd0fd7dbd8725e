"""Shared by tansu_watermark.py and tansu_fetch_growth.py: a fresh Tansu broker started exactly as
bench/stack.py starts it, version strings, the broker's CPU time, and a tiny raw Kafka wire client
(standard library only) that shows what the broker itself answers, with no client library between.

Standard library only; the scripts themselves need kafka-python (pure Python, from PyPI).
"""

from __future__ import annotations

import datetime
import os
import platform
import signal
import socket
import struct
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
sys.path.insert(0, str(BENCH))

import stack  # noqa: E402  (bench/stack.py: standard library only, imports cleanly)


class CannotRun(RuntimeError):
    """The reproduction could not run (no broker binary, no kafka-python, broker died...)."""


def tansu_path() -> str:
    """The broker binary, as bench/stack.py finds it (.deps/env.mk, or DEMOSYNC_TANSU)."""
    path = stack.deps_env().get("TANSU", "")
    if not path or not Path(path).exists():
        raise CannotRun("the broker (Tansu) is missing: run `make deps` (or set DEMOSYNC_TANSU)")
    return path


class BrokerOnly(stack.Stack):
    """bench/stack.py's Stack without `demosync`: only its broker(), stop() and teardown(), so the
    broker gets exactly the command line and environment that `make bench` and `make soak` give it
    (`tansu broker --listener-url tcp://127.0.0.1:PORT --advertised-listener-url tcp://127.0.0.1:PORT`,
    this process's environment, default storage engine memory://tansu/)."""

    def __init__(self, log_dir: Path):  # noqa: D401  (deliberately skips Stack.__init__)
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.processes = []
        self.tansu = tansu_path()
        self._counter = 0


def log_dir(name: str) -> Path:
    """bench/results/ (not committed) when writable, else a temporary directory."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for base in (BENCH / "results", Path(tempfile.gettempdir())):
        try:
            path = base / f"{name}-{stamp}-logs"
            path.mkdir(parents=True, exist_ok=True)
            return path
        except OSError:
            continue
    raise CannotRun("no writable directory for the broker log")


def kafka_python_version() -> str:
    try:
        import kafka  # noqa: PLC0415
    except ImportError as error:
        raise CannotRun(
            f"kafka-python is not installed ({error}); run `make bench-deps` and use .deps/bench-venv/bin/python"
        ) from error
    return f"kafka-python {kafka.__version__} ({Path(kafka.__file__).parent})"


def header(title: str, broker_binary: str) -> list[str]:
    """The lines every result starts with: what, when, with which versions, on what."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    storage = os.environ.get("STORAGE_ENGINE", "memory://tansu/ (Tansu's default; STORAGE_ENGINE not set)")
    return [
        title,
        "=" * len(title),
        f"date (UTC)      : {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S')}",
        f"broker          : {stack.tool_version([broker_binary, '--version'])}  ({broker_binary})",
        f"broker storage  : {storage}",
        f"client          : {kafka_python_version()}",
        f"python          : {platform.python_version()}  ({sys.executable})",
        f"machine         : {os.cpu_count()} cores, load average at start {load}",
    ]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc/<pid>/stat, in seconds."""
    with open(f"/proc/{pid}/stat") as handle:
        text = handle.read()
    fields = text[text.rindex(")") + 2 :].split()  # fields after "pid (comm) "; state is fields[0]
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def install_signal_handlers() -> None:
    """SIGINT, SIGTERM and SIGHUP become KeyboardInterrupt, so `finally: broker teardown` runs for them too."""

    def interrupt(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    # Ctrl-C: Python's own handler, even where SIGINT was inherited as ignored (a background job)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    """Creates `topic` with kafka-python's admin client (needs kafka-python)."""
    from kafka import KafkaAdminClient  # noqa: PLC0415
    from kafka.admin import NewTopic  # noqa: PLC0415

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def run_reproduction(title: str, work):
    """Runs one reproduction the same way in every script: signal handlers, the header (broker,
    client, machine), then `work()`. Returns `(its result, None)`, or `(None, exit status)` after
    saying why it could not run: 130 when interrupted, 2 when it could not run."""
    install_signal_handlers()
    try:
        print_lines(header(title, tansu_path()) + [""])
        return work(), None
    except KeyboardInterrupt:
        print("interrupted; broker stopped", file=sys.stderr)
        return None, 130
    except Exception as error:  # noqa: BLE001
        if not isinstance(error, CannotRun):
            traceback.print_exc()
        print(f"COULD NOT RUN: {error}", file=sys.stderr)
        return None, 2


def run_and_print(title: str, work) -> int:
    """`run_reproduction` for a script whose `work()` returns the lines of its report: prints
    them and returns the exit status (0 when it ran)."""
    lines, status = run_reproduction(title, work)
    if status is not None:
        return status
    print_lines(lines)
    return 0


def print_lines(lines: list[str]) -> None:
    print("\n".join(lines), flush=True)


# --- a raw Kafka wire client: ApiVersions v0, ListOffsets v1, Fetch v4 -----------------------------


class Wire:
    """One TCP connection speaking the Kafka protocol by hand (request header v1, non-flexible
    versions only). Used to show what the broker answers, independently of kafka-python."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=15)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.correlation = 0

    def close(self) -> None:
        self.sock.close()

    def call(self, api_key: int, version: int, body: bytes) -> bytes:
        self.correlation += 1
        client = b"repro-wire"
        message = struct.pack(">hhih", api_key, version, self.correlation, len(client)) + client + body
        self.sock.sendall(struct.pack(">i", len(message)) + message)
        size = struct.unpack(">i", self._read(4))[0]
        data = self._read(size)
        if struct.unpack(">i", data[:4])[0] != self.correlation:
            raise CannotRun("wire client: correlation id mismatch")
        return data[4:]

    def _read(self, count: int) -> bytes:
        buffer = bytearray()
        while len(buffer) < count:
            chunk = self.sock.recv(count - len(buffer))
            if not chunk:
                raise CannotRun("wire client: broker closed the connection")
            buffer += chunk
        return bytes(buffer)

    @staticmethod
    def _string(text: str) -> bytes:
        raw = text.encode()
        return struct.pack(">h", len(raw)) + raw

    def api_versions(self) -> dict[int, tuple[int, int]]:
        reply = self.call(18, 0, b"")
        _error, count = struct.unpack(">hi", reply[:6])
        versions = {}
        for index in range(count):
            key, low, high = struct.unpack(">hhh", reply[6 + 6 * index : 12 + 6 * index])
            versions[key] = (low, high)
        return versions

    def list_offsets(self, topic: str, partition: int, timestamp: int = -1) -> tuple[int, int]:
        """ListOffsets v1: (error_code, offset). timestamp -1 = latest, -2 = earliest."""
        body = struct.pack(">ii", -1, 1) + self._string(topic) + struct.pack(">iiq", 1, partition, timestamp)
        reply = self.call(2, 1, body)
        pos = 4  # topics array length
        pos += 2 + struct.unpack(">h", reply[pos : pos + 2])[0]  # topic name
        pos += 4  # partitions array length
        _partition, error, _timestamp, offset = struct.unpack(">ihqq", reply[pos : pos + 22])
        return error, offset

    def fetch(self, topic: str, partition: int, offset: int, max_wait_ms: int = 1, max_bytes: int = 64 << 20):
        """Fetch v4 of one partition: (error_code, high_watermark, [(base_offset, last_offset_delta,
        record_count) for each record batch in the answer]). Note: Tansu 0.6.0 answers a fetch with
        max_wait_ms=0 with no partitions at all, so the default here is 1 ms."""
        body = (
            struct.pack(">iiiib", -1, max_wait_ms, 1, max_bytes, 0)
            + struct.pack(">i", 1)
            + self._string(topic)
            + struct.pack(">iiqi", 1, partition, offset, max_bytes)
        )
        reply = self.call(1, 4, body)
        pos = 4  # throttle_time_ms
        if struct.unpack(">i", reply[pos : pos + 4])[0] < 1:
            return None, None, []
        pos += 4
        pos += 2 + struct.unpack(">h", reply[pos : pos + 2])[0]
        pos += 4
        _partition, error, high_watermark, _lso = struct.unpack(">ihqq", reply[pos : pos + 22])
        pos += 22
        aborted = struct.unpack(">i", reply[pos : pos + 4])[0]
        pos += 4 + max(aborted, 0) * 16
        length = struct.unpack(">i", reply[pos : pos + 4])[0]
        pos += 4
        records = reply[pos : pos + length] if length > 0 else b""
        batches, at = [], 0
        while at + 61 <= len(records):  # record batch v2 header is 61 bytes
            base, batch_length = struct.unpack(">qi", records[at : at + 12])
            last_delta = struct.unpack(">i", records[at + 23 : at + 27])[0]
            count = struct.unpack(">i", records[at + 57 : at + 61])[0]
            batches.append((base, last_delta, count))
            at += 12 + batch_length
        return error, high_watermark, batches


def timed(function, *args, **kwargs) -> tuple[float, object]:
    """(milliseconds, result) of one call."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return (time.perf_counter() - started) * 1000, result

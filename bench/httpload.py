"""A small HTTP/1.1 load client on asyncio (standard library only), for what wrk cannot do:
a thousand or ten thousand concurrent clients, a fixed number of requests, and a record of every
request's status, body and timing.

Each connection is kept alive and sends one request at a time (closed-loop, like wrk): the tail
latencies it reports under load hide coordinated omission.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field

CAPTURE_PATH = "/api/v1/payments/capture"


@dataclass
class Reply:
    status: int  # 0 when the connection failed or timed out
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # "timeout", "connect", "closed", ...

    def json(self) -> dict:
        try:
            value = json.loads(self.body)
            return value if isinstance(value, dict) else {}
        except ValueError:
            return {}


class Connection:
    """One keep-alive HTTP/1.1 connection to a loopback server."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self, timeout: float = 10) -> None:
        self.reader, self.writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port, limit=1 << 20), timeout)

    @property
    def connected(self) -> bool:
        return self.writer is not None and not self.writer.is_closing()

    def close(self) -> None:
        if self.writer is not None:
            try:
                self.writer.transport.abort()
            except Exception:
                pass
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None, timeout: float | None = 30
    ) -> Reply:
        """Sends one request and reads its response. Reconnects first when the server closed
        the connection. A failure is a Reply with status 0 and `error` set; the connection is
        then closed."""
        try:
            if not self.connected:
                await self.connect()
        except (OSError, asyncio.TimeoutError) as error:
            self.close()
            return Reply(0, error=f"connect: {type(error).__name__}")
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        fields = {"Content-Length": str(len(body))} if (body or method in ("POST", "PUT")) else {}
        fields.update(headers or {})
        head += [f"{name}: {value}" for name, value in fields.items()]
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        try:
            self.writer.write(data)
            return await asyncio.wait_for(self._read_response(), timeout)
        except asyncio.TimeoutError:
            self.close()
            return Reply(0, error="timeout")
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            self.close()
            return Reply(0, error=f"closed: {type(error).__name__}")

    async def _read_response(self) -> Reply:
        reader = self.reader
        status_line = await reader.readline()
        if not status_line:
            raise asyncio.IncompleteReadError(b"", None)
        parts = status_line.split(b" ", 2)
        status = int(parts[1])
        headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readline()).split(b";")[0].strip(), 16)
                if size == 0:
                    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            body = b"".join(chunks)
        else:
            body = b""
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Reply(status, body, headers)


def capture_body(transaction_id: str, amount: str = "100.50", currency: str = "BRL") -> bytes:
    return f'{{"transaction_id":"{transaction_id}","amount":{amount},"currency":"{currency}"}}'.encode()


CAPTURE_HEADERS = {"Content-Type": "application/json"}


@dataclass
class Record:
    """One request: when it started and ended (monotonic seconds), its transaction id and reply."""

    started: float
    ended: float
    transaction_id: str
    status: int
    error: str | None
    error_code: str | None
    correlation_id: str | None
    verdict: str | None  # the `status` field of a 200 body
    echoed_transaction_id: str | None


class CaptureLoad:
    """Closed-loop capture load: `connections` clients, each sending one capture at a time with a
    unique transaction id, until `total` requests were sent or `stop()` is called. With `stagger`,
    the clients start one after another over that many seconds; with `pause_after_503`, a client
    waits that long after a 503 (a shorter stand-in for Retry-After) instead of retrying at once.

    Every request is recorded (see ``Record``) unless `keep_records` is False, in which case only
    counts per status are kept."""

    def __init__(self, port: int, connections: int, prefix: str, total: int | None = None, timeout: float = 35,
                 keep_records: bool = True, stagger: float = 0.0, pause_after_503: float = 0.0):
        self.port = port
        self.connections = connections
        self.prefix = prefix
        self.total = total
        self.timeout = timeout
        self.keep_records = keep_records
        self.stagger = stagger
        self.pause_after_503 = pause_after_503
        self.records: list[Record] = []
        self.status_counts: dict[str, int] = {}
        self.sent = 0
        self.done = 0
        self.in_flight = 0
        self._ids = itertools.count(1)
        self._stopping = False
        self.latencies_ok: list[float] = []

    def stop(self) -> None:
        self._stopping = True

    def _next_id(self) -> str | None:
        if self._stopping:
            return None
        number = next(self._ids)
        if self.total is not None and number > self.total:
            return None
        return f"tx_{self.prefix}_{number}"

    async def _worker(self, index: int) -> None:
        connection = Connection(self.port)
        try:
            if self.stagger:
                # Spread the clients' first requests over `stagger` seconds, so that a closed loop
                # against a fixed processing delay does not complete in synchronised waves.
                await asyncio.sleep(self.stagger * index / self.connections)
            while True:
                transaction_id = self._next_id()
                if transaction_id is None:
                    return
                self.sent += 1
                self.in_flight += 1
                started = time.monotonic()
                reply = await connection.request("POST", CAPTURE_PATH, capture_body(transaction_id), CAPTURE_HEADERS, self.timeout)
                ended = time.monotonic()
                self.in_flight -= 1
                self.done += 1
                key = str(reply.status) if reply.status else f"error:{reply.error}"
                self.status_counts[key] = self.status_counts.get(key, 0) + 1
                if reply.status == 200:
                    self.latencies_ok.append(ended - started)
                if self.keep_records:
                    body = reply.json()
                    self.records.append(Record(
                        started, ended, transaction_id, reply.status, reply.error, body.get("error_code"),
                        body.get("correlation_id"), body.get("status") if reply.status == 200 else None,
                        body.get("transaction_id")))
                if reply.status == 0:
                    await asyncio.sleep(0.05)  # a refused connection would otherwise spin
                elif reply.status == 503 and self.pause_after_503:
                    await asyncio.sleep(self.pause_after_503)
        finally:
            connection.close()

    async def run(self) -> None:
        await asyncio.gather(*(self._worker(index) for index in range(self.connections)))


async def open_idle_connections(port: int, count: int, batch: int = 200) -> list[Connection]:
    """Opens `count` keep-alive connections in batches (the server's accept backlog is finite)."""
    connections: list[Connection] = []
    for start in range(0, count, batch):
        group = [Connection(port) for _ in range(min(batch, count - start))]
        await asyncio.gather(*(c.connect(timeout=30) for c in group))
        connections += group
    return connections


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), int(-(-p / 100 * len(sorted_values) // 1))))
    return sorted_values[rank - 1]

#!/usr/bin/env python3
"""A loopback TCP proxy that takes a broker "down" and "up" again on a signal.

    tcp_proxy.py LISTEN_PORT TARGET_PORT

SIGUSR1: down — the listening socket closes (new connections are refused) and every proxied
connection is reset, exactly what clients see when a broker process stops.
SIGUSR2: up — listens again; new connections reach the broker, whose state is intact, as a
restarted Apache Kafka broker's would be (its log is on disk). Tansu keeps its state in memory
only, so stopping the real process would lose every topic: the proxy stands in for the stop.
SIGTERM/SIGINT: exit.

The broker must advertise LISTEN_PORT (`--advertised-listener-url`), so that clients reconnect
through the proxy after reading metadata. Prints one line per state change: `up T` / `down T`,
with T the CLOCK_MONOTONIC time in seconds (the same clock as Python's time.monotonic()).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time


class Proxy:
    def __init__(self, listen_port: int, target_port: int):
        self.listen_port = listen_port
        self.target_port = target_port
        self.server: asyncio.AbstractServer | None = None
        self.transports: set[asyncio.BaseTransport] = set()

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            broker_reader, broker_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        pair = (client_writer.transport, broker_writer.transport)
        self.transports.update(pair)

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    writer.write(data)
                    await writer.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                for transport in pair:
                    transport.abort()

        await asyncio.gather(pump(client_reader, broker_writer), pump(broker_reader, client_writer))
        self.transports.difference_update(pair)

    async def up(self) -> None:
        if self.server is None:
            self.server = await asyncio.start_server(self.handle, "127.0.0.1", self.listen_port, reuse_address=True)
            print(f"up {time.monotonic():.3f}", flush=True)

    def down(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for transport in list(self.transports):
            transport.abort()
        self.transports.clear()
        print(f"down {time.monotonic():.3f}", flush=True)


async def main() -> None:
    listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])
    proxy = Proxy(listen_port, target_port)
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, proxy.down)
    loop.add_signal_handler(signal.SIGUSR2, lambda: asyncio.ensure_future(proxy.up()))
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    loop.add_signal_handler(signal.SIGINT, stopped.set)
    await proxy.up()
    await stopped.wait()
    proxy.down()


if __name__ == "__main__":
    asyncio.run(main())

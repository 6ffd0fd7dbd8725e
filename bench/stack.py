"""The local stack for `make bench` and `make soak`: the broker, `demosync simulate`,
`demosync serve` and the bench helpers, each started on a free loopback port, logged to a file,
and stopped again by `Stack.teardown()` whatever happened (failure, Ctrl-C, SIGTERM).

Standard library only. Used by run_bench.py and soak.py.
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class StackError(RuntimeError):
    """The stack could not be brought up (a process exited, or never became ready)."""


def deps_env() -> dict[str, str]:
    """RDKAFKA_PREFIX and TANSU, as scripts/deps.sh wrote them to .deps/env.mk."""
    values: dict[str, str] = {}
    path = ROOT / ".deps" / "env.mk"
    if path.exists():
        for line in path.read_text().splitlines():
            match = re.match(r"^\s*([A-Z_]+)\s*:?=\s*(.*)$", line)
            if match:
                values[match.group(1)] = match.group(2).strip()
    if os.environ.get("DEMOSYNC_TANSU"):
        values["TANSU"] = os.environ["DEMOSYNC_TANSU"]
    return values


_taken: set[int] = set()


def free_port() -> int:
    """A loopback port that was free a moment ago, below Linux's ephemeral range (as the tests
    pick theirs), never handed out twice by this process."""
    for _ in range(500):
        port = random.randint(20000, 31999)
        if port in _taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _taken.add(port)
        return port
    raise StackError("no free port in 20000..31999")


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def raise_fd_limit() -> int:
    """Raises this process's open-file limit to its hard limit (10,000 client connections need
    it) and returns the new soft limit. Children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """(status, body) of a GET; (0, b"") when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, OSError, TimeoutError):
        return 0, b""


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text format → {'name{labels}': value} (comments dropped)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            continue
    return values


def scrape(port: int) -> dict[str, float] | None:
    """The /metrics of a server on a loopback port, or None when it has none (yet)."""
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    if status != 200:
        return None
    return parse_metrics(body.decode("utf-8", "replace"))


def rss_kib(pid: int) -> int | None:
    """Resident memory (VmRSS) of a process in KiB, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def machine_description() -> dict[str, object]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    except OSError:
        pass
    load = os.getloadavg()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "load_average_at_start": [round(x, 2) for x in load],
        "python": platform.python_version(),
    }


def tool_version(argv: list[str]) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (result.stdout or result.stderr).strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "unknown"


class Process:
    """One started program: its name, Popen, log file and (for HTTP servers) its port."""

    def __init__(self, name: str, popen: subprocess.Popen, log: Path, port: int | None = None):
        self.name = name
        self.popen = popen
        self.log = log
        self.port = port

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def rss_kib(self) -> int | None:
        return rss_kib(self.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Stack:
    """Starts the programs of one bench or soak run and stops every one of them at the end.

    Children run in sessions of their own, so a Ctrl-C in the terminal reaches only the runner,
    which then stops them in reverse order (serve before simulate before the broker)."""

    def __init__(self, bin_dir: Path, log_dir: Path):
        self.bin_dir = Path(bin_dir)
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.processes: list[Process] = []
        env = deps_env()
        self.tansu = env.get("TANSU", "")
        self.demosync = self.bin_dir / "demosync"
        self.bench = self.bin_dir / "demosync-bench"
        for program in (self.demosync, self.bench):
            if not program.exists():
                raise StackError(f"{program} is missing: build it with `make bench` (it builds the release binaries first)")
        if not self.tansu or not Path(self.tansu).exists():
            raise StackError("the broker (Tansu) is missing: run `make deps`")
        self._counter = 0

    # -- starting -------------------------------------------------------------------------

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None, port: int | None = None) -> Process:
        self._counter += 1
        log = self.log_dir / f"{self._counter:02d}-{name}.log"
        handle = open(log, "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        popen = subprocess.Popen(
            argv, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=full_env, start_new_session=True
        )
        handle.close()
        process = Process(name, popen, log, port)
        self.processes.append(process)
        return process

    def broker(self, port: int | None = None, advertised_port: int | None = None) -> Process:
        """Tansu on a free port (memory storage). `advertised_port` makes it advertise another
        port, where a proxy forwards to it."""
        port = port or free_port()
        listen = f"tcp://127.0.0.1:{port}"
        advertised = f"tcp://127.0.0.1:{advertised_port or port}"
        process = self.spawn("broker", [self.tansu, "broker", "--listener-url", listen, "--advertised-listener-url", advertised], port=port)
        self.wait_port(process, port, 20)
        return process

    def simulate(self, bootstrap: str, delay_ms: int, extra: list[str] | None = None, name: str = "simulate",
                 demosync: Path | None = None) -> Process:
        """`demosync simulate` with its health endpoint on a free port; waits until ready."""
        health = free_port()
        process = self.spawn(
            name,
            [str(demosync or self.demosync), "simulate", "--bootstrap-servers", bootstrap, "--kafka-profile", "local", "--delay", str(delay_ms),
             "--health-host", "127.0.0.1", "--health-port", str(health), "--log-level", "notice"] + (extra or []),
            port=health,
        )
        self.wait_ready(process, f"http://127.0.0.1:{health}/health/ready", 60)
        return process

    def serve(self, bootstrap: str, extra: list[str] | None = None, name: str = "serve", wait: bool = True,
              port: int | None = None, log_level: str = "notice", demosync: Path | None = None) -> Process:
        """`demosync serve` on a free port (or `port`, to restart a replica where it was); waits
        until /health/ready answers 200. `demosync` runs another build of the binary (an A/B)."""
        port = port or free_port()
        process = self.spawn(
            name,
            [str(demosync or self.demosync), "serve", "--host", "127.0.0.1", "--port", str(port), "--bootstrap-servers", bootstrap,
             "--kafka-profile", "local", "--log-level", log_level] + (extra or []),
            port=port,
        )
        if wait:
            self.wait_ready(process, f"http://127.0.0.1:{port}/health/ready", 60)
        return process

    def echo(self) -> Process:
        """The Hummingbird JSON echo baseline."""
        port = free_port()
        process = self.spawn("http-echo", [str(self.bench), "http-echo", "--port", str(port)], port=port)
        self.wait_ready(process, f"http://127.0.0.1:{port}/health", 30)
        return process

    # -- waiting --------------------------------------------------------------------------

    def wait_port(self, process: Process, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not process.alive():
                raise StackError(f"{process.name} exited with {process.popen.returncode}:\n{process.log_tail()}")
            if port_open(port):
                return
            time.sleep(0.05)
        raise StackError(f"{process.name} does not listen on {port} after {timeout} s")

    def wait_ready(self, process: Process, url: str, timeout: float) -> float:
        """Waits until `url` answers 200; returns the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if not process.alive():
                raise StackError(f"{process.name} exited with {process.popen.returncode}:\n{process.log_tail()}")
            status, _ = http_get(url, timeout=1)
            if status == 200:
                return time.monotonic() - started
            time.sleep(0.1)
        raise StackError(f"{process.name} not ready at {url} after {timeout} s:\n{process.log_tail()}")

    # -- stopping -------------------------------------------------------------------------

    def stop(self, process: Process, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
        """Sends `sig`, waits up to `timeout`, then SIGKILL. Returns the exit code."""
        if process.alive():
            try:
                process.popen.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                process.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(timeout=5)
        if process in self.processes:
            self.processes.remove(process)
        return process.popen.returncode

    def kill(self, process: Process) -> int | None:
        """SIGKILL, at once (a crash, as far as the process can tell)."""
        return self.stop(process, signal.SIGKILL, timeout=5)

    def teardown(self) -> None:
        """Stops everything still running, newest first."""
        for process in reversed(list(self.processes)):
            try:
                self.stop(process, timeout=10)
            except Exception as error:  # keep stopping the others
                print(f"[stack] could not stop {process.name}: {error}", file=sys.stderr)


def install_signal_handlers() -> None:
    """Turns SIGTERM into KeyboardInterrupt, so `finally: stack.teardown()` runs for it too."""

    def interrupt(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def dump_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")

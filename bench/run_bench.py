#!/usr/bin/env python3
"""`make bench`: measures DemoSync against baselines taken in the same run, on the same machine.

One run, in this order, on one local broker (Tansu) on a free port:

1. Baselines
   - the raw Kafka request-reply round trip through our wrapper, no HTTP (`demosync-bench
     kafka-roundtrip`): sequential for latency, 64 at a time for throughput, and once more with
     the simulator's extra journal hop;
   - a Hummingbird JSON echo of a capture-shaped body (`demosync-bench http-echo`), with wrk.
2. Captures through `serve` + `simulate --delay 0`, with wrk and bench/post_capture.lua (a unique
   transaction id per request): latency at 1 connection, throughput at 16, 64 and 256.
3. Slow processor: `simulate --delay 2000`, 1000 concurrent clients (bench/httpload.py):
   captures per second against the bound Little's law gives (1000 clients / 2 s = 500/s).
4. Memory: a second `serve` with no processor behind it; resident memory idle, with 10,000 idle
   connections, and with 10,000 captures pending; per pending capture.

Writes bench/results/bench-<timestamp>.json (and its logs beside it), docs/benchmarks.json,
docs/img/bench-latency-1conn.png, docs/img/bench-throughput.png, and rewrites docs/benchmarks.md
(with bench/benchmarks-notes.md, the hand-written analysis, included as it is).

Builds nothing: `make bench` builds the release binaries first and passes --bin-dir.
Every process it starts is stopped at the end, also on failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, str(Path(__file__).resolve().parent))

from httpload import CAPTURE_PATH, CaptureLoad, Connection, capture_body, CAPTURE_HEADERS, open_idle_connections, percentile  # noqa: E402
from stack import (  # noqa: E402
    ROOT, Stack, StackError, dump_json, install_signal_handlers, machine_description, raise_fd_limit, scrape, tool_version,
)

LUA = ROOT / "bench" / "post_capture.lua"
DOCS = ROOT / "docs"

# Targets from issue 5, as ratios from one run.
TARGET_THROUGHPUT_RATIO = 1 / 3       # capture throughput ≥ a third of the echo baseline
TARGET_P50_DELTA_MS = 1.0             # capture p50 at 1 connection within 1 ms of the raw Kafka round trip
TARGET_LITTLE_FRACTION = 0.90         # ≥ 90% of the Little's-law bound with the slow processor
TARGET_BYTES_PER_PENDING = 5 * 1024   # < 5 KB resident memory per pending capture


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- measurements --------------------------------------------------------------------------------


def wrk(url: str, connections: int, seconds: int, run_id: str, processes: dict[str, int] | None = None) -> dict:
    """One wrk run with post_capture.lua; its WRK_JSON line plus requests per second, and the CPU
    time per request of wrk itself and of each of `processes` ({name: pid}) during the run."""
    threads = 1 if connections < 2 else 2
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency", "-s", str(LUA), url, "--", run_id]
    cpu_before = {name: process_cpu_seconds(pid) for name, pid in (processes or {}).items()}
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {name: process_cpu_seconds(pid) - cpu_before[name] for name, pid in (processes or {}).items()}
    cpu["wrk"] = (children_after.ru_utime + children_after.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    match = re.search(r"^WRK_JSON (.*)$", output.stdout, re.M)
    if not match:
        raise StackError(f"wrk printed no result:\n{output.stdout}\n{output.stderr}")
    result = json.loads(match.group(1))
    result["connections"] = connections
    result["threads"] = threads
    result["seconds"] = seconds
    result["requests_per_s"] = result["requests"] / (result["duration_us"] / 1e6)
    errors = result["errors"]
    result["non_2xx"] = errors["status"]
    result["socket_errors"] = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    result["command"] = " ".join(argv)
    result["cpu_ms_per_request"] = {name: 1000 * seconds_used / max(1, result["requests"]) for name, seconds_used in cpu.items()}
    result["cpu_cores_used"] = {name: seconds_used / (result["duration_us"] / 1e6) for name, seconds_used in cpu.items()}
    return result


def kafka_roundtrip(stack: Stack, bootstrap: str, count: int, warmup: int, concurrency: int, journal: bool, samples: Path | None) -> dict:
    argv = [str(stack.bench), "kafka-roundtrip", "--bootstrap-servers", bootstrap, "--count", str(count), "--warmup", str(warmup),
            "--concurrency", str(concurrency), "--timeout-seconds", "600"]
    if journal:
        argv.append("--journal")
    if samples:
        argv += ["--samples-file", str(samples)]
    output = subprocess.run(argv, capture_output=True, text=True, timeout=660)
    if output.returncode != 0:
        raise StackError(f"kafka-roundtrip failed ({output.returncode}): {output.stderr}")
    result = json.loads(output.stdout.strip().splitlines()[-1])
    result["command"] = " ".join(argv[:1] + ["kafka-roundtrip"] + argv[2:]).replace(str(stack.bench), "demosync-bench")
    return result


def outcome_counts(metrics: dict[str, float] | None) -> dict[str, int]:
    if not metrics:
        return {}
    counts = {}
    for key, value in metrics.items():
        match = re.match(r'^demosync_captures_total\{outcome="([a-z_]+)"\}$', key)
        if match:
            counts[match.group(1)] = int(value)
    return counts


def diff_counts(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {key: after.get(key, 0) - before.get(key, 0) for key in sorted(set(after) | set(before)) if after.get(key, 0) - before.get(key, 0)}


async def littles_law(port: int, clients: int, delay_s: float, warmup: float, measure: float, run_id: str) -> dict:
    """Closed loop of `clients` clients against a processor that takes `delay_s` per capture."""
    load = CaptureLoad(port, clients, prefix=f"little_{run_id}", timeout=35, stagger=delay_s)
    task = asyncio.create_task(load.run())
    await asyncio.sleep(warmup)
    window_start = time.monotonic()
    await asyncio.sleep(measure)
    window_end = time.monotonic()
    load.stop()
    await asyncio.wait_for(task, timeout=60)
    in_window = [r for r in load.records if window_start <= r.ended < window_end]
    ok = [r for r in in_window if r.status == 200]
    latencies = sorted(r.ended - r.started for r in ok)
    throughput = len(ok) / (window_end - window_start)
    bound = clients / delay_s
    mean_latency = sum(latencies) / len(latencies) if latencies else 0.0
    statuses: dict[str, int] = {}
    for r in in_window:
        key = str(r.status) if r.status else f"error:{r.error}"
        statuses[key] = statuses.get(key, 0) + 1
    return {
        "clients": clients,
        "processing_delay_s": delay_s,
        "warmup_s": warmup,
        "window_s": round(window_end - window_start, 3),
        "completed_200_in_window": len(ok),
        "statuses_in_window": statuses,
        "statuses_whole_run": load.status_counts,
        "captures_per_s": throughput,
        "littles_law_bound_per_s": bound,
        "fraction_of_bound": throughput / bound,
        "latency_s": {
            "mean": mean_latency,
            "p50": percentile(latencies, 50),
            "p99": percentile(latencies, 99),
            "max": latencies[-1] if latencies else 0.0,
        },
        "overhead_per_capture_ms": (mean_latency - delay_s) * 1000 if latencies else None,
    }


async def memory_per_pending(serve_port: int, pid: int, count: int, run_id: str) -> dict:
    """RSS of `serve` (no processor behind it) idle, with `count` idle connections, and with
    `count` captures pending on them; twice, to tell one-time growth from the steady cost."""
    from stack import rss_kib

    def pending() -> int | None:
        metrics = scrape(serve_port)
        if metrics is None:
            return None
        return int(metrics.get("demosync_pending_captures", -1))

    async def settle_rss(seconds: float = 3.0) -> int:
        samples = []
        for _ in range(int(seconds / 0.5)):
            await asyncio.sleep(0.5)
            samples.append(rss_kib(pid) or 0)
        return sorted(samples)[len(samples) // 2]

    rounds = []
    for round_number in (1, 2):
        idle = await settle_rss()
        connections = await open_idle_connections(serve_port, count)
        with_connections = await settle_rss()
        tasks = [
            asyncio.create_task(c.request("POST", CAPTURE_PATH, capture_body(f"tx_mem_{run_id}_{round_number}_{i}"), CAPTURE_HEADERS, timeout=None))
            for i, c in enumerate(connections)
        ]
        # Wait until serve reports them all pending (its /metrics); without metrics, give it 10 s.
        deadline = time.monotonic() + (120 if pending() is not None else 10)
        while time.monotonic() < deadline:
            seen = pending()
            if seen is not None and seen >= count:
                break
            await asyncio.sleep(0.5)
        answered_early = sum(1 for t in tasks if t.done())
        with_pending = await settle_rss()
        pending_seen = pending()
        for c in connections:
            c.close()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        drain_deadline = time.monotonic() + 60
        while time.monotonic() < drain_deadline and (pending() or 0) > 0:
            await asyncio.sleep(0.5)
        after = await settle_rss()
        rounds.append({
            "round": round_number,
            "rss_idle_kib": idle,
            "rss_with_idle_connections_kib": with_connections,
            "rss_with_pending_kib": with_pending,
            "rss_after_release_kib": after,
            "pending_reported": pending_seen,
            "answered_before_measurement": answered_early,
            "bytes_per_pending_capture": (with_pending - idle) * 1024 / count,
            "bytes_per_idle_connection": (with_connections - idle) * 1024 / count,
            "bytes_per_capture_on_open_connection": (with_pending - with_connections) * 1024 / count,
        })
    return {"pending": count, "rounds": rounds, "bytes_per_pending_capture": rounds[0]["bytes_per_pending_capture"]}


async def idle_connection_cost(port: int, pid: int, count: int) -> dict:
    """RSS growth of a server when `count` idle keep-alive connections are open on it."""
    from stack import rss_kib

    await asyncio.sleep(1)
    idle = rss_kib(pid) or 0
    connections = await open_idle_connections(port, count)
    await asyncio.sleep(3)
    with_connections = rss_kib(pid) or 0
    for connection in connections:
        connection.close()
    return {"connections": count, "rss_idle_kib": idle, "rss_with_connections_kib": with_connections,
            "bytes_per_idle_connection": (with_connections - idle) * 1024 / count}


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the run -------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict:
    quick = args.quick
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    results_dir = ROOT / "bench" / "results"
    log_dir = results_dir / f"bench-{stamp}-logs"
    stack = Stack(Path(args.bin_dir), log_dir)
    fd_limit = raise_fd_limit()
    durations = {"echo_1": 10, "echo_n": 8, "capture_1": 15, "capture_n": 8, "warmup": 2, "little_warmup": 8, "little_window": 20}
    counts = {"kafka_seq": 3000, "kafka_journal": 1500, "kafka_concurrent": 20000, "memory_pending": 10000, "growth_runs": 4}
    if quick:
        durations = {k: max(2, v // 4) for k, v in durations.items()}
        counts = {"kafka_seq": 500, "kafka_journal": 300, "kafka_concurrent": 3000, "memory_pending": 2000, "growth_runs": 2}
    connection_counts = [16, 64, 256]
    results: dict = {
        "timestamp": stamp,
        "quick": quick,
        "machine": machine_description(),
        "tools": {
            "wrk": tool_version(["wrk", "--version"]),
            "swift": tool_version(["swift", "--version"]),
            "demosync": tool_version([str(stack.demosync), "--version"]),
        },
        "settings": {"durations_s": durations, "counts": counts, "fd_limit": fd_limit, "kafka_profile": "local (fetch.wait.max.ms=5)",
                     "partitions": 3},
    }
    samples_path = log_dir / "kafka-roundtrip-samples.txt"
    try:
        # Every measurement gets a broker of its own: the local broker (Tansu, memory storage) slows
        # down as its topics grow (see "broker_growth"), and that is not what is measured here.
        def fresh_broker() -> str:
            broker = stack.broker()
            return f"127.0.0.1:{broker.port}"

        def fresh_stack(delay_ms: int, serve_options: list[str] | None = None, name: str = "serve"):
            bootstrap = fresh_broker()
            return stack.simulate(bootstrap, delay_ms), stack.serve(bootstrap, serve_options, name=name)

        def stop_all() -> None:
            stack.teardown()

        # 1. Baselines.
        bootstrap = fresh_broker()
        log(f"baseline: raw Kafka round trip, sequential (broker {bootstrap})")
        results["kafka_roundtrip"] = kafka_roundtrip(stack, bootstrap, counts["kafka_seq"], 200, 1, False, samples_path)
        log(f"  p50 {results['kafka_roundtrip']['latency_us']['p50']:.0f} µs")
        log("baseline: raw Kafka round trip with the simulator's journal hop")
        results["kafka_roundtrip_journal"] = kafka_roundtrip(stack, bootstrap, counts["kafka_journal"], 100, 1, True, None)
        stop_all()
        log("baseline: raw Kafka round trips, 64 at a time")
        results["kafka_roundtrip_c64"] = kafka_roundtrip(stack, fresh_broker(), counts["kafka_concurrent"], 1000, 64, False, None)
        log(f"  {results['kafka_roundtrip_c64']['throughput_per_s']:.0f}/s")
        stop_all()

        echo = stack.echo()
        echo_url = f"http://127.0.0.1:{echo.port}/echo"
        log("baseline: JSON echo")
        echo_pids = {"http-echo": echo.pid}
        results["echo"] = {"1": wrk(echo_url, 1, durations["echo_1"], f"echo{stamp}c1", echo_pids)}
        for c in connection_counts:
            results["echo"][str(c)] = wrk(echo_url, c, durations["echo_n"], f"echo{stamp}c{c}", echo_pids)
            log(f"  {c} connections: {results['echo'][str(c)]['requests_per_s']:.0f}/s")
        results["echo_idle_connections"] = asyncio.run(idle_connection_cost(echo.port, echo.pid, counts["memory_pending"]))
        stack.stop(echo)

        # 2. Captures: a fresh broker, simulate and serve for each connection count.
        results["capture"] = {}
        results["capture_outcomes"] = {}
        results["capture_pending_after"] = {}
        for c in [1] + connection_counts:
            simulate, serve = fresh_stack(0)
            capture_url = f"http://127.0.0.1:{serve.port}{CAPTURE_PATH}"
            wrk(capture_url, c, durations["warmup"], f"warm{stamp}c{c}")
            before = outcome_counts(scrape(serve.port))
            pids = {"serve": serve.pid, "simulate": simulate.pid, "broker": stack.processes[0].pid}
            results["capture"][str(c)] = wrk(capture_url, c, durations["capture_1" if c == 1 else "capture_n"], f"cap{stamp}c{c}", pids)
            after_metrics = scrape(serve.port)
            results["capture_outcomes"][str(c)] = diff_counts(outcome_counts(after_metrics), before)
            results["capture_pending_after"][str(c)] = after_metrics.get("demosync_pending_captures") if after_metrics else None
            x = results["capture"][str(c)]
            log(f"  {c} connections: {x['requests_per_s']:.0f}/s, p50 {x['latency_us']['p50']} µs, non-2xx {x['non_2xx']}")
            results["serve_rss_after_captures_kib"] = serve.rss_kib()
            results["simulate_rss_after_captures_kib"] = simulate.rss_kib()
            stop_all()

        # The broker's growth: the same stack, 64 connections, run after run.
        simulate, serve = fresh_stack(0)
        capture_url = f"http://127.0.0.1:{serve.port}{CAPTURE_PATH}"
        growth = []
        answered = 0
        for index in range(counts["growth_runs"]):
            broker_process = stack.processes[0]
            cpu_before = process_cpu_seconds(broker_process.pid)
            run = wrk(capture_url, 64, durations["capture_n"], f"grow{stamp}r{index}")
            cpu = process_cpu_seconds(broker_process.pid) - cpu_before
            answered += run["requests"]
            growth.append({"run": index + 1, "captures_before": answered - run["requests"], "captures_per_s": run["requests_per_s"],
                           "broker_cpu_ms_per_capture": 1000 * cpu / max(1, run["requests"]), "broker_rss_kib": broker_process.rss_kib()})
            log(f"  growth run {index + 1}: {run['requests_per_s']:.0f}/s, broker {growth[-1]['broker_cpu_ms_per_capture']:.2f} ms CPU per capture")
        results["broker_growth"] = growth
        stop_all()

        # 3. Slow processor.
        log("slow processor: simulate --delay 2000, 1000 clients")
        simulate, serve = fresh_stack(2000)
        results["slow_processor"] = asyncio.run(
            littles_law(serve.port, 1000, 2.0, durations["little_warmup"], durations["little_window"], stamp))
        log(f"  {results['slow_processor']['captures_per_s']:.1f}/s of {results['slow_processor']['littles_law_bound_per_s']:.0f}/s")
        stop_all()

        # 4. Memory: serve alone (no processor: every capture stays pending).
        log(f"memory: {counts['memory_pending']} captures pending on a serve with no processor")
        memory_serve = stack.serve(fresh_broker(), ["--timeout", "300s"], name="serve-memory")
        results["memory"] = asyncio.run(memory_per_pending(memory_serve.port, memory_serve.pid, counts["memory_pending"], stamp))
        log(f"  {results['memory']['bytes_per_pending_capture']:.0f} bytes per pending capture")
        stop_all()
    finally:
        stack.teardown()

    results["latency_samples_file"] = str(samples_path.relative_to(ROOT))
    results["ratios"] = ratios(results)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def ratios(r: dict) -> dict:
    best_capture = max(r["capture"][str(c)]["requests_per_s"] for c in (16, 64, 256))
    best_echo = max(r["echo"][str(c)]["requests_per_s"] for c in (16, 64, 256))
    capture_p50_ms = r["capture"]["1"]["latency_us"]["p50"] / 1000
    kafka_p50_ms = r["kafka_roundtrip"]["latency_us"]["p50"] / 1000
    memory = r["memory"]["bytes_per_pending_capture"]
    little = r["slow_processor"]["fraction_of_bound"]
    per_connections = {str(c): r["capture"][str(c)]["requests_per_s"] / r["echo"][str(c)]["requests_per_s"] for c in (16, 64, 256)}
    return {
        "throughput_vs_echo": {
            "value": best_capture / best_echo, "target": ">= 0.333", "met": best_capture / best_echo >= TARGET_THROUGHPUT_RATIO,
            "best_capture_per_s": best_capture, "best_echo_per_s": best_echo, "per_connections": per_connections,
            "vs_raw_kafka_c64": best_capture / r["kafka_roundtrip_c64"]["throughput_per_s"],
        },
        "p50_vs_raw_kafka": {
            "value_ms": capture_p50_ms - kafka_p50_ms, "target": "<= 1 ms", "met": capture_p50_ms - kafka_p50_ms <= TARGET_P50_DELTA_MS,
            "capture_p50_ms": capture_p50_ms, "kafka_p50_ms": kafka_p50_ms,
            "kafka_with_journal_hop_p50_ms": r["kafka_roundtrip_journal"]["latency_us"]["p50"] / 1000,
            "echo_p50_ms": r["echo"]["1"]["latency_us"]["p50"] / 1000,
        },
        "littles_law": {"value": little, "target": ">= 0.90", "met": little >= TARGET_LITTLE_FRACTION},
        "memory_per_pending": {"value_bytes": memory, "target": "< 5120 bytes", "met": memory < TARGET_BYTES_PER_PENDING},
    }


# -- plots and the document ----------------------------------------------------------------------


def kafka_percentiles(samples_file: Path, points: list[float]) -> dict[str, float]:
    values = sorted(float(line) for line in samples_file.read_text().split())
    return {str(p): percentile(values, p) for p in points}


def plots(results: dict, image_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image_dir.mkdir(parents=True, exist_ok=True)
    written = []

    # Latency distribution at one connection (HdrHistogram style: x = 1/(1-p)).
    points = [float(p) for p in results["capture"]["1"]["percentiles_us"].keys()]
    series = {
        "POST /capture (serve + simulate, delay 0)": results["capture"]["1"]["percentiles_us"],
        "raw Kafka round trip (no HTTP)": kafka_percentiles(ROOT / results["latency_samples_file"], points),
        "JSON echo (no Kafka)": results["echo"]["1"]["percentiles_us"],
    }
    figure, axis = plt.subplots(figsize=(8, 4.8))
    for label, values in series.items():
        xs = [1 / (1 - float(p) / 100) for p in values.keys()]
        ys = [float(v) / 1000 for v in values.values()]
        axis.plot(xs, ys, marker="o", markersize=3, label=label)
    axis.set_xscale("log")
    axis.set_yscale("log")
    ticks = [50, 90, 99, 99.9, 99.99]
    axis.set_xticks([1 / (1 - t / 100) for t in ticks])
    axis.set_xticklabels([f"p{t:g}" for t in ticks])
    axis.set_ylabel("latency (ms, log)")
    axis.set_xlabel("percentile (closed loop: tails hide coordinated omission)")
    axis.set_title("Latency distribution at 1 connection")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    path = image_dir / "bench-latency-1conn.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    written.append(str(path.relative_to(ROOT)))

    # Throughput against connections.
    connections = [1, 16, 64, 256]
    figure, axis = plt.subplots(figsize=(10.5, 4.8))
    axis.plot(connections, [results["echo"][str(c)]["requests_per_s"] for c in connections], marker="o", label="JSON echo baseline")
    axis.plot(connections, [results["capture"][str(c)]["requests_per_s"] for c in connections], marker="o", label="POST /capture")
    axis.plot(connections, [results["echo"][str(c)]["requests_per_s"] / 3 for c in connections], linestyle="--", color="gray",
              label="target: a third of the echo")
    axis.scatter([1, 64], [results["kafka_roundtrip"]["throughput_per_s"], results["kafka_roundtrip_c64"]["throughput_per_s"]],
                 marker="x", color="black", zorder=5, label="raw Kafka round trips (1 and 64 at a time)")
    axis.set_xscale("log", base=2)
    axis.set_xticks(connections)
    axis.set_xticklabels([str(c) for c in connections])
    axis.set_yscale("log")
    axis.set_xlabel("connections (wrk, closed loop)")
    axis.set_ylabel("requests per second (log)")
    axis.set_title("Throughput against connections")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    figure.tight_layout()
    path = image_dir / "bench-throughput.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    written.append(str(path.relative_to(ROOT)))
    return written


def fmt_ms(us: float) -> str:
    return f"{us / 1000:.2f}"


def mark(met: bool) -> str:
    return "met" if met else "**missed**"


def markdown(results: dict, json_copy: str) -> str:
    r = results
    q = r["ratios"]
    m = r["machine"]
    lines = []
    add = lines.append
    add("# Benchmarks")
    add("")
    add("<!-- Written by `make bench` (bench/run_bench.py): do not edit by hand. The analysis section is")
    add("     bench/benchmarks-notes.md, included as it is. -->")
    add("")
    add("DemoSync's performance claims, as ratios against baselines measured in the same run on the same")
    add("machine: the machines are shared and noisy, so absolute figures drift from run to run while the")
    add("ratios hold better. Figures from the run of " + r["timestamp"] + (" (**quick mode: short runs, indicative only**)" if r["quick"] else "") + ".")
    add("")
    add("## Targets")
    add("")
    add("| Target (issue 5) | Measured | Result |")
    add("| --- | --- | --- |")
    t = q["throughput_vs_echo"]
    add(f"| Capture throughput ≥ ⅓ of the JSON echo baseline | {t['value']:.3f} ({t['best_capture_per_s']:.0f}/s vs {t['best_echo_per_s']:.0f}/s, best of 16/64/256 connections) | {mark(t['met'])} |")
    p = q["p50_vs_raw_kafka"]
    add(f"| Capture p50 at 1 connection within 1 ms of the raw Kafka round trip | {p['value_ms']:+.2f} ms ({p['capture_p50_ms']:.2f} ms vs {p['kafka_p50_ms']:.2f} ms) | {mark(p['met'])} |")
    s = r["slow_processor"]
    add(f"| ≥ 90% of the Little's-law bound, 2 s processor, 1000 clients | {100 * s['fraction_of_bound']:.1f}% ({s['captures_per_s']:.1f}/s of {s['littles_law_bound_per_s']:.0f}/s) | {mark(q['littles_law']['met'])} |")
    mem = r["memory"]
    add(f"| < 5 KB resident memory per pending capture | {mem['bytes_per_pending_capture'] / 1024:.2f} KiB ({mem['pending']} pending) | {mark(q['memory_per_pending']['met'])} |")
    add("")
    add("## Baselines")
    add("")
    k, kj, k64 = r["kafka_roundtrip"], r["kafka_roundtrip_journal"], r["kafka_roundtrip_c64"]
    add("| Baseline | p50 (ms) | p99 (ms) | p99.9 (ms) | Throughput |")
    add("| --- | ---: | ---: | ---: | ---: |")
    add(f"| Raw Kafka round trip, sequential ({k['count']} round trips) | {fmt_ms(k['latency_us']['p50'])} | {fmt_ms(k['latency_us']['p99'])} | {fmt_ms(k['latency_us']['p99_9'])} | {k['throughput_per_s']:.0f}/s |")
    add(f"| Raw Kafka round trip + the simulator's journal hop ({kj['count']}) | {fmt_ms(kj['latency_us']['p50'])} | {fmt_ms(kj['latency_us']['p99'])} | {fmt_ms(kj['latency_us']['p99_9'])} | {kj['throughput_per_s']:.0f}/s |")
    add(f"| Raw Kafka round trips, 64 at a time ({k64['count']}) | {fmt_ms(k64['latency_us']['p50'])} | {fmt_ms(k64['latency_us']['p99'])} | {fmt_ms(k64['latency_us']['p99_9'])} | {k64['throughput_per_s']:.0f}/s |")
    e1 = r["echo"]["1"]
    add(f"| JSON echo, 1 connection (wrk) | {fmt_ms(e1['latency_us']['p50'])} | {fmt_ms(e1['latency_us']['p99'])} | {fmt_ms(e1['latency_us']['p99_9'])} | {e1['requests_per_s']:.0f}/s |")
    for c in (16, 64, 256):
        e = r["echo"][str(c)]
        add(f"| JSON echo, {c} connections (wrk) | {fmt_ms(e['latency_us']['p50'])} | {fmt_ms(e['latency_us']['p99'])} | {fmt_ms(e['latency_us']['p99_9'])} | {e['requests_per_s']:.0f}/s |")
    add("")
    add("## Captures (`serve` + `simulate --delay 0`)")
    add("")
    add("| Connections | Captures/s | vs echo | p50 (ms) | p99 (ms) | p99.9 (ms) | Non-2xx | Socket errors |")
    add("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for c in (1, 16, 64, 256):
        x = r["capture"][str(c)]
        ratio = x["requests_per_s"] / r["echo"][str(c)]["requests_per_s"]
        add(f"| {c} | {x['requests_per_s']:.0f} | {ratio:.3f} | {fmt_ms(x['latency_us']['p50'])} | {fmt_ms(x['latency_us']['p99'])} | {fmt_ms(x['latency_us']['p99_9'])} | {x['non_2xx']} | {x['socket_errors']} |")
    add("")
    outcomes = "; ".join(f"{c}: " + ", ".join(f"{k} {v}" for k, v in r["capture_outcomes"][c].items()) for c in r["capture_outcomes"])
    pending = ", ".join(f"{c}: {v:g}" if v is not None else f"{c}: n/a" for c, v in r["capture_pending_after"].items())
    add("CPU time per request (ms), measured from /proc during each run (2 cores in all):")
    add("")
    add("| Connections | echo server | wrk (echo) | serve | simulate | broker | wrk (captures) | serve ÷ echo server |")
    add("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for c in (1, 16, 64, 256):
        e, x = r["echo"][str(c)]["cpu_ms_per_request"], r["capture"][str(c)]["cpu_ms_per_request"]
        add(f"| {c} | {e['http-echo']:.3f} | {e['wrk']:.3f} | {x['serve']:.3f} | {x['simulate']:.3f} | {x['broker']:.3f} | {x['wrk']:.3f} | "
            f"{x['serve'] / e['http-echo']:.1f}× |")
    add("")
    add("Each row is measured on a fresh broker, `simulate` and `serve` (2 s of warm-up at the same connection count first).")
    add(f"Outcomes counted by `serve` (its `/metrics`), by connection count: {outcomes}. Pending right afterwards: {pending}. "
        "(wrk closes its connections with requests still in flight when its time is up: those end as `client_gone`, and are "
        "the ones still being cancelled when `pending` is read.)")
    add("")
    add(f"Capture p50 at 1 connection minus the raw round trip: {p['value_ms']:+.2f} ms; the raw round trip with the simulator's journal hop is "
        f"{p['kafka_with_journal_hop_p50_ms'] - p['kafka_p50_ms']:+.2f} ms over the plain one; the HTTP layer alone (echo p50) is "
        f"{p['echo_p50_ms']:.2f} ms. Best capture throughput is {t['vs_raw_kafka_c64']:.2f}× the raw Kafka round trips at 64.")
    add("")
    add("The latency percentiles come from wrk, a closed-loop tool: each connection waits for its answer before")
    add("sending again, so a stall delays the requests that would have been sent meanwhile instead of timing")
    add("them. **The p99 and p99.9 under load understate what an open-loop client would see (coordinated")
    add("omission).** At 1 connection they are faithful to that one client.")
    add("")
    add("![Latency distribution at 1 connection](img/bench-latency-1conn.png)")
    add("")
    add("![Throughput against connections](img/bench-throughput.png)")
    add("")
    add("### The local broker slows down as its topics grow")
    add("")
    add("Why every measurement above starts from a fresh broker: the same `serve` + `simulate` + broker, 64 connections, run after run.")
    add("")
    add("| Run | Captures before it | Captures/s | Broker CPU per capture (ms) | Broker RSS (MiB) |")
    add("| ---: | ---: | ---: | ---: | ---: |")
    for g in r["broker_growth"]:
        add(f"| {g['run']} | {g['captures_before']:,} | {g['captures_per_s']:.0f} | {g['broker_cpu_ms_per_capture']:.2f} | {(g['broker_rss_kib'] or 0) / 1024:.0f} |")
    add("")
    add("## Slow processor (Little's law)")
    add("")
    add(f"`simulate --delay 2000` (default `--concurrency` 1000), {s['clients']} concurrent clients (bench/httpload.py, closed loop, keep-alive), "
        f"the clients' first requests spread over the first {s['processing_delay_s']:.0f} s (so that they do not complete in synchronised waves), {s['warmup_s']} s warm-up then a {s['window_s']:.0f} s window. Little's law, L = λW, with L = {s['clients']} clients and W ≥ "
        f"{s['processing_delay_s']:.0f} s bounds the rate at λ ≤ {s['littles_law_bound_per_s']:.0f} captures/s.")
    add("")
    add("| Captures/s | Fraction of the bound | Mean latency (s) | p50 (s) | p99 (s) | Overhead over the delay (ms) | Statuses in the window |")
    add("| ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    lat = s["latency_s"]
    add(f"| {s['captures_per_s']:.1f} | {100 * s['fraction_of_bound']:.1f}% | {lat['mean']:.3f} | {lat['p50']:.3f} | {lat['p99']:.3f} | "
        f"{(s['overhead_per_capture_ms'] or 0):.0f} | {', '.join(f'{k}: {v}' for k, v in s['statuses_in_window'].items())} |")
    add("")
    add("## Memory per pending capture")
    add("")
    add(f"`serve` alone with its broker, no processor, so every capture stays pending (`--timeout 300s`). Resident memory")
    add(f"(VmRSS, median of 6 readings over 3 s) idle, with {mem['pending']} idle keep-alive connections, and with one capture pending on each")
    add("(`demosync_pending_captures` confirms the count); then the connections are closed, the captures end as `client_gone`, and the")
    add("same again. Per pending capture = (with pending − idle) / count: it includes the connection a waiting client holds.")
    add("")
    add("| Round | Idle (MiB) | + idle connections (MiB) | + pending captures (MiB) | After release (MiB) | Bytes per pending capture | of which the connection | of which the capture |")
    add("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for x in mem["rounds"]:
        add(f"| {x['round']} | {x['rss_idle_kib'] / 1024:.1f} | {x['rss_with_idle_connections_kib'] / 1024:.1f} | {x['rss_with_pending_kib'] / 1024:.1f} | "
            f"{x['rss_after_release_kib'] / 1024:.1f} | {x['bytes_per_pending_capture']:.0f} | {x['bytes_per_idle_connection']:.0f} | {x['bytes_per_capture_on_open_connection']:.0f} |")
    add("")
    ec = r["echo_idle_connections"]
    add(f"For comparison, the bare Hummingbird echo server grows by {ec['bytes_per_idle_connection']:.0f} bytes per idle keep-alive connection "
        f"({ec['connections']} connections): the connection share is the HTTP stack's, not DemoSync's.")
    add("")
    add("The target is judged on round 1 (the first time serve holds that many). Round 2 grows far less only because it reuses")
    add("the memory round 1 freed and glibc kept (RSS does not fall after the release): the live cost per capture is round 1's.")
    add("")
    notes = ROOT / "bench" / "benchmarks-notes.md"
    if notes.exists():
        add(notes.read_text().rstrip())
        add("")
    add("## The machine and the run")
    add("")
    add(f"- {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}; load average {m['load_average_at_start']} at the start, "
        f"{m.get('load_average_at_end')} at the end.")
    add("- Shared and noisy: other builds and tests may run at the same time (they did during the committed run: the lead was")
    add("  building and testing in parallel). Everything — wrk, the broker, `simulate`, `serve` — shares the same 2 cores,")
    add("  while the echo baseline shares them only with wrk; compare ratios, not absolute figures.")
    add(f"- Broker: Tansu (memory storage) on loopback. Client profile `local` (`fetch.wait.max.ms=5`: Tansu holds every fetch for")
    add("  that long, which dominates the Kafka round trip). 3 partitions per topic.")
    add(f"- {r['tools']['wrk']}; {r['tools']['swift']}; demosync {r['tools']['demosync']}.")
    add("")
    add("## Reproduce")
    add("")
    add("```sh")
    add("make bench          # installs what is missing (wrk, the Python venv with matplotlib), builds release, runs ~4 minutes")
    add("BENCH_ARGS=--quick make bench   # a shorter run for trying changes; not for the committed figures")
    add("```")
    add("")
    add(f"Raw results: `{json_copy}` (this run; every run also writes `bench/results/bench-<timestamp>.json`, with the")
    add("processes' logs beside it). The commands used:")
    add("")
    add("```sh")
    add(r["kafka_roundtrip"]["command"])
    add(r["echo"]["64"]["command"].replace(str(ROOT) + "/", ""))
    add(r["capture"]["64"]["command"].replace(str(ROOT) + "/", ""))
    add("```")
    add("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", help="where the release demosync and demosync-bench are")
    parser.add_argument("--render", metavar="RESULTS.json", help="only rewrite docs/benchmarks.md and the plots from a results file")
    parser.add_argument("--quick", action="store_true", help="short runs, for trying changes (figures are indicative only)")
    parser.add_argument("--no-docs", action="store_true", help="write only bench/results, not docs/")
    args = parser.parse_args()
    install_signal_handlers()
    if args.render:
        results = json.loads(Path(args.render).read_text())
        results["images"] = plots(results, DOCS / "img")
        (DOCS / "benchmarks.md").write_text(markdown(results, "docs/benchmarks.json"))
        log("rewrote docs/benchmarks.md and " + ", ".join(results["images"]))
        return 0
    if not args.bin_dir:
        parser.error("--bin-dir is required")
    if not shutil.which("wrk"):
        print("wrk is missing: `make bench` installs it (apt-get install wrk)", file=sys.stderr)
        return 1
    try:
        results = run(args)
    except StackError as error:
        print(f"[bench] failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("[bench] interrupted; everything started was stopped", file=sys.stderr)
        return 130
    results_path = ROOT / "bench" / "results" / f"bench-{results['timestamp']}.json"
    dump_json(results_path, results)
    log(f"wrote {results_path.relative_to(ROOT)}")
    if not args.no_docs:
        dump_json(DOCS / "benchmarks.json", results)
        results["images"] = plots(results, DOCS / "img")
        (DOCS / "benchmarks.md").write_text(markdown(results, "docs/benchmarks.json"))
        log("wrote docs/benchmarks.md, docs/benchmarks.json, " + ", ".join(results["images"]))
    for name, ratio in results["ratios"].items():
        log(f"{name}: {'met' if ratio['met'] else 'MISSED'} ({ {k: v for k, v in ratio.items() if k in ('value', 'value_ms', 'value_bytes')} })")
    return 0


if __name__ == "__main__":
    sys.exit(main())

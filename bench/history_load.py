#!/usr/bin/env python3
"""What a `serve` replica pays at start-up for reading the captures already in Kafka.

Since every replica reads every request record and every reply from the beginning of the topics
(and is ready only once it has read what they held when it started), a new replica's start-up
time and memory grow with what the topics hold. This measures both, on one fresh broker:

1. a broker, `simulate --delay 0` and a loader `serve` (the topics are created with
   --partitions P);
2. N = 0: a new `serve` replica on the still empty topics (the baseline);
3. for each N in --counts (cumulative): captures are sent through the loader serve (bench/httpload.py,
   closed loop, --concurrency clients, a unique transaction id each) until N captures have been
   answered in all; then a NEW serve replica is started and measured: seconds until
   GET /health/ready answers 200, its "captures already in Kafka loaded" log line (duration_ms,
   requests_read, replies_read, captures_remembered), the CPU time it spent until ready, and its
   resident memory (VmRSS, /proc) when ready and settled (median over 3 s), against the N = 0
   replica's; then it is stopped.

Production is bounded by --budget seconds: when the next N cannot be reached in time, the replica
is measured at what was reached and the run ends (the JSON and the table say so).

Writes bench/results/history-load-<timestamp>.json (logs beside it) and prints a table.

    history_load.py --bin-dir .build-bench/release [--counts 10000,50000,100000] [--partitions 48]
                    [--concurrency 128] [--budget 480]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, str(Path(__file__).resolve().parent))

from httpload import CaptureLoad  # noqa: E402
from stack import ROOT, Stack, StackError, dump_json, http_get, install_signal_handlers, machine_description, raise_fd_limit, rss_kib, scrape  # noqa: E402

LOADED_LINE = "captures already in Kafka loaded"


def log(message: str) -> None:
    print(f"[history {time.strftime('%H:%M:%S')}] {message}", flush=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def loaded_line(log_path: Path) -> dict | None:
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if LOADED_LINE in line:
            figures: dict[str, object] = {}
            for name, value in re.findall(r"(\w+)=(\S+)", line):
                figures[name] = int(value) if value.isdigit() else value
            return figures
    return None


def simulate_requests(port: int) -> int | None:
    """Request records the simulator has taken (answered, repeated, expired or malformed)."""
    metrics = scrape(port)
    if not metrics:
        return None
    return int(sum(v for k, v in metrics.items() if k.startswith("demosync_simulator_requests_total{")))


def measure_replica(stack: Stack, bootstrap: str, extra: list[str], name: str, timeout: float, others: dict[str, int]) -> dict:
    """Starts a new serve replica, waits until it is ready, and measures it (and the CPU the
    `others`, {name: pid}, used meanwhile: the broker serving the replica's fetches); stops it."""
    others_before = {n: cpu_seconds(pid) for n, pid in others.items()}
    started = time.monotonic()
    replica = stack.serve(bootstrap, extra, name=name, wait=False, log_level="info")
    url = f"http://127.0.0.1:{replica.port}/health/ready"
    ready_s = None
    peak_rss = 0
    while time.monotonic() - started < timeout:
        if not replica.alive():
            raise StackError(f"{name} exited with {replica.popen.returncode}:\n{replica.log_tail()}")
        peak_rss = max(peak_rss, rss_kib(replica.pid) or 0)
        status, _ = http_get(url, timeout=1)
        if status == 200:
            ready_s = time.monotonic() - started
            break
        time.sleep(0.05)
    result: dict = {"ready_after_s": round(ready_s, 3) if ready_s is not None else None}
    result["cpu_s_until_ready"] = round(cpu_seconds(replica.pid), 3)
    result["others_cpu_s_until_ready"] = {n: round(cpu_seconds(pid) - others_before[n], 3) for n, pid in others.items()}
    result["rss_at_ready_kib"] = rss_kib(replica.pid)
    result["rss_peak_sampled_before_ready_kib"] = peak_rss
    deadline = time.monotonic() + 10
    figures = loaded_line(replica.log)
    while figures is None and time.monotonic() < deadline:
        time.sleep(0.1)
        figures = loaded_line(replica.log)
    result["loaded_line"] = figures
    samples = []
    for _ in range(6):
        time.sleep(0.5)
        samples.append(rss_kib(replica.pid) or 0)
    result["rss_settled_kib"] = sorted(samples)[len(samples) // 2]
    result["vm_hwm_kib"] = proc_status(replica.pid, "VmHWM")
    result["threads"] = proc_status(replica.pid, "Threads")
    metrics = scrape(replica.port) or {}
    result["pending_captures"] = metrics.get("demosync_pending_captures")
    stack.stop(replica)
    return result


async def produce(port: int, count: int, concurrency: int, prefix: str, budget: float) -> dict:
    load = CaptureLoad(port, concurrency, prefix=prefix, total=count, timeout=120, keep_records=False)
    started = time.monotonic()
    timed_out = False
    try:
        await asyncio.wait_for(load.run(), budget)
    except asyncio.TimeoutError:
        timed_out = True
        load.stop()
    elapsed = time.monotonic() - started
    return {"asked": count, "sent": load.sent, "answered": load.done, "ok": load.status_counts.get("200", 0),
            "status_counts": dict(sorted(load.status_counts.items())), "elapsed_s": round(elapsed, 2),
            "captures_per_s": round(load.done / elapsed, 1) if elapsed else None, "stopped_by_budget": timed_out}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--counts", default="10000,50000,100000", help="cumulative captures in the topics at each measurement")
    parser.add_argument("--partitions", type=int, default=48, help="partitions of the topics (the local broker slows down as one fills)")
    parser.add_argument("--concurrency", type=int, default=128, help="closed-loop clients producing the captures")
    parser.add_argument("--budget", type=float, default=480, help="seconds allowed for producing captures, in all")
    parser.add_argument("--ready-timeout", type=float, default=240)
    args = parser.parse_args()
    install_signal_handlers()
    raise_fd_limit()
    counts = [int(x) for x in args.counts.split(",") if x.strip()]
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    log_dir = ROOT / "bench" / "results" / f"history-load-{stamp}-logs"
    stack = Stack(Path(args.bin_dir), log_dir)
    partitions = ["--partitions", str(args.partitions)]
    # The loader's captures must outlast the local broker's stalls (docs/reliability.md).
    loader_extra = partitions + ["--timeout", "90s"]
    replica_extra = partitions
    results: dict = {"timestamp": stamp, "machine": machine_description(), "partitions": args.partitions,
                     "concurrency": args.concurrency, "budget_s": args.budget, "counts_asked": counts, "rows": []}
    run_started = time.monotonic()
    try:
        broker = stack.broker()
        bootstrap = f"127.0.0.1:{broker.port}"
        simulate = stack.simulate(bootstrap, 0, partitions)
        loader = stack.serve(bootstrap, loader_extra, name="serve-loader")
        log(f"broker, simulate --delay 0 and the loader serve up ({args.partitions} partitions); N = 0: a replica on empty topics")
        others = {"broker": broker.pid, "simulate": simulate.pid, "serve-loader": loader.pid}
        baseline = measure_replica(stack, bootstrap, replica_extra, "serve-new-0", args.ready_timeout, others)
        baseline.update({"captures_in_topics": 0, "request_records": simulate_requests(simulate.port) or 0})
        results["rows"].append(baseline)
        log(f"  N=0: ready after {baseline['ready_after_s']} s, RSS {baseline['rss_settled_kib'] / 1024:.1f} MiB, {baseline['loaded_line']}")
        produced = 0
        production_left = args.budget
        for target in counts:
            if production_left <= 0:
                break
            log(f"producing {target - produced:,} captures (to {target:,}) at {args.concurrency} concurrency")
            step = asyncio.run(produce(loader.port, target - produced, args.concurrency, f"hist_{stamp}_{target}", production_left))
            production_left -= step["elapsed_s"]
            produced += step["ok"]
            log(f"  {step['answered']:,} answered in {step['elapsed_s']} s ({step['captures_per_s']}/s): {step['status_counts']}")
            time.sleep(1)  # the last replies reach the topic
            row = measure_replica(stack, bootstrap, replica_extra, f"serve-new-{target}", args.ready_timeout, others)
            row.update({"captures_in_topics": produced, "target": target, "production": step,
                        "request_records": simulate_requests(simulate.port), "broker_rss_kib": rss_kib(broker.pid)})
            results["rows"].append(row)
            lp = row["loaded_line"] or {}
            log(f"  N={produced:,}: ready after {row['ready_after_s']} s, loaded {lp}, RSS {row['rss_settled_kib'] / 1024:.1f} MiB")
            if step["stopped_by_budget"]:
                log("  production budget spent: stopping here")
                break
    except (StackError, KeyboardInterrupt) as error:
        results["error"] = str(error).splitlines()[0] if str(error) else type(error).__name__
        log(f"error: {results['error']}")
    finally:
        stack.teardown()
    results["elapsed_s"] = round(time.monotonic() - run_started, 1)
    base = results["rows"][0] if results["rows"] else None
    for row in results["rows"]:
        if base and row["captures_in_topics"]:
            row["rss_growth_kib"] = row["rss_settled_kib"] - base["rss_settled_kib"]
            row["bytes_per_capture"] = round(row["rss_growth_kib"] * 1024 / row["captures_in_topics"], 1)
            row["bytes_per_capture_at_ready"] = round((row["rss_at_ready_kib"] - base["rss_at_ready_kib"]) * 1024 / row["captures_in_topics"], 1)
    path = ROOT / "bench" / "results" / f"history-load-{stamp}.json"
    dump_json(path, results)
    print(table(results))
    log(f"wrote {path.relative_to(ROOT)} in {results['elapsed_s']} s")
    return 0 if "error" not in results else 1


def table(results: dict) -> str:
    header = ["captures in topics", "request records", "ready after (s)", "duration_ms", "requests_read", "replies_read",
              "captures_remembered", "CPU until ready (s)", "broker CPU meanwhile (s)", "RSS ready (MiB)", "RSS settled (MiB)", "VmHWM (MiB)",
              "bytes/capture"]
    rows = [header]
    for row in results["rows"]:
        lp = row.get("loaded_line") or {}
        rows.append([f"{row['captures_in_topics']:,}", f"{row.get('request_records') or 0:,}", str(row["ready_after_s"]),
                     str(lp.get("duration_ms")), str(lp.get("requests_read")), str(lp.get("replies_read")), str(lp.get("captures_remembered")),
                     str(row["cpu_s_until_ready"]), str((row.get("others_cpu_s_until_ready") or {}).get("broker", "-")),
                     f"{(row['rss_at_ready_kib'] or 0) / 1024:.1f}", f"{row['rss_settled_kib'] / 1024:.1f}",
                     f"{(row['vm_hwm_kib'] or 0) / 1024:.1f}", str(row.get("bytes_per_capture", "-"))])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join(" | ".join(cell.rjust(widths[i]) for i, cell in enumerate(r)) for r in rows)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A/B of the cost per capture before and after replicas started reading every request record
(and every reply) from the beginning of the topics.

Two builds of `demosync` (--old and --new; each runs both `simulate` and `serve`), alternated
run by run (round 1 old then new, round 2 new then old, ...), --rounds rounds each, every run on a
fresh broker + `simulate --delay 0`, in two topologies:

- ONE `serve`: wrk at 64 connections for --seconds s (after a --warmup s wrk warm-up), as
  bench/run_bench.py's capture runs (bench/post_capture.lua, a unique transaction id per request);
- THREE `serve` replicas, the same wrk load on replica 1 only: what the other two pay for reading
  what replica 1 sends and receives, and what the broker pays for serving them.

Per run: captures/s, CPU ms per capture (utime + stime from /proc/<pid>/stat over the measured wrk
run, divided by the captures wrk counted) of each serve, simulate, the broker and wrk, and each
serve's resident memory right afterwards. Prints a table of the medians per build and topology,
and writes bench/results/scaleout-ab-<timestamp>.json (logs beside it).

    scaleout_ab.py --old /tmp/pre10/.build-bench/release/demosync --new .build-bench/release/demosync
                   [--bin-dir .build-bench/release] [--rounds 3] [--seconds 8] [--warmup 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_bench import diff_counts, outcome_counts, wrk  # noqa: E402
from stack import ROOT, Stack, StackError, dump_json, install_signal_handlers, machine_description, raise_fd_limit, scrape  # noqa: E402
from httpload import CAPTURE_PATH  # noqa: E402


def log(message: str) -> None:
    print(f"[ab {time.strftime('%H:%M:%S')}] {message}", flush=True)


def one_run(stack: Stack, binary: Path, replicas: int, seconds: int, warmup: int, tag: str) -> dict:
    try:
        broker = stack.broker()
        bootstrap = f"127.0.0.1:{broker.port}"
        simulate = stack.simulate(bootstrap, 0, demosync=binary)
        serves = [stack.serve(bootstrap, name=f"serve-{i + 1}", demosync=binary) for i in range(replicas)]
        url = f"http://127.0.0.1:{serves[0].port}{CAPTURE_PATH}"
        wrk(url, 64, warmup, f"warm{tag}")
        before = outcome_counts(scrape(serves[0].port))
        pids = {f"serve-{i + 1}": s.pid for i, s in enumerate(serves)}
        pids.update({"simulate": simulate.pid, "broker": broker.pid})
        result = wrk(url, 64, seconds, tag, pids)
        result["outcomes"] = diff_counts(outcome_counts(scrape(serves[0].port)), before)
        result["rss_kib"] = {f"serve-{i + 1}": s.rss_kib() for i, s in enumerate(serves)}
        result["rss_kib"]["simulate"] = simulate.rss_kib()
        result["rss_kib"]["broker"] = broker.rss_kib()
        result.pop("percentiles_us", None)
        return result
    finally:
        stack.teardown()


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(runs: list[dict]) -> list[dict]:
    rows = []
    for variant in ("old", "new"):
        for replicas in (1, 3):
            mine = [r for r in runs if r["variant"] == variant and r["replicas"] == replicas]
            if not mine:
                continue
            names = list(mine[0]["cpu_ms_per_request"])
            row = {"variant": variant, "replicas": replicas, "runs": len(mine),
                   "captures_per_s": median([r["requests_per_s"] for r in mine]),
                   "p50_ms": median([r["latency_us"]["p50"] / 1000 for r in mine]),
                   "non_2xx": sum(r["non_2xx"] for r in mine), "socket_errors": sum(r["socket_errors"] for r in mine),
                   "cpu_ms_per_capture": {n: median([r["cpu_ms_per_request"][n] for r in mine]) for n in names},
                   "cpu_ms_per_capture_all_but_wrk": median([sum(v for k, v in r["cpu_ms_per_request"].items() if k != "wrk") for r in mine]),
                   "rss_mib": {n: median([(r["rss_kib"][n] or 0) / 1024 for r in mine]) for n in mine[0]["rss_kib"]}}
            rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    header = ["build", "serves", "captures/s", "p50 ms", "serve-1 CPU ms", "serve-2", "serve-3", "simulate", "broker", "total (no wrk)",
              "serve-1 RSS MiB", "serve-2 RSS", "serve-3 RSS"]
    lines = [header]
    for r in rows:
        cpu, rss = r["cpu_ms_per_capture"], r["rss_mib"]

        def f(value, digits=3):
            return "-" if value is None else f"{value:.{digits}f}"

        lines.append([r["variant"], str(r["replicas"]), f(r["captures_per_s"], 0), f(r["p50_ms"], 1), f(cpu.get("serve-1")),
                      f(cpu.get("serve-2")), f(cpu.get("serve-3")), f(cpu.get("simulate")), f(cpu.get("broker")),
                      f(r["cpu_ms_per_capture_all_but_wrk"]), f(rss.get("serve-1"), 1), f(rss.get("serve-2"), 1), f(rss.get("serve-3"), 1)])
    widths = [max(len(l[i]) for l in lines) for i in range(len(header))]
    return "\n".join(" | ".join(c.rjust(widths[i]) for i, c in enumerate(l)) for l in lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", required=True, help="demosync built before the change")
    parser.add_argument("--new", required=True, help="demosync built after the change")
    parser.add_argument("--bin-dir", default=str(ROOT / ".build-bench" / "release"), help="where Stack finds demosync-bench")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    install_signal_handlers()
    raise_fd_limit()
    if not shutil.which("wrk"):
        print("wrk is missing (apt-get install wrk)", file=sys.stderr)
        return 1
    binaries = {"old": Path(args.old).resolve(), "new": Path(args.new).resolve()}
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    log_dir = ROOT / "bench" / "results" / f"scaleout-ab-{stamp}-logs"
    results: dict = {"timestamp": stamp, "machine": machine_description(), "binaries": {k: str(v) for k, v in binaries.items()},
                     "seconds": args.seconds, "warmup": args.warmup, "connections": 64, "runs": []}
    started = time.monotonic()
    try:
        for round_number in range(1, args.rounds + 1):
            order = ("old", "new") if round_number % 2 else ("new", "old")
            for replicas in (1, 3):
                for variant in order:
                    stack = Stack(Path(args.bin_dir), log_dir / f"r{round_number}-{variant}-{replicas}")
                    tag = f"ab{stamp}r{round_number}{variant}{replicas}"
                    run = one_run(stack, binaries[variant], replicas, args.seconds, args.warmup, tag)
                    run.update({"round": round_number, "variant": variant, "replicas": replicas})
                    results["runs"].append(run)
                    cpu = run["cpu_ms_per_request"]
                    log(f"round {round_number} {variant} x{replicas}: {run['requests_per_s']:.0f}/s, "
                        + ", ".join(f"{k} {v:.3f}" for k, v in cpu.items()) + " ms CPU per capture; non-2xx "
                        f"{run['non_2xx']}, socket errors {run['socket_errors']}")
    except (StackError, KeyboardInterrupt) as error:
        results["error"] = str(error).splitlines()[0] if str(error) else type(error).__name__
        log(f"error: {results['error']}")
    results["medians"] = summarise(results["runs"])
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    path = ROOT / "bench" / "results" / f"scaleout-ab-{stamp}.json"
    dump_json(path, results)
    print(table(results["medians"]))
    log(f"wrote {path.relative_to(ROOT)}")
    return 0 if "error" not in results else 1


if __name__ == "__main__":
    sys.exit(main())

"""``python -m benchmarks [--smoke]``: run everything against a fresh local cloud and the floor."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any, NamedTuple

from workshop_utils import stack
from workshop_utils.localcloud import LocalCloud

from . import cloud as cloudbench
from . import report
from .clients import Swarm
from .floor import FloorServer
from .machine import children, describe, load_average, rss_kb
from .sdkfloor import SdkPoster
from .stats import median_of, ratio, summary_ms

RESULTS = Path(__file__).resolve().parent / "results"

FULL = {"sizes": [10, 100, 500], "messages": 50, "warmup": 3, "reps": 3, "connects": 1000,
        "concurrency": 50, "invokes": 300, "cold_starts": 5}
SMOKE = {"sizes": [5], "messages": 3, "warmup": 1, "reps": 1, "connects": 20,
         "concurrency": 10, "invokes": 20, "cold_starts": 2}
MESSAGE_TIMEOUT_S = 20.0  # per message: a lost delivery shows up as a shortfall, not a hang
TABLE_TIMEOUT_S = 120.0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--smoke", action="store_true", help="tiny sizes (what CI runs)")
    p.add_argument("--name", help="result name (default: full, or smoke with --smoke)")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    p.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--messages", type=int)
    p.add_argument("--reps", type=int)
    p.add_argument("--connects", type=int)
    p.add_argument("--invokes", type=int)
    p.add_argument("--only", choices=["broadcast", "connect", "lambda"], action="append",
                   help="run only these parts (repeatable); default: all")
    p.add_argument("--no-plot", action="store_true")
    return p.parse_args(argv)


# --- one broadcast run ----------------------------------------------------------------------

class SdkFloor(NamedTuple):
    target: Any  # the chat's target: its table lists the connection ids
    endpoint: str  # the stage's @connections URL on the local gateway
    sequential: bool = False  # one post after the other instead of the handler's pool


async def _broadcast_run(url: str, n: int, cfg: dict[str, Any], tag: str,
                         sdk_floor: SdkFloor | None = None) -> dict[str, Any]:
    """Open ``n`` clients on ``url`` and time the broadcasts; with ``sdk_floor`` the messages
    come from the handler's fan-out run in a plain process instead of a client's frame."""
    swarm = Swarm()
    try:
        connect_s, failures = await swarm.open(url, n, cfg["concurrency"])
        if failures or len(swarm.conns) != n:
            raise RuntimeError(f"{failures} of {n} connections failed to open at {url}")
        if sdk_floor is None:
            run = await swarm.broadcast(cfg["messages"], tag, timeout_s=MESSAGE_TIMEOUT_S,
                                        warmup=cfg["warmup"])
        else:
            stored = await asyncio.to_thread(cloudbench.wait_table, sdk_floor.target, n)
            if stored != n:
                raise RuntimeError(f"the table holds {stored} of {n} connections")
            ids = await asyncio.to_thread(cloudbench.connection_ids, sdk_floor.target)
            with SdkPoster(sdk_floor.endpoint, ids, sdk_floor.target.region,
                           ("testing", "testing"), sequential=sdk_floor.sequential) as poster:
                run = await swarm.broadcast(cfg["messages"], tag, timeout_s=MESSAGE_TIMEOUT_S,
                                            warmup=cfg["warmup"], send=poster.send)
    finally:
        await swarm.close()
    deliveries = sum(run.delivered)
    return {
        "clients": n, "messages": cfg["messages"],
        "latency_ms": summary_ms(run.latencies_s),
        "delivered_per_message": run.delivered,
        "all_delivered": all(d == n for d in run.delivered),
        "elapsed_s": round(run.elapsed_s, 3),
        "deliveries_per_s": round(deliveries / run.elapsed_s, 1) if run.elapsed_s else None,
        "messages_per_s": round(cfg["messages"] / run.elapsed_s, 2) if run.elapsed_s else None,
        "open_s": round(connect_s, 3),
    }


# --- one connect run ------------------------------------------------------------------------

def _rss(pid: int) -> dict[str, Any]:
    kids = children(pid)
    kid_kb = [k for k in (rss_kb(c) for c in kids) if k is not None]
    own = rss_kb(pid) or 0
    return {"process_mb": round(own / 1024, 1), "children": len(kid_kb),
            "children_mb": round(sum(kid_kb) / 1024, 1),
            "total_mb": round((own + sum(kid_kb)) / 1024, 1)}


async def _connect_run(url: str, n: int, cfg: dict[str, Any], pid: int,
                       target: Any = None) -> dict[str, Any]:
    before = _rss(pid)
    swarm = Swarm()
    try:
        open_s, failures = await swarm.open(url, n, cfg["concurrency"])
        held = len(swarm.conns)
        stored = None
        if target is not None:  # every $connect stored its item
            stored = await asyncio.to_thread(cloudbench.wait_table, target, held, 30.0)
        await asyncio.sleep(0.5)  # let the server settle before reading its memory
        still_open = sum(1 for ws in swarm.conns if ws.state.name == "OPEN")
        after = _rss(pid)
    finally:
        await swarm.close()
    return {"clients": n, "opened": held, "failures": failures, "still_open": still_open,
            "table_items": stored, "open_s": round(open_s, 3),
            "connects_per_s": round(held / open_s, 1) if open_s else None,
            "rss_before": before, "rss_held": after}


# --- the whole benchmark --------------------------------------------------------------------

def _median_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    lat = [r["latency_ms"] for r in runs]
    return {
        "p50_ms": median_of(lat, "p50"), "p95_ms": median_of(lat, "p95"),
        "p99_ms": median_of(lat, "p99"), "max_ms": median_of(lat, "max"),
        "deliveries_per_s": median_of(runs, "deliveries_per_s"),
        "messages_per_s": median_of(runs, "messages_per_s"),
        "all_delivered": all(r["all_delivered"] for r in runs), "runs": len(runs),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    cfg = dict(SMOKE if args.smoke else FULL)
    for key in ("sizes", "messages", "reps", "connects", "invokes"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    parts = set(args.only or ["broadcast", "connect", "lambda"])
    name = args.name or ("smoke" if args.smoke else "full")
    result: dict[str, Any] = {"name": name, "machine": describe(), "config": cfg,
                              "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    t_all = time.perf_counter()
    with FloorServer() as floor, LocalCloud() as cloud:
        target = cloudbench.target_for(cloud)
        api = stack.build_chat(target)
        cloudbench.deploy_empty(target)
        url = cloud.websocket_url(api.api_id, api.stage)
        cloud_pid = int(cloud.state["pid"])
        result["cloud"] = {"pid": cloud_pid, "max_workers_per_function":
                           cloud.settings.max_workers_per_function}
        if "lambda" in parts:  # on the fresh cloud first; again at the end, after the churn
            warm = cloudbench.warm_invokes(target, cfg["invokes"])
            _progress(f"lambda (fresh cloud): warm invoke p50 {warm['invoke_ms']['p50']} ms "
                      f"(floor {warm['floor_ms']['p50']} ms)")

        if "broadcast" in parts:
            endpoint = cloud.management_url(api.api_id, api.stage)
            sdk_floors = {"sdk_floor": SdkFloor(target, endpoint),
                          "sdk_sequential": SdkFloor(target, endpoint, sequential=True)}
            runs: dict[str, dict[int, list[dict[str, Any]]]] = {
                "floor": {}, "sdk_floor": {}, "sdk_sequential": {}, "cloud": {}}
            for rep in range(cfg["reps"]):
                for n in cfg["sizes"]:
                    tag = f"r{rep}n{n}"
                    fr = asyncio.run(_broadcast_run(floor.url, n, cfg, tag))
                    runs["floor"].setdefault(n, []).append(fr)
                    for system, sdk_floor in sdk_floors.items():
                        sr = asyncio.run(_broadcast_run(url, n, cfg, tag, sdk_floor))
                        sr["table_items_after_close"] = cloudbench.wait_table(
                            target, 0, TABLE_TIMEOUT_S)
                        runs[system].setdefault(n, []).append(sr)
                    sr = runs["sdk_floor"][n][-1]
                    cr = asyncio.run(_broadcast_run(url, n, cfg, tag))
                    cr["table_items_after_close"] = cloudbench.wait_table(
                        target, 0, TABLE_TIMEOUT_S)
                    runs["cloud"].setdefault(n, []).append(cr)
                    _progress(f"broadcast rep {rep + 1}/{cfg['reps']} N={n}: cloud p50 "
                              f"{cr['latency_ms']['p50']:.1f} ms, SDK floor p50 "
                              f"{sr['latency_ms']['p50']:.1f} ms, floor p50 "
                              f"{fr['latency_ms']['p50']:.1f} ms")
            summary = {}
            keys = ("p50_ms", "p95_ms", "p99_ms", "max_ms", "deliveries_per_s")
            for n in cfg["sizes"]:
                c = _median_summary(runs["cloud"][n])
                f = _median_summary(runs["floor"][n])
                sf = _median_summary(runs["sdk_floor"][n])
                summary[str(n)] = {"cloud": c, "floor": f, "sdk_floor": sf,
                                   "sdk_sequential": _median_summary(runs["sdk_sequential"][n]),
                                   "ratio": {k: ratio(c[k], f[k]) for k in keys},
                                   "ratio_sdk_floor": {k: ratio(c[k], sf[k]) for k in keys}}
            result["broadcast"] = {"summary": summary, "runs": {
                s: {str(n): r for n, r in by_n.items()} for s, by_n in runs.items()}}

        if "connect" in parts:
            fl, cl = [], []
            for rep in range(cfg["reps"]):
                fl.append(asyncio.run(_connect_run(floor.url, cfg["connects"], cfg, floor.pid)))
                cl.append(asyncio.run(_connect_run(url, cfg["connects"], cfg, cloud_pid,
                                                   target)))
                cl[-1]["table_items_after_close"] = cloudbench.wait_table(
                    target, 0, TABLE_TIMEOUT_S)
                _progress(f"connect rep {rep + 1}/{cfg['reps']}: cloud "
                          f"{cl[-1]['connects_per_s']}/s, floor {fl[-1]['connects_per_s']}/s, "
                          f"cloud RSS {cl[-1]['rss_held']}")

            def med(rs: list[dict[str, Any]], *path: str) -> float:
                vals = []
                for r in rs:
                    v: Any = r
                    for p in path:
                        v = v[p]
                    vals.append(v)
                return round(statistics.median(vals), 1)

            c = {"connects_per_s": med(cl, "connects_per_s"),
                 "rss_process_mb": med(cl, "rss_held", "process_mb"),
                 "rss_workers_mb": med(cl, "rss_held", "children_mb"),
                 "rss_total_mb": med(cl, "rss_held", "total_mb"),
                 "workers": med(cl, "rss_held", "children"),
                 "all_held": all(r["opened"] == r["clients"] == r["still_open"]
                                 and r["table_items"] == r["clients"] for r in cl)}
            f = {"connects_per_s": med(fl, "connects_per_s"),
                 "rss_process_mb": med(fl, "rss_held", "process_mb"),
                 "all_held": all(r["opened"] == r["clients"] == r["still_open"] for r in fl)}
            result["connect"] = {
                "clients": cfg["connects"], "concurrency": cfg["concurrency"],
                "cloud": c, "floor": f,
                "ratio": {"connects_per_s": ratio(c["connects_per_s"], f["connects_per_s"]),
                          "rss_process_mb": ratio(c["rss_process_mb"], f["rss_process_mb"]),
                          "rss_total_mb": ratio(c["rss_total_mb"], f["rss_process_mb"])},
                "runs": {"cloud": cl, "floor": fl}}

        if "lambda" in parts:
            after = cloudbench.warm_invokes(target, cfg["invokes"])
            cold = cloudbench.cold_starts(target, cfg["cold_starts"])
            for w in (warm, after):
                w["ratio_p50"] = ratio(w["invoke_ms"]["p50"], w["floor_ms"]["p50"])
                w["runtime_overhead_p50_ms"] = round(
                    w["invoke_ms"]["p50"] - w["floor_ms"]["p50"], 3)
            cold["ratio_p50"] = ratio(cold["cold_ms"]["p50"], cold["floor_ms"]["p50"])
            result["lambda"] = {"warm": warm, "warm_after_run": after, "cold": cold}
            _progress(f"lambda: warm invoke p50 {warm['invoke_ms']['p50']} ms "
                      f"(floor {warm['floor_ms']['p50']} ms), cold p50 {cold['cold_ms']['p50']} ms")

    result["elapsed_s"] = round(time.perf_counter() - t_all, 1)
    result["load_average_at_end"] = load_average()
    result["targets"] = report.targets(result)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.out_dir / f"{name}.json"
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    if not args.no_plot:
        report.plot(result, args.out_dir / f"{name}.png")
    print(report.table(result))
    print(f"\nwrote {json_path}")
    return 0


def _progress(line: str) -> None:
    print(f"[bench] {line}", flush=True)

"""The printed table, the targets check and the PNG plot of one result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TARGETS = {
    "broadcast_100_p50_ms": 40.0,
    "broadcast_100_p99_ms": 120.0,
    "connects_per_s": 200.0,
    "rss_mb": 400.0,
    "warm_invoke_ms": 3.0,
}


LABELS = {"cloud": "cloud", "sdk_floor": "SDK floor", "sdk_sequential": "SDK sequential",
          "floor": "floor"}


def targets(result: dict[str, Any]) -> dict[str, Any]:
    """Each target of issue 7 with the measured value and whether it is met (None: not run)."""
    out: dict[str, Any] = {}
    b = result.get("broadcast", {}).get("summary", {}).get("100")
    if b:
        out["broadcast_100_p50_ms"] = _check(b["cloud"]["p50_ms"], "<", 40.0)
        out["broadcast_100_p99_ms"] = _check(b["cloud"]["p99_ms"], "<", 120.0)
    c = result.get("connect")
    if c and c["clients"] >= 1000:
        out["connections_held"] = {"value": c["clients"], "met": c["cloud"]["all_held"]}
        out["connects_per_s"] = _check(c["cloud"]["connects_per_s"], ">=", 200.0)
        out["rss_process_mb"] = _check(c["cloud"]["rss_process_mb"], "<", 400.0)
        out["rss_total_mb"] = _check(c["cloud"]["rss_total_mb"], "<", 400.0)
    lam = result.get("lambda")
    if lam:
        out["warm_invoke_ms"] = _check(lam["warm"]["invoke_ms"]["p50"], "<", 3.0)
    return out


def _check(value: float, op: str, limit: float) -> dict[str, Any]:
    met = value < limit if op == "<" else value >= limit
    return {"value": value, "target": f"{op} {limit:g}", "met": bool(met)}


def _r(value: Any) -> str:
    return "-" if value is None else f"{value:.3g}x"


def table(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [f"# {result['name']}: {m['cpu_model']}, {m['cores']} cores, Python {m['python']}, "
             f"websockets {m['websockets']}, moto {m['moto']}, load {m['load_average_at_start']}"
             f" at start, {result.get('load_average_at_end')} at end; medians of "
             f"{result['config']['reps']} runs", ""]
    if "broadcast" in result:
        lines += ["| N | system | p50 ms | p95 ms | p99 ms | max ms | deliveries/s | msgs/s |"
                  " all delivered |", "|---|---|---|---|---|---|---|---|---|"]
        for n, s in result["broadcast"]["summary"].items():
            for system in LABELS:
                if system not in s:
                    continue  # results from before the SDK floor existed
                v = s[system]
                lines.append(f"| {n} | {LABELS[system]} | {v['p50_ms']:.1f} | {v['p95_ms']:.1f}"
                             f" | {v['p99_ms']:.1f} | {v['max_ms']:.1f} | "
                             f"{v['deliveries_per_s']:g} | {v['messages_per_s']:g} | "
                             f"{v['all_delivered']} |")
            for key, label in (("ratio", "cloud ÷ floor"), ("ratio_sdk_floor",
                                                           "cloud ÷ SDK floor")):
                if key in s:
                    r = s[key]
                    lines.append(f"| {n} | {label} | {_r(r['p50_ms'])} | {_r(r['p95_ms'])} | "
                                 f"{_r(r['p99_ms'])} | {_r(r['max_ms'])} | "
                                 f"{_r(r['deliveries_per_s'])} | | |")
        lines.append("")
    if "connect" in result:
        c = result["connect"]
        cl, fl, r = c["cloud"], c["floor"], c["ratio"]
        lines += [f"connect ({c['clients']} clients, {c['concurrency']} at a time):",
                  f"  cloud {cl['connects_per_s']:g}/s incl. $connect, floor "
                  f"{fl['connects_per_s']:g}/s, ratio {_r(r['connects_per_s'])}; all held: "
                  f"{cl['all_held']}",
                  f"  RSS with all open: cloud process {cl['rss_process_mb']:g} MB + "
                  f"{cl['workers']:g} Lambda workers {cl['rss_workers_mb']:g} MB = "
                  f"{cl['rss_total_mb']:g} MB; floor process {fl['rss_process_mb']:g} MB "
                  f"(ratio {_r(r['rss_process_mb'])} process, {_r(r['rss_total_mb'])} total)",
                  ""]
    if "lambda" in result:
        w, k = result["lambda"]["warm"], result["lambda"]["cold"]
        a = result["lambda"].get("warm_after_run", w)
        lines += [f"lambda.invoke warm, empty handler ({w['calls']} calls): p50 "
                  f"{w['invoke_ms']['p50']:.2f} ms, p95 {w['invoke_ms']['p95']:.2f} ms; floor "
                  f"({w['floor_what']}) p50 {w['floor_ms']['p50']:.2f}"
                  f" ms; ratio {_r(w['ratio_p50'])}; runtime share "
                  f"{w['runtime_overhead_p50_ms']:.2f} ms (fresh cloud, before everything else)",
                  f"  again at the end of the run (after the broadcast and connect churn): p50 "
                  f"{a['invoke_ms']['p50']:.2f} ms, floor p50 {a['floor_ms']['p50']:.2f} ms",
                  f"cold start ({k['reps']} reps): p50 {k['cold_ms']['p50']:.1f} ms, max "
                  f"{k['cold_ms']['max']:.1f} ms; floor ({k['floor_what']}) p50 "
                  f"{k['floor_ms']['p50']:.1f} ms; ratio {_r(k['ratio_p50'])}", ""]
    if result.get("targets"):
        lines.append("targets: " + ", ".join(
            f"{k} {v['value']:g} {v.get('target', '')} {'MET' if v['met'] else 'MISSED'}"
            for k, v in result["targets"].items()))
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    ax = axes[0]
    if "broadcast" in result:
        summary = result["broadcast"]["summary"]
        sizes = [int(n) for n in summary]
        for system, colour in (("cloud", "tab:blue"), ("sdk_floor", "tab:orange"),
                               ("sdk_sequential", "tab:green"), ("floor", "tab:gray")):
            if any(system not in summary[str(n)] for n in sizes):
                continue
            for key, style in (("p50_ms", "-o"), ("p99_ms", "--s")):
                ax.plot(sizes, [summary[str(n)][system][key] for n in sizes], style,
                        color=colour, label=f"{LABELS[system]} {key[:3]}")
        if 100 in sizes:
            ax.plot([100], [TARGETS["broadcast_100_p50_ms"]], "x", color="tab:red", ms=9,
                    label="target p50, N=100")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.set_xlabel("connected clients N")
        ax.set_ylabel("send -> last receipt (ms)")
        ax.set_title("broadcast latency")
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    ax = axes[1]
    if "connect" in result:
        c = result["connect"]
        ax.bar(["cloud\n($connect)", "floor"],
               [c["cloud"]["connects_per_s"], c["floor"]["connects_per_s"]],
               color=["tab:blue", "tab:gray"])
        ax.axhline(200, color="tab:red", ls=":", label="target 200/s")
        ax.set_ylabel("connections / s")
        ax.set_title(f"connect rate, {c['clients']} clients "
                     f"(RSS {c['cloud']['rss_total_mb']:g} MB)")
        ax.legend(fontsize=8)
    ax = axes[2]
    if "lambda" in result:
        w, k = result["lambda"]["warm"], result["lambda"]["cold"]
        labels = ["warm invoke", "DryRun floor", "cold start", "python start"]
        values = [w["invoke_ms"]["p50"], w["floor_ms"]["p50"], k["cold_ms"]["p50"],
                  k["floor_ms"]["p50"]]
        ax.bar(labels, values, color=["tab:blue", "tab:gray", "tab:blue", "tab:gray"])
        ax.set_yscale("log")
        ax.set_ylabel("ms (median)")
        ax.set_title("Lambda runtime")
        for i, v in enumerate(values):
            ax.text(i, v, f"{v:.1f}", ha="center", va="bottom", fontsize=8)
    m = result["machine"]
    fig.suptitle(f"local cloud vs floor: {m['cpu_model']}, {m['cores']} cores, Python "
                 f"{m['python']}, load {m['load_average_at_start']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

"""``python -m benchmarks.profile``: where the time of a broadcast goes, by py-spy.

Starts a fresh local cloud with the real stack, opens N clients, then keeps broadcasting (one
message after the other, as the benchmark does) while ``py-spy record`` samples the cloud
process and its Lambda workers (``--subprocesses``). Writes collapsed stacks (``--format raw``)
and prints the heaviest frames, inclusive and self, per process.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import time
from pathlib import Path

from workshop_utils import stack
from workshop_utils.localcloud import LocalCloud

from . import cloud as cloudbench
from .clients import Swarm


async def _drive(url: str, n: int, seconds: float, start_profiler) -> int:
    swarm = Swarm()
    try:
        await swarm.open(url, n, 50)
        await swarm.broadcast(10, "warm", timeout_s=20)
        proc = start_profiler()
        sent = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and sent < 100_000:
            await swarm.broadcast(5, f"p{sent}", timeout_s=20)
            sent += 5
        proc.wait(timeout=seconds + 60)
        return sent
    finally:
        await swarm.close()


def summarize(raw: Path, top: int = 25) -> str:
    """Heaviest frames of collapsed stacks: inclusive and self sample counts per process."""
    inclusive: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    own: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    totals: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        # --subprocesses nests a child's stacks under its parent's "process ..." frame
        cut = max(i for i, f in enumerate(frames) if f.startswith("process ")) \
            if any(f.startswith("process ") for f in frames) else -1
        proc = frames[cut] if cut >= 0 else "process ?"
        pid, _, cmd = proc[len("process "):].partition(":")
        key = f"pid {pid} {cmd.strip(chr(34)).split(' --settings-json')[0][-70:]}"
        frames = frames[cut + 1:]
        if not frames:
            continue
        c = int(count)
        totals[key] += c
        for f in set(frames):
            inclusive[key][f] += c
        own[key][frames[-1]] += c
    out = []
    for key, total in totals.most_common():
        out.append(f"\n== {key}: {total} samples")
        out.append("-- inclusive")
        out += [f"{100 * c / total:5.1f}% {f}" for f, c in inclusive[key].most_common(top)]
        out.append("-- self")
        out += [f"{100 * c / total:5.1f}% {f}" for f, c in own[key].most_common(top)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    p.add_argument("--out", type=Path, default=Path("/tmp/localcloud-profile.txt"))
    p.add_argument("--idle", action="store_true", help="also sample idle threads")
    p.add_argument("--gil", action="store_true",
                   help="only the thread holding the GIL (CPU of Python code, per process)")
    args = p.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with LocalCloud() as cloud:
        target = cloudbench.target_for(cloud)
        api = stack.build_chat(target)
        url = cloud.websocket_url(api.api_id, api.stage)
        pid = str(cloud.state["pid"])

        def start_profiler() -> subprocess.Popen[bytes]:
            cmd = [py_spy, "record", "--pid", pid, "--subprocesses", "--format", "raw",
                   "--rate", str(args.rate), "--duration", str(int(args.seconds)),
                   "--output", str(args.out), "--nonblocking"]
            if args.idle:
                cmd.append("--idle")
            if args.gil:
                cmd.append("--gil")
            return subprocess.Popen(cmd, stdout=subprocess.DEVNULL)

        sent = asyncio.run(_drive(url, args.clients, args.seconds, start_profiler))
    print(f"{sent} messages to {args.clients} clients while profiling; raw stacks: {args.out}")
    print(summarize(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

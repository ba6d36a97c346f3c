"""Client-side latency and payload of ``ttvis/epoch`` on a 50,000-sample run, over a real websocket.

Generates a synthetic run (50,000 samples, 512-d representations, 10 classes, 5 epochs,
DVI-layout results with a 256x256 background) under benchmarks/_data/big (git-ignored),
starts ``ttvis serve`` on it, and times requests from a websocket client. Target: under
50 ms per epoch after the first request.

    python benchmarks/server_epoch.py [--samples 50000] [--requests 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def make_run(path: Path, n: int, d: int = 512, c: int = 10, epochs: int = 5) -> None:
    from ttvis.dynamics import VisResults, atomic

    if (path / "visualize/DVI/projection" / f"{epochs}.npy").exists():
        return
    rng = np.random.default_rng(0)
    atomic.save_npy(path / "dataset/label/labels.npy", rng.integers(0, c, n))
    atomic.save_json(path / "index.json", {"train": list(range(int(n * 0.8))), "test": list(range(int(n * 0.8), n))})
    res = VisResults(path, "DVI", n)
    for e in range(1, epochs + 1):
        atomic.save_npy(path / f"dataset/representation/{e}.npy", rng.normal(size=(n, d)).astype(np.float32))
        atomic.save_npy(path / f"dataset/prediction/{e}.npy", rng.normal(size=(n, c)).astype(np.float32))
        res.write_scale(e, np.array([-10, -10, 10, 10], np.float32))
        res.write_background(e, rng.integers(0, 255, (256, 256, 3), dtype=np.uint8), rng.integers(0, c, (256, 256)))
        res.write_projection(e, rng.normal(size=(n, 2)).astype(np.float32) * 4)


async def measure(port: int, token: str, run: Path, requests: int, epochs: int) -> None:
    import websockets

    async with websockets.connect(f"ws://127.0.0.1:{port}/ws?token={token}", max_size=2**28) as ws:
        times, sizes = [], []
        for i in range(requests + 1):
            e = 1 + i % epochs
            t = time.perf_counter()
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": i, "method": "ttvis/epoch",
                                      "params": {"path": str(run), "method": "DVI", "epoch": e}}))
            raw = await ws.recv()
            msg = json.loads(raw)
            times.append((time.perf_counter() - t) * 1e3)
            sizes.append(len(raw))
            assert "result" in msg, msg
        first, rest = times[0], times[1:]
        print(f"ttvis/epoch on {run.name}: first request {first:.1f} ms; next {len(rest)}: "
              f"median {statistics.median(rest):.1f} ms, mean {statistics.mean(rest):.1f} ms, max {max(rest):.1f} ms")
        print(f"payload {sizes[-1] / 1e6:.2f} MB per epoch (JSON text incl. base64 arrays and the PNG)")
        print(f"target < 50 ms after the first: {'met' if statistics.median(rest) < 50 else 'NOT met'} (median)")


def start_serve(root: Path) -> tuple[subprocess.Popen, int, str]:
    """Start ``ttvis serve root``; (process, port, token) once it prints its URL."""
    proc = subprocess.Popen([sys.executable, "-m", "ttvis", "serve", str(root)], stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("ttvis serve exited")
        m = re.search(r":(\d+)/\?token=(\S+)", line)
        if m:
            return proc, int(m.group(1)), m.group(2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=50_000)
    ap.add_argument("--requests", type=int, default=30)
    args = ap.parse_args()
    run = Path(__file__).parent / "_data" / f"big{args.samples}"
    t = time.perf_counter()
    make_run(run, args.samples)
    print(f"synthetic run {run} ready ({time.perf_counter() - t:.1f} s)")
    proc, port, token = start_serve(run.parent)
    try:
        asyncio.run(measure(port, token, run, args.requests, 5))
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()

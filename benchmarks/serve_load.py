"""Load on `ttvis serve`: 8 websocket clients fetch epochs of a 50,000-sample run for 60 s.

Each client loops: ask `ttvis/epoch` for a random epoch, wait for the answer, repeat. Prints
the requests served, errors, throughput and the latency distribution (p50, p90, p99, max) of
the whole load. Target: p99 < 100 ms per epoch fetch on this machine. The run is the
synthetic one of benchmarks/server_epoch.py (benchmarks/_data/big50000, git-ignored).

    python benchmarks/serve_load.py [--clients 8] [--seconds 60] [--samples 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from server_epoch import make_run, start_serve  # noqa: E402


async def client(k: int, url: str, run: Path, epochs: int, until: float, lat: list[float], errors: list[str]) -> None:
    import websockets

    rnd = random.Random(k)
    async with websockets.connect(url, max_size=2**28) as ws:
        i = 0
        while time.perf_counter() < until:
            i += 1
            t = time.perf_counter()
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": i, "method": "ttvis/epoch",
                                      "params": {"path": str(run), "method": "DVI", "epoch": rnd.randint(1, epochs)}}))
            text = await ws.recv()
            lat.append((time.perf_counter() - t) * 1e3)
            # the client shares the 2 cores with the server: parse only what it needs (an answer
            # starts with its id and "result" or "error"), not 1.7 MB of JSON per fetch
            head = text[:200] if isinstance(text, str) else text[:200].decode("utf-8", "replace")
            if '"result"' not in head:
                errors.append(str(json.loads(text).get("error")) if '"error"' in head else head)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--samples", type=int, default=50_000)
    args = ap.parse_args()
    run = Path(__file__).parent / "_data" / f"big{args.samples}"
    make_run(run, args.samples)
    proc, port, token = start_serve(run.parent)
    url = f"ws://127.0.0.1:{port}/ws?token={token}"
    try:
        lat: list[float] = []
        errors: list[str] = []

        async def go() -> None:
            # one warm-up fetch per epoch (the server's first read of each epoch), not counted
            await asyncio.gather(*(client(100 + e, url, run, 5, time.perf_counter() + 0.01, [], []) for e in range(5)))
            until = time.perf_counter() + args.seconds
            await asyncio.gather(*(client(k, url, run, 5, until, lat, errors) for k in range(args.clients)))

        t0 = time.perf_counter()
        asyncio.run(go())
        wall = time.perf_counter() - t0
        q = statistics.quantiles(lat, n=100)
        print(f"{args.clients} clients x {args.seconds:.0f} s on {run.name}: {len(lat)} epoch fetches "
              f"({len(lat) / wall:.1f}/s), {len(errors)} errors")
        print(f"latency ms: p50 {q[49]:.1f}, p90 {q[89]:.1f}, p99 {q[98]:.1f}, max {max(lat):.1f}")
        print(f"target p99 < 100 ms: {'met' if q[98] < 100 else 'NOT met'}")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()

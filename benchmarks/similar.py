"""Similar samples at scale: the vector index (ttvis.dynamics.vectors, Milvus Lite) against exact
brute force on a synthetic 50,000 x 512 epoch: build time, query latency (p50/p99) and recall@10.

    python benchmarks/similar.py [--samples 50000] [--dims 512] [--queries 200] [--index-type auto]

The run is written once under benchmarks/_data/similar-N-D (git-ignored): 10 drifting clusters,
as in benchmarks/scale.py, one epoch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from scale import synthesize  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=50_000)
    ap.add_argument("--dims", type=int, default=512)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--index-type", default="auto")
    args = ap.parse_args()

    import torch

    from ttvis.dynamics import TrainingDynamics
    from ttvis.dynamics.vectors import VectorIndex

    path = Path(__file__).parent / "_data" / f"similar-{args.samples}-{args.dims}"
    if not (path / "synthetic.json").exists():
        synthesize(path, args.samples, args.dims, 1)
    run = TrainingDynamics(path)
    vi = VectorIndex(run, None, args.index_type)
    (path / "visualize" / "vectors.json").unlink(missing_ok=True)  # build afresh
    t = time.perf_counter()
    vi.ensure(1)
    build = time.perf_counter() - t
    x = np.asarray(run.representation(1), np.float32)
    xt = torch.from_numpy(x)
    rng = np.random.default_rng(0)
    qs = rng.choice(len(x), args.queries, replace=False)
    lat, rec, bf_lat = [], [], []
    for i in qs.tolist():
        t = time.perf_counter()
        hits = vi.similar(1, [i], 10)
        lat.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        d = ((xt - xt[i]) ** 2).sum(1)
        d[i] = float("inf")
        exact = set(torch.topk(d, 10, largest=False).indices.tolist())
        bf_lat.append((time.perf_counter() - t) * 1e3)
        rec.append(len({h["index"] for h in hits} & exact) / 10)
    q = statistics.quantiles(lat, n=100)
    qb = statistics.quantiles(bf_lat, n=100)
    print(f"{args.samples} x {args.dims}, {vi.kind} index in Milvus Lite: build {build:.1f} s")
    print(f"query ms: p50 {q[49]:.1f}, p99 {q[98]:.1f} (brute force in torch: p50 {qb[49]:.1f}, p99 {qb[98]:.1f})")
    print(f"recall@10 against brute force: {np.mean(rec):.3f} (min {min(rec):.1f}) over {len(qs)} queries")


if __name__ == "__main__":
    main()

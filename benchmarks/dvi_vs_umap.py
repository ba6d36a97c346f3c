"""DVI (ours) vs umap-learn's per-epoch ``UMAP().fit_transform`` on the same recorded run.

Both run in this process after a warm-up, so one-time numba compilation is not
counted. Prints each method's time, the ratio, and NPR@15 (all samples) at the last
epoch and averaged over epochs. Target (core issue): DVI <= 0.3 x umap-learn.

    python benchmarks/dvi_vs_umap.py [RUN] [--epochs 20]

Without RUN, the digits demo run is recorded to benchmarks/_data/digits (git-ignored).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", nargs="?", default=None, help="a training-dynamic folder (default: the digits demo run)")
    ap.add_argument("--epochs", type=int, default=20, help="epochs of the demo run to record (default 20)")
    args = ap.parse_args()

    import torch
    import umap

    from ttvis.dynamics import TrainingDynamics
    from ttvis.dynamics.source import RunSource
    from ttvis.metrics import neighbour_preserving_rate
    from ttvis.projection.registry import make_method

    path = Path(args.run) if args.run else Path(__file__).parent / "_data" / "digits"
    if not args.run and not (path / "dataset").exists():
        from ttvis.demo.digits import record_digits_run

        print(f"recording the digits demo run to {path} ...")
        record_digits_run(path, epochs=args.epochs)
    run = TrainingDynamics(path)
    epochs = run.epochs
    source = RunSource(run, "all")  # both methods fit every sample, as umap-learn does
    heads = {e: source.head(e) for e in epochs}  # load subject models outside the timings
    source.head = heads.get
    print(f"run {path}: {len(epochs)} epochs, {run.n_samples} samples, {run.dim} dims; "
          f"torch threads {torch.get_num_threads()}")

    # warm-up: numba compilation of umap-learn / pynndescent and our complex
    umap.UMAP().fit_transform(run.representation(epochs[-1]))
    for _ in make_method("DVI", {}, {"device": "cpu"}).fit(source, epochs[:2]):
        pass

    t = time.perf_counter()
    dvi_xy = {ep.epoch: ep.positions for ep in make_method("DVI", {}, {"device": "cpu"}).fit(source, epochs)}
    t_dvi = time.perf_counter() - t

    umap_xy, t_umap = {}, 0.0
    for e in epochs:
        x = run.representation(e)
        t = time.perf_counter()
        umap_xy[e] = umap.UMAP().fit_transform(x)
        t_umap += time.perf_counter() - t

    def npr(xy: dict) -> tuple[float, float]:
        vals = [neighbour_preserving_rate(run.representation(e), xy[e], 15) for e in epochs]
        return vals[-1], float(np.mean(vals))

    (d_last, d_mean), (u_last, u_mean) = npr(dvi_xy), npr(umap_xy)
    print(f"{'method':<28}{'seconds':>9}{'NPR@15 last':>13}{'NPR@15 mean':>13}")
    print(f"{'DVI (ttvis), all epochs':<28}{t_dvi:>9.2f}{d_last:>13.3f}{d_mean:>13.3f}")
    print(f"{'umap-learn, sum per epoch':<28}{t_umap:>9.2f}{u_last:>13.3f}{u_mean:>13.3f}")
    ratio = t_dvi / t_umap
    print(f"ratio DVI / umap-learn = {ratio:.3f}  (target <= 0.3: {'met' if ratio <= 0.3 else 'NOT met'})")


if __name__ == "__main__":
    main()

"""Scale benchmark: a synthetic run of the given size through `ttvis visualize`, per method, with
umap-learn on the same epochs as the yardstick, timed in the same run.

    python benchmarks/scale.py --samples 20000 --dims 128 --epochs 5 [--methods DVI,TimeVis] [--umap]

The run (written once under benchmarks/_data/scale-N-D-T-qI, git-ignored) has 10 classes whose
centres drift across epochs (a random walk) while each class's spread shrinks (the model
learns), samples at class centre + their own offset, which lies near an I-dimensional subspace
(`--intrinsic`, default 8; 0: isotropic in all D dims, as before 2026-11-26, where no method
can preserve neighbourhoods) + noise, a linear prediction head (model.py + model/E.pth:
nearest class centre, written as a linear layer) and an 80/20 split. Each method runs as
`python -m ttvis visualize` in its own process (peak RSS is that process's); the printed
table gives wall time, time per stage (from eval.json's per-epoch seconds and the stage
log), and peak RSS. umap-learn runs `UMAP().fit_transform` per epoch on the training samples
in its own process, after a warm-up fit (numba compilation not counted; ours is, in the first
epoch); its row is the time for all the epochs (`--umap-epochs N`: N of them timed, scaled),
and its NPR@15 on those epochs, scored as eval.json scores ours, is the quality yardstick.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

MODEL_PY = '''import torch
from torch import nn


class NearestCentre(nn.Module):
    """Representation -> class scores of a nearest-class-centre classifier, as a linear layer."""

    def __init__(self, dims: int = {dims}, classes: int = {classes}):
        super().__init__()
        self.head = nn.Linear(dims, classes)

    def feature(self, x):
        return x

    def prediction(self, h):
        return self.head(h)
'''


def synthesize(path: Path, n: int, d: int, t: int, classes: int = 10, seed: int = 0, intrinsic: int = 8) -> None:
    """Write the synthetic run (see the module docstring), one epoch at a time.

    ``intrinsic`` > 0: each sample's offset from its class centre lies near a random
    ``intrinsic``-dimensional subspace (plus 10 % isotropic noise), as a trained network's
    features do, so that neighbourhoods exist to preserve; 0: isotropic offsets in all ``d``
    dimensions, where every sample of a class is about equally far from every other (NPR ~ 0
    for any method)."""
    import torch

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    order = rng.permutation(n)
    train, test = np.sort(order[: int(0.8 * n)]), np.sort(order[int(0.8 * n):])
    for sub in ("dataset/representation", "dataset/prediction", "dataset/label", "model"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    np.save(path / "dataset/label/labels.npy", labels.astype(np.int64))
    (path / "index.json").write_text(json.dumps({"train": train.tolist(), "test": test.tolist()}))
    (path / "dataset/info.json").write_text(json.dumps({"classes": [f"class {c}" for c in range(classes)],
                                                          "model": {"class": "NearestCentre", "kwargs": {"dims": d, "classes": classes}}}))
    (path / "model.py").write_text(MODEL_PY.format(dims=d, classes=classes))
    centres = rng.normal(0, 1, (classes, d)).astype(np.float32)
    if intrinsic > 0:  # each sample's own direction, kept across epochs
        basis = rng.normal(0, 1, (intrinsic, d)).astype(np.float32) / np.sqrt(intrinsic)
        offsets = rng.normal(0, 1, (n, intrinsic)).astype(np.float32) @ basis
        offsets += rng.normal(0, 0.1, (n, d)).astype(np.float32)
    else:
        offsets = rng.normal(0, 1, (n, d)).astype(np.float32)
    mislabelled = rng.random(n) < 0.05  # some samples sit with another class
    home = np.where(mislabelled, rng.integers(0, classes, n), labels)
    for e in range(1, t + 1):
        centres += rng.normal(0, 0.08, centres.shape).astype(np.float32)
        spread = 1.5 / (1 + 0.15 * e)
        x = centres[home] + spread * offsets + rng.normal(0, 0.05, (n, d)).astype(np.float32)
        w, b = 2 * centres, -(centres ** 2).sum(1)
        np.save(path / f"dataset/representation/{e}.npy", x.astype(np.float32))
        np.save(path / f"dataset/prediction/{e}.npy", (x @ w.T + b).astype(np.float32))
        torch.save({"head.weight": torch.from_numpy(w), "head.bias": torch.from_numpy(b)}, path / f"model/{e}.pth")
    (path / "synthetic.json").write_text(json.dumps({"samples": n, "dims": d, "epochs": t, "classes": classes,
                                                         "intrinsic": intrinsic}))


UMAP_SCRIPT = '''
import json, resource, sys, time, warnings
import numpy as np
warnings.filterwarnings("ignore")
import umap
from ttvis.dynamics import TrainingDynamics
from ttvis.metrics.faithfulness import neighbour_preserving_rate
run = TrainingDynamics(sys.argv[1])
tr = run.train_index
umap.UMAP(n_neighbors=15).fit_transform(run.representation(run.epochs[0])[tr[:2000]])  # warm-up: numba compilation
epochs = run.epochs[: int(sys.argv[2])] if len(sys.argv) > 2 else run.epochs
seconds, npr = 0.0, []
for e in epochs:
    x = np.asarray(run.representation(e)[tr])
    t0 = time.perf_counter()
    low = umap.UMAP(n_neighbors=15).fit_transform(x)
    seconds += time.perf_counter() - t0
    npr.append(neighbour_preserving_rate(x, low, 15))  # as eval.json scores npr_train
print(json.dumps({"seconds": seconds, "epochs": len(epochs), "npr": float(np.mean(npr)),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def peak_rss_of(cmd: list[str], env: dict | None = None) -> tuple[int, float, float, str]:
    """Run ``cmd``; (exit status, wall seconds, peak RSS in MiB of the process tree's largest child, stderr)."""
    import resource

    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return r.returncode, wall, rss, r.stdout + r.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--dims", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--methods", default="DVI,TimeVis")
    ap.add_argument("--umap", action="store_true", help="also time umap-learn, one fit per epoch (the yardstick)")
    ap.add_argument("--umap-epochs", type=int, default=0,
                    help="time umap-learn on the first N epochs only and scale its time to all epochs (each fit "
                         "costs about the same; default: all)")
    ap.add_argument("--intrinsic", type=int, default=8,
                    help="dimension of the subspace each class's samples spread in (0: all dims, no neighbourhoods)")
    ap.add_argument("--data", default=str(Path(__file__).parent / "_data"))
    args = ap.parse_args()

    path = Path(args.data) / f"scale-{args.samples}-{args.dims}-{args.epochs}" f"{f'-q{args.intrinsic}' if args.intrinsic else ''}"
    if not (path / "synthetic.json").exists():
        t = time.perf_counter()
        synthesize(path, args.samples, args.dims, args.epochs, intrinsic=args.intrinsic)
        print(f"synthesized {path} in {time.perf_counter() - t:.0f} s", flush=True)
    rows = []
    for m in [s for s in args.methods.split(",") if s]:
        cmd = [sys.executable, "-m", "ttvis", "visualize", str(path), "--method", m, "--device", "auto", "--restart", "--quiet"]
        code, wall, _, out = peak_rss_of(cmd)
        if code != 0:
            print(f"{m}: failed\n{out[-2000:]}")
            continue
        ev = json.loads((path / "visualize" / m / "eval.json").read_text())
        stages = {"projection": 0.0, "territory": 0.0}
        for v in ev["epochs"].values():
            for k in stages:
                stages[k] += v.get("seconds", {}).get(k, 0.0)
        f = ev["summary"]["final"]
        timed = sorted(ev["epochs"], key=int)[: args.umap_epochs or args.epochs]  # the epochs umap-learn is scored on
        npr = float(np.mean([ev["epochs"][e]["npr_train"] for e in timed]))
        rows.append((m, wall, ev.get("peak_rss_mb"), stages, npr, f.get("ppr_train"),
                     ev["summary"]["temporal"].get("ranking_first"), ev.get("seconds")))
        print(f"{m}: {wall:.0f} s wall, peak RSS {ev.get('peak_rss_mb'):.0f} MB", flush=True)
    if args.umap:
        code, wall, _, out = peak_rss_of([sys.executable, "-c", UMAP_SCRIPT, str(path), str(args.umap_epochs or args.epochs)])
        u = json.loads(out.strip().splitlines()[-1]) if code == 0 else {}
        secs = u["seconds"] * args.epochs / u["epochs"] if u else None
        label = "umap-learn, each epoch" + (f" (x{args.epochs}/{u['epochs']})" if u and u["epochs"] < args.epochs else "")
        rows.append((label, secs, u.get("peak_rss_mb"), {}, u.get("npr"), None, None, secs))
    print(f"\n{args.samples} samples x {args.dims} dims x {args.epochs} epochs, intrinsic {args.intrinsic} ({os.cpu_count()} CPUs);"
          f" NPR tr: mean NPR@15 of the training samples over epochs 1..{args.umap_epochs or args.epochs}, PPR tr: last epoch's")
    print(f"{'method':<30}{'wall s':>8}{'in-run s':>9}{'s/epoch':>8}{'projection s':>13}{'territory s':>12}{'other s':>9}"
          f"{'peak RSS MB':>12}{'NPR tr':>8}{'PPR tr':>8}{'rank':>7}")
    for m, wall, rss, st, npr, ppr, rank, secs in rows:
        other = (secs - st.get("projection", 0) - st.get("territory", 0)) if secs and st else None
        fmt = lambda v, w=8, p=1: f"{v:>{w}.{p}f}" if isinstance(v, (int, float)) else f"{'-':>{w}}"  # noqa: E731
        print(f"{m:<30}{fmt(wall)}{fmt(secs, 9)}{fmt(secs / args.epochs if secs else None)}{fmt(st.get('projection'), 13)}"
              f"{fmt(st.get('territory'), 12)}{fmt(other, 9)}"
              f"{fmt(rss, 12, 0)}{fmt(npr, 8, 3)}{fmt(ppr, 8, 3)}{fmt(rank, 7, 3)}")


if __name__ == "__main__":
    main()

"""The trainer's stopping rule on the digits, seed by seed (issue: a test threshold must hold on any x86 CPU).

Trains DVI's vis model (UMAP + reconstruction) from a cold start on sklearn's digits complex twice per
seed: with rounds of 4,096 edges (5 a pass; the rule as on a large complex) and with one round a pass
(the per-pass rule), and prints the optimiser steps and the map's 5-NN accuracy (train on even rows,
score odd rows). Different seeds stand in for the float differences between CPUs.

    python benchmarks/stopping_rule.py --seeds 0-23
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0-7", help="a range a-b (inclusive)")
    a, b = (int(v) for v in ap.parse_args().seeds.split("-"))
    from sklearn.datasets import load_digits
    from sklearn.neighbors import KNeighborsClassifier
    from test_dvi import dvi_complex

    from ttvis.projection import trainer
    from ttvis.projection.losses import ReconstructionTerm, UmapTerm, umap_ab
    from ttvis.projection.networks import VisModel

    digits = load_digits()
    x = ((digits.data - digits.data.mean(0)) / digits.data.std()).astype(np.float32)
    edges = dvi_complex(x, None, 15, 0)
    ua, ub = umap_ab(1.0, 0.1)

    def train(check_edges: int, seed: int) -> tuple[int, float]:
        trainer.CHECK_EDGES = check_edges
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        model = VisModel(64, [64, 64])
        stats = trainer.train_vis_model(model, torch.as_tensor(x), edges, [UmapTerm(ua, ub), ReconstructionTerm(1.0)],
                                        negative_sample_rate=5, learning_rate=0.01, batch_size=256, max_epochs=8, patience=2,
                                        generator=gen, n_samples=len(x), negatives="batch")
        with torch.no_grad():
            xy = model.encode(torch.as_tensor(x)).numpy()
        return stats.steps, KNeighborsClassifier(5).fit(xy[::2], digits.target[::2]).score(xy[1::2], digits.target[1::2])

    print("| seed | rounds: steps | rounds: kNN acc | per pass: steps | per pass: kNN acc |\n| --- | --- | --- | --- | --- |")
    for seed in range(a, b + 1):
        (s1, k1), (s2, k2) = train(4096, seed), train(1 << 30, seed)
        print(f"| {seed} | {s1} | {k1:.3f} | {s2} | {k2:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""ttvis's methods on a published benchmark: Vernier et al.'s ``cifar10cnn`` (EuroVis 2020).

Imports the benchmark (``ttvis import vernier``: a CNN's softmax outputs for 1,000 CIFAR-10
images over 30 training steps) into a temporary folder, runs every registered method on it
(``fit_on all``: the benchmark has no split), scores each projection with the paper's own
measures (:mod:`ttvis.metrics.published`: ``stab_spearman``, NP@1 %, trust@1 %, on the raw
softmax vectors) and prints a markdown table of our rows beside the published ones. The same
code first scores the paper's own projections (``published-projections.zip``) and says whether
it reproduces the published numbers. Writes ``vernier.md``, ``vernier.json`` and a
stability-vs-NP scatter ``vernier.png`` (the published Pareto front drawn) under ``--out``.

    python benchmarks/vernier.py [--methods DVI,TimeVis] [--out benchmarks/_data/vernier]
        [--bench ../shared/benchmarks/vernier-cifar10cnn] [--device cpu]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO.parent / "shared" / "benchmarks" / "vernier-cifar10cnn"

#: the paper's table (README of the benchmark; repository HEAD a355329): stab_spearman, NP@1 %, trust@1 %
#: (None: not published); ``file``: the projection in published-projections.zip
PUBLISHED = [
    {"method": "VAE 100-10-2", "file": "VAE_100f_10f_2f_20ep", "stab_spearman": 0.890, "spat_np": 0.586, "trust": 0.989},
    {"method": "UMAP s4 (stacked)", "file": "umap_s4_15p", "stab_spearman": 0.711, "spat_np": 0.601, "trust": 0.981},
    {"method": "PCA s4", "file": "pca_s4", "stab_spearman": 0.654, "spat_np": 0.287, "trust": 0.956},
    {"method": "t-SNE s4", "file": "tsne_s4_30p", "stab_spearman": 0.642, "spat_np": 0.615, "trust": 0.971},
    {"method": "UMAP s1 (per step)", "file": "umap_s1_15p", "stab_spearman": -0.065, "spat_np": 0.659, "trust": 0.987},
    {"method": "AE", "file": None, "stab_spearman": 0.750, "spat_np": 0.419, "trust": None},
    {"method": "LD-tSNE (EuroVis 2021)", "file": None, "stab_spearman": 0.692, "spat_np": 0.603, "trust": None},
    {"method": "dt-SNE", "file": None, "stab_spearman": 0.284, "spat_np": 0.569, "trust": None},
    {"method": "t-SNE s1", "file": None, "stab_spearman": -0.158, "spat_np": 0.727, "trust": None},
    {"method": "PCA s1", "file": None, "stab_spearman": -0.137, "spat_np": 0.314, "trust": None},
]


def pareto(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both axes (both maximised), by increasing x."""
    front = [p for p in points if not any(q[0] >= p[0] and q[1] >= p[1] and q != p for q in points)]
    return sorted(front)


def reproduce(bench: Path, ids: list[str], high: list[np.ndarray]) -> list[dict]:
    """Our metric code on the paper's own projections: one row per file with both numbers."""
    from ttvis.dynamics.importers import read_vernier_projection
    from ttvis.metrics.published import published_measures

    rows = []
    for p in PUBLISHED:
        if not p["file"]:
            continue
        low = read_vernier_projection(bench / "published-projections.zip", f"cifar10cnn-{p['file']}.csv", ids)
        m = published_measures(high, list(low))
        ok = all(abs(m[k] - p[k]) <= 5e-4 for k in ("stab_spearman", "spat_np", "trust"))
        rows.append({**p, "ours": {k: m[k] for k in ("stab_spearman", "spat_np", "trust")}, "reproduced": ok})
    return rows


def run_method(run: Path, name: str, device: str | None) -> dict:
    """``name`` on the imported run (fit on all samples), scored with the published measures."""
    from ttvis.dynamics import TrainingDynamics
    from ttvis.dynamics.results import VisResults
    from ttvis.metrics.published import published_measures
    from ttvis.pipeline import visualize

    t = time.perf_counter()
    evals = visualize(run, name, run={"fit_on": "all", **({"device": device} if device else {})}, restart=True)
    seconds = time.perf_counter() - t
    tdyn = TrainingDynamics(run)
    res = VisResults(run, name, tdyn.n_samples)
    high = [tdyn.representation(e) for e in tdyn.epochs]
    low = [res.projection(e) for e in tdyn.epochs]
    m = published_measures(high, low)
    s = evals.get("summary") or {}
    return {"method": name, "stab_spearman": m["stab_spearman"], "spat_np": m["spat_np"], "trust": m["trust"],
            "seconds": seconds, "npr15_mean": (s.get("mean") or {}).get("npr_train"),
            "stability_standardised": (s.get("temporal") or {}).get("stability_standardised")}


def table(ours: list[dict], published: list[dict]) -> str:
    """Markdown: our rows, then the published ones."""
    def f(v):
        return "-" if v is None or not np.isfinite(v) else f"{v:.3f}"

    lines = ["| method | source | stab_spearman | NP@1 % | trust@1 % | seconds |", "| --- | --- | --- | --- | --- | --- |"]
    for r in ours:
        lines.append(f"| {r['method']} | ttvis, fit_on all | {f(r['stab_spearman'])} | {f(r['spat_np'])} | {f(r['trust'])} | "
                     f"{r['seconds']:.0f} |")
    for p in published:
        lines.append(f"| {p['method']} | Vernier et al. 2020 | {f(p['stab_spearman'])} | {f(p['spat_np'])} | {f(p['trust'])} | - |")
    return "\n".join(lines)


def scatter(ours: list[dict], path: Path) -> None:
    """Stability (x) vs NP@1 % (y): published points in grey with their Pareto front, ours in colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5), dpi=120)
    pts = [(p["stab_spearman"], p["spat_np"]) for p in PUBLISHED]
    for p in PUBLISHED:
        ax.scatter(p["stab_spearman"], p["spat_np"], color="0.55", s=25)
        below = p["method"].startswith("LD-tSNE")  # it sits next to stacked UMAP: label it underneath
        ax.annotate(p["method"], (p["stab_spearman"], p["spat_np"]), fontsize=7, color="0.35", xytext=(-40, -13) if below else (3, 3),
                    textcoords="offset points")
    front = pareto(pts)
    ax.plot([p[0] for p in front], [p[1] for p in front], "--", color="0.4", lw=1, label="published Pareto front")
    for i, r in enumerate(ours):
        if np.isfinite(r["stab_spearman"]) and np.isfinite(r["spat_np"]):
            ax.scatter(r["stab_spearman"], r["spat_np"], s=60, marker="D", color=plt.cm.tab10(i % 10), label=f"ttvis {r['method']}")
    ax.set_xlim(right=max(1.0, ax.get_xlim()[1]))
    ax.set_xlabel("stab_spearman (Vernier et al. 2020)")
    ax.set_ylabel("NP@1 % (spat_np)")
    ax.set_title("cifar10cnn: stability vs neighbourhood preservation (up and right is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center")
    fig.tight_layout()
    from ttvis.dynamics import atomic

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic.save_bytes(path, buf.getvalue())


def main() -> None:
    """Parse the options, import the benchmark, reproduce the paper's rows, run and score our methods."""
    from ttvis.projection.registry import get_method, methods

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default=",".join(methods()), help="comma-separated methods (default: every registered one)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "_data" / "vernier"), help="folder for vernier.{md,json,png}")
    ap.add_argument("--bench", default=str(BENCH), help="the benchmark folder (cifar10cnn.zip, published-projections.zip)")
    ap.add_argument("--device", default=None, choices=["auto", "cpu", "cuda"], help="torch device (default: auto)")
    args = ap.parse_args()

    from ttvis.dynamics import atomic
    from ttvis.dynamics.importers import import_vernier, read_vernier

    bench, out = Path(args.bench), Path(args.out)
    names = [get_method(m.strip()).name for m in args.methods.split(",") if m.strip()]
    ids, high = read_vernier(bench / "cifar10cnn.zip")
    rep = reproduce(bench, ids, high)
    print(f"our metric code on the paper's projections: {sum(r['reproduced'] for r in rep)}/{len(rep)} rows reproduced to 3 decimals")
    for r in rep:
        print(f"  {r['file']:<22} " + "  ".join(f"{k} {r['ours'][k]:.4f} (published {r[k]:.3f})" for k in ("stab_spearman", "spat_np", "trust")))
    ours = []
    with tempfile.TemporaryDirectory(prefix="ttvis-vernier-") as tmp:
        for name in names:
            run = Path(tmp) / name / "cifar10cnn"
            import_vernier(bench / "cifar10cnn.zip", run)
            print(f"{name}: fitting on all 1,000 samples x 30 steps ...", flush=True)
            ours.append(run_method(run, name, args.device))
            r = ours[-1]
            print(f"  stab_spearman {r['stab_spearman']:.3f}  NP@1% {r['spat_np']:.3f}  trust@1% {r['trust']:.3f}  ({r['seconds']:.0f} s)",
                  flush=True)
    md = table(ours, PUBLISHED)
    print("\n" + md)
    atomic.save_bytes(out / "vernier.md", (md + "\n").encode())
    atomic.save_json(out / "vernier.json", {"ours": ours, "published": PUBLISHED, "reproduced": rep})
    scatter(ours, out / "vernier.png")
    print(f"\nwritten: {out / 'vernier.md'}, {out / 'vernier.json'}, {out / 'vernier.png'}")


if __name__ == "__main__":
    main()

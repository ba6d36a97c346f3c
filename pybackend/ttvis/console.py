"""What the command line prints: metric tables and progress bars (tqdm, on stderr)."""

from __future__ import annotations

import sys
from typing import Any, Sequence

#: per-epoch table columns: header, eval.json key
EPOCH_COLUMNS = [
    ("epoch", "epoch"), ("acc tr", "accuracy_train"), ("acc te", "accuracy_test"), ("NPR tr", "npr_train"),
    ("NPR te", "npr_test"), ("NPR bnd", "npr_boundary"), ("PPR tr", "ppr_train"), ("PPR te", "ppr_test"),
    ("rank(ref=E)", "temporal_ranking"), ("trust", "trustworthiness"), ("territory", "territory_agreement"),
]
#: the run-level temporal measures: label, eval.json["temporal"] key. The papers' names label
#: the papers' definitions (raw representations); the standardised variants say so
TEMPORAL_LABELS = [
    ("temporal ranking, first epoch as reference (TimeVis)", "ranking_first"),
    ("temporal ranking, mean over every epoch as reference (TimeVis)", "ranking_mean"),
    ("stability, stab_spearman (Vernier et al.)", "stability"),
    ("interslice kNN preservation (M-PHATE)", "interslice_knn"),
    ("step-length Spearman per sample (DynaVis)", "dynavis_motion_spearman"),
    ("direction agreement (DynaVis)", "dynavis_direction"),
    ("neighbour-distance change sign agreement (DynaVis)", "dynavis_neighbor_change"),
    ("temporal ranking, first epoch, standardised", "ranking_first_standardised"),
    ("temporal ranking, mean, standardised", "ranking_mean_standardised"),
    ("stability, standardised", "stability_standardised"),
    ("interslice kNN, standardised", "interslice_knn_standardised"),
]


def fmt(v: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals, ``-`` for None/NaN, else ``str``."""
    if isinstance(v, float):
        return "-" if v != v else f"{v:.{digits}f}"
    return "-" if v is None else str(v)


def fixed_width(rows: list[list[str]]) -> str:
    """Right-aligned columns, a dashed rule under the header row."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def epoch_table(evals: dict[str, Any], has_inverse: bool = True) -> str:
    """The per-epoch metrics of an ``eval.json`` with a mean row, then the run's temporal measures
    (the papers' names for the papers' definitions, the standardised variants named as such).
    A method without an inverse map shows "no inverse map" instead of PPR and territory columns."""
    from ttvis.metrics.report import temporal_of

    tm = evals.get("temporal") or {}
    legacy = bool(tm) and "definition" not in tm  # written before the published definitions: standardised numbers
    cols = [c for c in EPOCH_COLUMNS if has_inverse or c[1] not in ("ppr_train", "ppr_test", "territory_agreement")]
    if legacy:
        cols = [("rank std(ref=E)", k) if k == "temporal_ranking" else (h, k) for h, k in cols]
    rows = [[h for h, _ in cols]]
    for e, m in sorted(evals.get("epochs", {}).items(), key=lambda kv: int(kv[0])):
        rows.append([e] + [fmt(m.get(k)) for _, k in cols[1:]])
    mean = evals.get("summary", {}).get("mean", {})
    if mean:
        rows.append(["mean"] + [fmt(mean.get(k)) if k in mean else "" for _, k in cols[1:]])
    out = fixed_width(rows)
    if not has_inverse:
        out += "\n(no inverse map: no territories and no PPR for this method)"
    if tm:
        w = max(len(label) for label, _ in TEMPORAL_LABELS)
        named = temporal_of(evals)
        out += (f"\n\ntemporal measures over {len(tm.get('epochs', []))} epochs ({tm.get('samples')} of {tm.get('of')} samples), "
                "on the raw representations as published; \"standardised\": each epoch minus its mean, / its root mean variance:\n")
        out += "\n".join(f"  {label:<{w}}  {fmt(named.get(k))}" for label, k in TEMPORAL_LABELS)
        if legacy:
            out += "\n  (this eval.json predates the published definitions: run `ttvis evaluate` to compute them)"
    return out


class Progress:
    """A tqdm bar on stderr driven by a pipeline's ``on_epoch(epoch, total, metrics)``; the
    current stage (``on_stage``) shows after the bar."""

    def __init__(self, desc: str, keys: Sequence[str] = ("npr_train", "ppr_train")):
        self.desc, self.keys, self.bar = desc, keys, None
        self.post: dict[str, str] = {}

    def _open(self, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.desc, unit="epoch", dynamic_ncols=True, file=sys.stderr)

    def __call__(self, epoch: int, total: int, metrics: dict) -> None:
        self._open(total)
        self.post = {"epoch": str(epoch), **{k.replace("_train", "").upper(): f"{metrics[k]:.2f}"
                                            for k in self.keys if isinstance(metrics.get(k), float)}}
        self.bar.set_postfix(self.post)
        self.bar.update(1)

    def stage(self, epoch: int, stage: str) -> None:
        """Show the step now running (after the first epoch's bar exists)."""
        if self.bar is not None:
            self.bar.set_postfix({**self.post, "now": stage[:28]})

    def close(self) -> None:
        """Close the bar if one was opened."""
        if self.bar is not None:
            self.bar.close()


def note(msg: str) -> None:
    """A ``note:`` line on stderr."""
    print(f"note: {msg}", file=sys.stderr)

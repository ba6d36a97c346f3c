"""Per-sample training dynamics from predictions and labels alone (what a user debugs with).

Over the run's epochs, for every sample (arrays in, arrays out; epochs streamed one at a time):

- **AUM**, area under the margin (Pleiss et al., "Identifying Mislabeled Data using the Area
  Under the Margin Ranking", NeurIPS 2020): the mean over epochs of the assigned label's score
  minus the largest other score (raw class scores). Low or negative: the model keeps preferring
  another class; likely a wrong label.
- **confidence**, **variability**, **correctness** (Swayamdipta et al., "Dataset Cartography",
  EMNLP 2020): the mean and the standard deviation over epochs of the softmax probability of
  the label, and the share of epochs predicted right.
- **forgetting events** (Toneva et al., "An Empirical Study of Example Forgetting", ICLR 2019):
  how often a sample goes from predicted right at one epoch to wrong at the next.
- **first learned epoch**: the first epoch from which the sample stays predicted right to the
  end (-1 if it is wrong at the last epoch).
- **flips**: how often the predicted class changes between consecutive epochs.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

KEYS = ["aum", "confidence", "variability", "correctness", "forgetting_events", "first_learned_epoch", "flips"]


def sample_dynamics(scores: Iterable[tuple[int, np.ndarray]], labels: np.ndarray) -> dict[str, np.ndarray]:
    """Every statistic of the module docstring for every sample.

    Args:
        scores: ``(epoch, float32 [N, C] raw class scores)`` for each epoch in order (a generator:
            only one epoch is held at a time).
        labels: int ``[N]`` assigned labels (those < 0 are unlabelled: their statistics are NaN / -1).

    Returns:
        ``aum``, ``confidence``, ``variability``, ``correctness``: float32 ``[N]``;
        ``forgetting_events``, ``flips``: int32 ``[N]``; ``first_learned_epoch``: int32 ``[N]``
        (an epoch number, -1 never); ``epochs``: the epochs seen.

    Raises:
        ValueError: no epochs, or scores of another sample count than ``labels``.
    """
    n = labels.shape[0]
    lab = np.where(labels >= 0, labels, 0)
    rows = np.arange(n)
    s_margin = np.zeros(n, np.float64)
    s_p, s_p2, s_right = np.zeros(n), np.zeros(n), np.zeros(n)
    forget = np.zeros(n, np.int32)
    flips = np.zeros(n, np.int32)
    learned = np.full(n, -1, np.int64)
    prev_pred = prev_right = None
    epochs: list[int] = []
    for e, sc in scores:
        sc = np.asarray(sc, np.float64)
        if sc.shape[0] != n:
            raise ValueError(f"scores of epoch {e}: expected {n} rows (one per label), found {sc.shape[0]}")
        own = sc[rows, lab]
        other = sc.copy()
        other[rows, lab] = -np.inf
        s_margin += own - other.max(1)
        z = sc - sc.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        pl = p[rows, lab]
        s_p += pl
        s_p2 += pl * pl
        pred = sc.argmax(1)
        right = pred == lab
        s_right += right
        if prev_pred is not None:
            flips += pred != prev_pred
            forget += prev_right & ~right
        # the first epoch of the current streak of right predictions (reset when wrong)
        learned = np.where(right, np.where(learned < 0, e, learned), -1)
        prev_pred, prev_right = pred, right
        epochs.append(int(e))
    if not epochs:
        raise ValueError("no epochs with predictions")
    t = len(epochs)
    mean_p = s_p / t
    out = {
        "aum": s_margin / t,
        "confidence": mean_p,
        "variability": np.sqrt(np.maximum(s_p2 / t - mean_p**2, 0.0)),
        "correctness": s_right / t,
    }
    unlabelled = labels < 0
    res: dict[str, np.ndarray] = {k: np.where(unlabelled, np.nan, v).astype(np.float32) for k, v in out.items()}
    res["forgetting_events"] = np.where(unlabelled, 0, forget).astype(np.int32)
    res["flips"] = flips
    res["first_learned_epoch"] = np.where(unlabelled, -1, learned).astype(np.int32)
    res["epochs"] = np.asarray(epochs, np.int32)
    return res


SORTS = {  # how each ranking orders samples: most suspicious first
    "aum": ("aum", 1), "confidence": ("confidence", 1), "variability": ("variability", -1),
    "correctness": ("correctness", 1), "forgetting": ("forgetting_events", -1), "flips": ("flips", -1),
    "learned": ("first_learned_epoch", -1),
}


def rank(stats: dict[str, np.ndarray], by: str, among: np.ndarray | None = None) -> np.ndarray:
    """Sample indices ordered most suspicious first by statistic ``by`` (a key of :data:`SORTS`):
    lowest AUM / confidence / correctness, highest variability / forgetting / flips, latest
    first-learned epoch (never learned first). Ties keep index order.

    Raises:
        ValueError: an unknown ``by``.
    """
    if by not in SORTS:
        raise ValueError(f"sort: expected one of {', '.join(SORTS)}, found {by!r}")
    key, sign = SORTS[by]
    v = stats[key].astype(np.float64)
    if key == "first_learned_epoch":
        v = np.where(v < 0, np.inf, v)
    idx = np.arange(v.shape[0]) if among is None else np.asarray(among)
    vals = sign * v[idx]
    vals = np.where(np.isnan(vals), np.inf, vals)
    return idx[np.argsort(vals, kind="stable")]


def roc_auc(score: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC of ``score`` (higher = more likely positive) for boolean ``positive`` (Mann-Whitney U)."""
    from scipy.stats import rankdata

    r = rankdata(score)
    pos = positive.astype(bool)
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def transition_events(pred_prev: np.ndarray, pred_cur: np.ndarray, conf_prev: np.ndarray, conf_cur: np.ndarray,
                      move_high: np.ndarray, move_low: np.ndarray, threshold: float = 0.3,
                      disagreement: float = 0.5) -> dict[str, np.ndarray]:
    """What happened to each sample between two epochs.

    Args:
        pred_prev, pred_cur: int ``[N]`` predicted classes; conf_prev, conf_cur: float ``[N]``
            the predicted class's probability; move_high, move_low: float ``[N]`` each sample's
            movement in (standardised) representation space and in 2-D between the two epochs.
        threshold: a confidence change larger than this counts.
        disagreement: the movements disagree when their percentiles among all samples differ by
            more than this (0.5: one is in the top half where the other is in the bottom).

    Returns:
        int64 index arrays: ``flipped`` (another predicted class), ``confidence`` (|change| >
        threshold), ``moved_2d_only`` (moves far more in 2-D than its representation does: the
        picture exaggerates), ``moved_high_only`` (its representation moves far more than its dot:
        the picture hides it).
    """
    from scipy.stats import rankdata

    n = max(len(move_high), 1)
    ph, pl = rankdata(move_high) / n, rankdata(move_low) / n
    return {"flipped": np.flatnonzero(pred_prev != pred_cur),
            "confidence": np.flatnonzero(np.abs(conf_cur - conf_prev) > threshold),
            "moved_2d_only": np.flatnonzero(pl - ph > disagreement),
            "moved_high_only": np.flatnonzero(ph - pl > disagreement)}

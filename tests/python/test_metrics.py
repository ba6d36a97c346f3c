"""Faithfulness metrics against their definitions."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness as sk_trust

from ttvis.metrics import (
    continuity,
    neighbour_preserving_rate,
    neighbour_preserving_rate_cross,
    prediction_preserving_rate,
    temporal_ranking,
    trustworthiness,
)


def _digits():
    return load_digits().data.astype(np.float32)


def test_npr_is_one_for_an_isometry_and_low_for_noise():
    x = _digits()[:, :2] + np.random.default_rng(0).normal(0, 0.01, (1797, 2)).astype(np.float32)
    rot = x @ np.array([[0.6, -0.8], [0.8, 0.6]], np.float32)
    assert neighbour_preserving_rate(x, rot) > 0.99
    noise = np.random.default_rng(1).normal(size=(1797, 2)).astype(np.float32)
    assert neighbour_preserving_rate(_digits(), noise) < 0.05


def test_npr_matches_a_direct_count():
    x = _digits()[:300]
    y = PCA(2, random_state=0).fit_transform(x).astype(np.float32)
    k = 15
    dh = np.linalg.norm(x[:, None] - x[None], axis=2)
    dl = np.linalg.norm(y[:, None] - y[None], axis=2)
    np.fill_diagonal(dh, np.inf)
    np.fill_diagonal(dl, np.inf)
    nh, nl = np.argsort(dh, 1)[:, :k], np.argsort(dl, 1)[:, :k]
    direct = np.mean([len(set(a) & set(b)) / k for a, b in zip(nh, nl)])
    assert abs(neighbour_preserving_rate(x, y, k) - direct) < 0.01
    q = np.arange(0, 300, 7)
    cross = neighbour_preserving_rate_cross(x[q], x, y[q], y, k + 1)  # includes itself on both sides
    assert cross > direct


def test_ppr_counts_agreement():
    x = np.eye(4, dtype=np.float32)
    probs = lambda v: v  # noqa: E731
    assert prediction_preserving_rate(x, lambda v: v[:, :2], lambda z: np.pad(z, ((0, 0), (0, 2))), probs) == 0.5


def test_temporal_ranking_perfect_and_reversed():
    rng = np.random.default_rng(0)
    steps = rng.normal(size=(6, 50, 8)).cumsum(0).astype(np.float32)  # 6 epochs, 50 samples
    highs = list(steps)
    dist = [np.linalg.norm(h - steps[-1], axis=1) for h in steps]  # high-D distance to the last epoch
    same = [np.stack([d, np.zeros_like(d)], 1) for d in dist]  # 2-D distances rank the same way
    assert temporal_ranking(highs, same, 5) > 0.99
    far = [np.stack([1000.0 - d, np.zeros_like(d)], 1) for d in dist]  # far in high-D = near in 2-D
    far[5] = np.zeros((50, 2))  # the reference epoch at the origin
    assert temporal_ranking(highs, far, 5) < -0.99


def test_temporal_measures_in_chunks_equal_their_definitions(monkeypatch):
    """The chunked one-pass measures (memory bounded by CHUNK_BYTES) against a direct, per-sample
    reading of each paper's definition, on digits features drifting over 12 epochs, with samples
    that do not move between two epochs (distance exactly 0: ties) and a chunk of 7 samples."""
    from scipy.stats import spearmanr

    from ttvis.metrics import temporal

    rng = np.random.default_rng(3)
    x = PCA(16, random_state=0).fit_transform(_digits()[:120]).astype(np.float32)
    high, low = [], []
    for t in range(12):
        h = x + t * 0.5 * rng.normal(size=x.shape).astype(np.float32)
        l = h[:, :2] + rng.normal(size=(120, 2)).astype(np.float32)
        if t == 4:  # samples 0..29 rest between epochs 3 and 4, in both spaces
            h[:30], l[:30] = high[3][:30], low[3][:30]
        high.append(h.astype(np.float32))
        low.append(l.astype(np.float32))
    monkeypatch.setattr(temporal, "CHUNK_BYTES", 7 * 8 * (4 * 12 * 16 + 16 * 144))
    assert temporal._chunk(12, 16) == 7
    got = temporal.temporal_measures(high, low, k_slices=3)
    # the standardised variants, computed in the same chunks (of 4 samples: two views), are the
    # same measures on the standardised input
    assert temporal._chunk(12, 16, 2) == 4
    means = np.stack([h.mean(0) for h in high]).astype(np.float64)
    scales = np.array([float(np.sqrt(h.var(0).sum() / h.shape[1])) for h in high])
    both = temporal.temporal_measures(high, low, k_slices=3, standardise=(means, scales))
    monkeypatch.setattr(temporal, "CHUNK_BYTES", 2**30)
    std = temporal.temporal_measures([(h - m) / s for h, m, s in zip(high, means, scales)], low, k_slices=3)
    for key in ("ranking_first", "ranking_mean", "stability", "interslice_knn"):
        assert abs(both[key] - got[key]) < 1e-12 and abs(both[key + "_standardised"] - std[key]) < 1e-9, key

    T, N = 12, 120
    dh = np.array([[[np.linalg.norm(high[i][n].astype(np.float64) - high[j][n]) for j in range(T)] for i in range(T)] for n in range(N)])
    dl = np.array([[[np.linalg.norm(low[i][n].astype(np.float64) - low[j][n]) for j in range(T)] for i in range(T)] for n in range(N)])
    for ref in (0, 4, 11):  # TimeVis: per sample, Spearman of the distances from the reference epoch
        others = [j for j in range(T) if j != ref]
        want = np.mean([spearmanr(dh[n, ref, others], dl[n, ref, others]).statistic for n in range(N)])
        assert abs(got["ranking_per_epoch"][ref] - want) < 1e-9
    assert got["ranking_first"] == got["ranking_per_epoch"][0]
    mh = np.concatenate([dh[:, t, t + 1] for t in range(T - 1)])  # Vernier et al.: movement per (sample, step)
    ml = np.concatenate([dl[:, t, t + 1] for t in range(T - 1)])
    assert (mh == 0).sum() == 30 and (ml == 0).sum() == 30
    assert abs(got["stability"] - spearmanr(mh, ml).statistic) < 1e-9
    overlap = []  # M-PHATE: per sample and epoch, shared k nearest other epochs / k
    for n in range(N):
        for t in range(T):
            nh = set(sorted((j for j in range(T) if j != t), key=lambda j: dh[n, t, j])[:3])
            nl = set(sorted((j for j in range(T) if j != t), key=lambda j: dl[n, t, j])[:3])
            overlap.append(len(nh & nl) / 3)
    assert abs(got["interslice_knn"] - np.mean(overlap)) < 0.01  # ties among equal distances may pick other epochs


def test_temporal_sample_keeps_every_epochs_representations_within_budget():
    from ttvis.metrics.report import TEMPORAL_BYTES, TEMPORAL_MAX, TEMPORAL_MIN, temporal_sample

    assert len(temporal_sample(1797, epochs=20, dims=512)) == 1797
    assert len(temporal_sample(50_000, epochs=20, dims=512)) == TEMPORAL_MAX
    big = temporal_sample(50_000, epochs=200, dims=512)
    assert len(big) == TEMPORAL_BYTES // (4 * 200 * 512) and len(big) * 200 * 512 * 4 <= TEMPORAL_BYTES
    assert np.array_equal(big, np.unique(big))
    assert len(temporal_sample(50_000, epochs=200, dims=4096)) == TEMPORAL_MIN


def test_trustworthiness_is_sklearns_and_continuity_swaps_roles():
    x = _digits()[:500]
    y = PCA(2, random_state=0).fit_transform(x)
    assert abs(trustworthiness(x, y, 15) - sk_trust(x, y, n_neighbors=15)) < 1e-9
    assert abs(continuity(x, y, 15) - sk_trust(y, x, n_neighbors=15)) < 1e-9


def test_npr_on_a_sample_of_queries_estimates_the_full_rate_and_eval_records_it():
    from ttvis.metrics.faithfulness import npr_queries

    x = _digits()
    y = PCA(2, random_state=0).fit_transform(x).astype(np.float32)
    full = neighbour_preserving_rate(x, y)
    part = neighbour_preserving_rate(x, y, limit=600)
    assert len(npr_queries(1797, limit=600)) == 600 and np.array_equal(npr_queries(1797, limit=600), npr_queries(1797, limit=600))
    assert abs(part - full) < 0.03, (part, full)
    test = np.arange(1500, 1797)
    assert abs(neighbour_preserving_rate(x, y, query=test, limit=100) - neighbour_preserving_rate(x, y, query=test)) < 0.05


def test_exact_neighbours_in_float32_agree_with_scikit_learn():
    """Above 2e7 query x pool pairs the distances are float32 (centred): the lists still match."""
    from sklearn.neighbors import NearestNeighbors

    from ttvis.projection.knn import exact_neighbours

    rng = np.random.default_rng(0)
    pool = (rng.normal(size=(21000, 24)) + 50).astype(np.float32)  # far from the origin: centring matters
    query = pool[:1000]
    idx, dist = exact_neighbours(pool, query, 11, np.arange(1000))
    ref = NearestNeighbors(n_neighbors=11).fit(pool).kneighbors(query, return_distance=False)
    assert (idx[:, 0] == np.arange(1000)).all()
    assert np.mean([len(set(a) & set(b)) / 11 for a, b in zip(idx, ref)]) > 0.999
    assert (np.diff(dist, axis=1) >= 0).all()

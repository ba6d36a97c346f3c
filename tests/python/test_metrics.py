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

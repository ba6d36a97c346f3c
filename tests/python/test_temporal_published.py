"""The temporal measures under the papers' names are the papers' numbers (issue #22): each one in
eval.json against a direct, literal implementation of its definition on a real run (the digits
demo run, UMAP over 8 epochs), the standardised variants under their own names, and the names
that compare and the CLI table show."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.neighbors import NearestNeighbors

EPOCHS = list(range(1, 9))


@pytest.fixture(scope="module")
def umap_run(digits_run, tmp_path_factory):
    """A copy of the digits run with UMAP over epochs 1-8 (eval.json written), its raw
    representations and positions of every sample (all 1,797 are scored)."""
    from ttvis.dynamics import TrainingDynamics
    from ttvis.dynamics.results import VisResults
    from ttvis.pipeline import visualize

    dst = tmp_path_factory.mktemp("t22") / "digits"
    shutil.copytree(digits_run, dst, ignore=shutil.ignore_patterns("visualize"))
    evals = visualize(dst, "UMAP", {"n_epochs": 30}, epochs="1-8", run={"device": "cpu", "resolution": 32})
    run = TrainingDynamics(dst)
    res = VisResults(dst, "UMAP", run.n_samples)
    high = [np.asarray(run.representation(e), np.float32) for e in EPOCHS]
    low = [np.asarray(res.projection(e), np.float32) for e in EPOCHS]
    return dst, evals, high, low, run


def _timevis_ranking(high, low, ref):
    """TimeVis (IJCAI 2022): per sample, Spearman of its distances from epoch ``ref`` to every
    other epoch, high-D vs 2-D; mean over the samples that have a ranking."""
    x, y = np.stack(high, 1).astype(np.float64), np.stack(low, 1).astype(np.float64)
    others = [j for j in range(x.shape[1]) if j != ref]
    rhos = []
    for n in range(x.shape[0]):
        dh = np.linalg.norm(x[n, others] - x[n, ref], axis=1)
        dl = np.linalg.norm(y[n, others] - y[n, ref], axis=1)
        if np.ptp(dh) > 0 and np.ptp(dl) > 0:
            rhos.append(spearmanr(dh, dl).statistic)
    return float(np.mean(rhos))


def _mphate_interslice(high, low, k):
    """M-PHATE (NeurIPS 2019): per sample and epoch, its k nearest other epochs of the same sample
    in both spaces, overlap / k, averaged."""
    x, y = np.stack(high, 1).astype(np.float64), np.stack(low, 1).astype(np.float64)
    t = x.shape[1]
    out = []
    for n in range(x.shape[0]):
        for e in range(t):
            dh = np.linalg.norm(x[n] - x[n, e], axis=1)
            dl = np.linalg.norm(y[n] - y[n, e], axis=1)
            dh[e] = dl[e] = np.inf
            out.append(len(set(np.argsort(dh)[:k]) & set(np.argsort(dl)[:k])) / k)
    return float(np.mean(out))


def _dynavis_motion(high, low):
    """DynaVis scripts/eval_motion.py per_sample_motion_consistency, per sample in a loop: the means
    of distance_spearman and cosine_direction_agreement."""
    x, y = np.stack(high, 0).astype(np.float64), np.stack(low, 0).astype(np.float64)  # [T, N, *]

    def cos(a, b):
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        return 0.0 if na < 1e-12 or nb < 1e-12 else float(a @ b / (na * nb))

    sp, di = [], []
    for n in range(x.shape[1]):
        pos, feat = y[:, n], x[:, n]
        pd, fd = np.linalg.norm(pos[1:] - pos[:-1], axis=1), np.linalg.norm(feat[1:] - feat[:-1], axis=1)
        if np.allclose(pd, pd[0]) or np.allclose(fd, fd[0]):
            sp.append(0.0)
        else:
            v = spearmanr(pd, fd)[0]
            sp.append(0.0 if np.isnan(v) else float(v))
        pc = np.array([cos(pos[i] - pos[i - 1], pos[-1] - pos[0]) for i in range(1, len(pos))])
        fc = np.array([cos(feat[i] - feat[i - 1], feat[-1] - feat[0]) for i in range(1, len(feat))])
        di.append(float(np.mean((pc > 0) == (fc > 0))))
    return float(np.mean(sp)), float(np.mean(di))


def _dynavis_neighbor_change(high, low, k=15, eps=1e-9):
    """DynaVis scripts/eval_neighbor_change.py, consecutive pairs, per sample in a loop: the mean
    over pairs of the mean sign agreement of neighbour-distance changes."""
    def sign(v):
        s = np.zeros_like(v, dtype=int)
        s[v > eps], s[v < -eps] = 1, -1
        return s

    pairs = []
    for a in range(len(high) - 1):
        xa, xb = np.asarray(high[a], np.float64), np.asarray(high[a + 1], np.float64)
        ya, yb = np.asarray(low[a], np.float64), np.asarray(low[a + 1], np.float64)
        ka = NearestNeighbors(n_neighbors=k + 1).fit(xa).kneighbors(xa)[1][:, 1:]
        kb = NearestNeighbors(n_neighbors=k + 1).fit(xb).kneighbors(xb)[1][:, 1:]
        vals = []
        for i in range(xa.shape[0]):
            nb = np.unique(np.concatenate([ka[i], kb[i]]))
            sh = sign(np.linalg.norm(xb[nb] - xb[i], axis=1) - np.linalg.norm(xa[nb] - xa[i], axis=1))
            sl = sign(np.linalg.norm(yb[nb] - yb[i], axis=1) - np.linalg.norm(ya[nb] - ya[i], axis=1))
            mask = (sh != 0) | (sl != 0)
            vals.append(float(np.mean(sh[mask] == sl[mask])) if mask.any() else 0.0)
        pairs.append(np.mean(vals))
    return float(np.mean(pairs))


def test_eval_json_has_the_papers_measures_on_raw_representations(umap_run):
    from ttvis.metrics.published import stab_spearman

    _, evals, high, low, _ = umap_run
    tm = evals["temporal"]
    assert tm["samples"] == tm["of"] == 1797 and tm["epochs"] == EPOCHS and tm["interslice_k"] == 5
    assert tm["ranking_first"] == pytest.approx(_timevis_ranking(high, low, 0), abs=1e-9)
    for i in (3, 7):  # each epoch's own ranking, in eval.json's epochs
        want = _timevis_ranking(high, low, i)
        assert evals["epochs"][str(EPOCHS[i])]["temporal_ranking"] == pytest.approx(want, abs=1e-9)
    assert tm["stability"] == pytest.approx(stab_spearman(high, low), abs=1e-12)
    assert evals["published"]["stab_spearman"] == tm["stability"]  # one number, computed once
    assert tm["interslice_knn"] == pytest.approx(_mphate_interslice(high, low, 5), abs=2e-3)  # ties may pick other epochs
    motion, direction = _dynavis_motion(high, low)
    assert tm["dynavis_motion_spearman"] == pytest.approx(motion, abs=1e-9)
    assert tm["dynavis_direction"] == pytest.approx(direction, abs=1e-12)
    assert tm["dynavis_neighbor_change"] == pytest.approx(_dynavis_neighbor_change(high, low), abs=1e-9)
    s = evals["summary"]
    for key in ("ranking_first", "stability", "dynavis_direction", "stability_standardised"):
        assert s["temporal"][key] == tm[key]
    assert s["final"]["temporal_ranking"] == evals["epochs"]["8"]["temporal_ranking"]


def test_standardised_variants_keep_their_own_names_and_differ(umap_run):
    from ttvis.metrics.temporal import temporal_measures
    from ttvis.projection.parametric import normaliser

    _, evals, high, low, run = umap_run
    tm = evals["temporal"]
    norms = [normaliser(np.asarray(run.representation(e)[run.train_index], np.float32)) for e in EPOCHS]
    std = [(h.astype(np.float64) - m) / s for h, (m, s) in zip(high, norms)]
    want = temporal_measures(std, low, k_slices=5)  # the published code on standardised input
    for key in ("ranking_first", "ranking_mean", "stability", "interslice_knn"):
        assert tm[key + "_standardised"] == pytest.approx(want[key], abs=1e-9), key
    assert evals["epochs"]["4"]["temporal_ranking_standardised"] == pytest.approx(want["ranking_per_epoch"][3], abs=1e-9)
    # raw and standardised are different numbers on this run: the feature scale grows over training
    # (UMAP per epoch here: ranking_mean 0.37 raw, 0.57 standardised; stability -0.40 and 0.41)
    for key in ("ranking_mean", "stability", "interslice_knn"):
        assert abs(tm[key] - tm[key + "_standardised"]) > 0.05, key


def test_compare_and_console_show_the_papers_names_for_the_papers_numbers(umap_run):
    from ttvis.compare import COLUMNS, markdown, method_row
    from ttvis.console import epoch_table
    from ttvis.metrics.report import RUN_KEYS

    dst, evals, *_ = umap_run
    on_disk = json.loads((dst / "visualize" / "UMAP" / "eval.json").read_text())
    row = method_row("UMAP", on_disk, False)
    for key in RUN_KEYS:
        assert row[key] == on_disk["temporal"][key], key
    headers = dict((k, h) for h, k in COLUMNS)
    assert headers["stability"] == "stab_spearman" and headers["ranking_first"] == "TimeVis rank first"
    assert headers["stability_standardised"] == "stability, standardised" and "DynaVis" in headers["dynavis_direction"]
    md = markdown([row], "t")
    assert f"| {row['stability']:.3f} |" in md and "not the papers' numbers" in md
    table = epoch_table(on_disk, has_inverse=False)
    assert re.search(rf"stability, stab_spearman \(Vernier et al.\) +{evals['temporal']['stability']:.3f}\n", table), table
    assert re.search(rf"stability, standardised +{evals['temporal']['stability_standardised']:.3f}\n", table)
    assert "neighbour-distance change sign agreement (DynaVis)" in table


def test_an_old_eval_json_never_shows_standardised_numbers_under_the_papers_names(umap_run):
    """eval.json written before the published definitions held standardised numbers under the
    published keys: compare and the table give them only as *_standardised."""
    from ttvis.compare import method_row
    from ttvis.console import epoch_table

    _, evals, *_ = umap_run
    old = json.loads(json.dumps(evals))
    old["temporal"] = {k: evals["temporal"][k + "_standardised"] for k in ("ranking_first", "ranking_mean", "stability", "interslice_knn")}
    old["temporal"].update(samples=1797, of=1797, epochs=EPOCHS)
    row = method_row("UMAP", old, False)
    assert row["stability"] is None and row["stability_standardised"] == evals["temporal"]["stability_standardised"]
    table = epoch_table(old, has_inverse=False)
    assert "rank std(ref=E)" in table and "ttvis evaluate" in table
    assert re.search(r"stability, stab_spearman \(Vernier et al.\) +-\n", table)

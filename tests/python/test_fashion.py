"""`ttvis demo --dataset fashion-mnist`: the built-in demo on real 28x28 images (Debian's
dataset-fashion-mnist, which `make test` installs via `make setup-data`)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import time

import numpy as np
import pytest

from conftest import ttvis_cmd

LIMIT, EPOCHS, NOISE = 3000, 5, 0.05
# Floors: measured with seeds 0 / 1 / 2 on a 2-core AMD EPYC (test accuracy 0.762 / 0.781 / 0.809, NPR@15
# train 0.417 / 0.400 / 0.417, ROC AUC 0.967 / 0.981 / 0.992); the test runs seed 0, and another CPU's
# floats train a different CNN, so each floor sits >= 0.06 below the lowest of the three.
FLOOR_ACC, FLOOR_NPR, FLOOR_AUC = 0.70, 0.34, 0.90


@pytest.fixture(scope="module")
def fashion_run(tmp_path_factory):
    """The CI run: a stratified 3,000-image subset, 5 epochs, 5 % of the training labels flipped, DVI."""
    out = tmp_path_factory.mktemp("fashion") / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    r = subprocess.run(ttvis_cmd("demo", "--dataset", "fashion-mnist", "--limit", str(LIMIT), "--epochs", str(EPOCHS),
                                 "--noise", str(NOISE), "--out", str(out)), capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    print(f"fashion-mnist demo --limit {LIMIT} --epochs {EPOCHS}: {time.perf_counter() - t0:.0f} s")
    return out, r.stdout


def test_fashion_demo_records_learns_projects_and_ranks_the_flipped_labels(fashion_run):
    from ttvis.dynamics import TrainingDynamics
    from ttvis.dynamics.statistics import run_statistics
    from ttvis.metrics.sample_dynamics import roc_auc

    out, stdout = fashion_run
    assert "Fashion-MNIST (3,000 28x28 images" in stdout
    run = TrainingDynamics(out)
    tr, te = run.train_index, run.test_index
    assert (len(tr), len(te)) == (round(LIMIT * 6 / 7), LIMIT - round(LIMIT * 6 / 7))  # the dataset's 6:1 split
    assert np.bincount(run.labels[te], minlength=10).min() >= len(te) // 10 - 1  # stratified: every class its share
    assert np.load(out / "dataset/representation/5.npy").shape == (LIMIT, 256)
    assert len(list((out / "dataset/sprites").glob("*.png"))) == LIMIT
    info = json.loads((out / "dataset/info.json").read_text())
    assert info["classes"][9] == "Ankle boot" and info["model"]["class"] == "FashionCNN" and info["source"]["licence"] == "MIT"
    # the CNN learns: test accuracy of the last epoch (test labels are never flipped)
    acc = float((np.load(out / f"dataset/prediction/{EPOCHS}.npy").argmax(1)[te] == run.labels[te]).mean())
    # the projection keeps neighbourhoods: NPR@15 among the training samples, last epoch (DVI's eval.json)
    ev = json.loads((out / "visualize/DVI/eval.json").read_text())
    assert ev["k"] == 15
    npr = ev["summary"]["final"]["npr_train"]
    # the suspicious-samples ranking (`ttvis samples`, lowest AUM first) finds the flipped labels
    noise = json.loads((out / "dataset/noise.json").read_text())
    flipped = np.zeros(run.n_samples, bool)
    flipped[noise["flipped"]] = True
    assert flipped.sum() == round(NOISE * len(tr))
    auc = roc_auc(-run_statistics(run)["aum"][tr], flipped[tr])
    print(f"test acc {acc:.3f}, NPR@15 train {npr:.3f}, flipped-label ROC AUC {auc:.3f}")
    assert acc >= FLOOR_ACC, acc
    assert npr >= FLOOR_NPR, npr
    assert auc >= FLOOR_AUC, auc


def test_missing_package_is_one_error_naming_the_apt_line(tmp_path, cli_env):
    env = {**cli_env, "TTVIS_FASHION_MNIST": str(tmp_path)}  # a folder without the idx files
    r = subprocess.run(ttvis_cmd("demo", "--dataset", "fashion-mnist", "--out", str(tmp_path / "run")), capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "apt-get install dataset-fashion-mnist" in lines[0], r.stderr
    assert str(tmp_path / "train-images-idx3-ubyte.gz") in lines[0]
    assert not (tmp_path / "run").exists()  # nothing written
    r = subprocess.run(ttvis_cmd("demo", "--limit", "100", "--out", str(tmp_path / "run")), capture_output=True, text=True,
                       env=cli_env, timeout=120)
    assert r.returncode == 2 and "--limit: only for --dataset fashion-mnist" in r.stderr


def test_limit_is_a_seeded_stratified_subset_of_both_splits():
    from ttvis.demo.fashion import load_fashion_mnist

    x, y, tr, te = load_fashion_mnist(limit=2000, seed=0)
    assert x.shape == (2000, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
    assert (len(tr), len(te)) == (1714, 286) and np.array_equal(np.concatenate([tr, te]), np.arange(2000))
    assert np.ptp(np.bincount(y[tr], minlength=10)) <= 1  # each class its share (the full splits are balanced)
    assert np.ptp(np.bincount(y[te], minlength=10)) <= 1
    x2, y2, _, _ = load_fashion_mnist(limit=2000, seed=0)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert not np.array_equal(load_fashion_mnist(limit=2000, seed=1)[0], x)
    xa, ya, tra, tea = load_fashion_mnist()
    assert xa.shape == (70000, 28, 28) and (len(tra), len(tea)) == (60000, 10000)
    assert np.bincount(ya[tra]).tolist() == [6000] * 10 and np.bincount(ya[tea]).tolist() == [1000] * 10
    with pytest.raises(ValueError, match="limit: expected 20 to 70000"):
        load_fashion_mnist(limit=10)


def test_read_idx_rejects_malformed_files(tmp_path):
    from ttvis.demo.fashion import read_idx
    from ttvis.dynamics.errors import DynamicsError

    ok = tmp_path / "ok.gz"
    ok.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + np.array([2, 2, 3], ">u4").tobytes() + bytes(range(12))))
    assert read_idx(ok).tolist() == [[[0, 1, 2], [3, 4, 5]], [[6, 7, 8], [9, 10, 11]]]
    bad = {"plain.gz": b"not gzip at all",
           "magic.gz": gzip.compress(b"\x00\x00\x0d\x01" + np.array([4], ">u4").tobytes() + bytes(16)),
           "short.gz": gzip.compress(b"\x00\x00\x08\x01" + np.array([10], ">u4").tobytes() + bytes(3))}
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DynamicsError, match=f"{name}: expected"):
            read_idx(tmp_path / name)

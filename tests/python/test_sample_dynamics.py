"""Per-sample training dynamics against their definitions, and on the real digits run recorded
with 10 % of its training labels flipped: AUM finds the flipped samples (ROC AUC >= 0.9)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from ttvis.metrics.sample_dynamics import rank, roc_auc, sample_dynamics, transition_events


def test_statistics_match_their_definitions():
    labels = np.array([0, 1, 1, -1])
    # epochs 1..4 of raw scores for 4 samples, 2 classes
    s = [np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0], [0.0, 0.0]]),
         np.array([[0.0, 1.0], [0.0, 2.0], [3.0, 0.0], [0.0, 0.0]]),
         np.array([[2.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]),
         np.array([[3.0, 0.0], [0.0, 3.0], [0.0, 2.0], [0.0, 0.0]])]
    st = sample_dynamics(((e + 1, x) for e, x in enumerate(s)), labels)
    # sample 0: margins 2, -1, 2, 3 -> AUM 1.5; right at 1, 3, 4 -> correctness .75, one forgetting (1->2), learned from 3
    assert st["aum"][0] == pytest.approx(1.5) and st["correctness"][0] == 0.75
    assert st["forgetting_events"][0] == 1 and st["first_learned_epoch"][0] == 3 and st["flips"][0] == 2
    p = [1 / (1 + np.exp(-2)), 1 / (1 + np.exp(1)), 1 / (1 + np.exp(-2)), 1 / (1 + np.exp(-3))]
    assert st["confidence"][0] == pytest.approx(np.mean(p), abs=1e-6) and st["variability"][0] == pytest.approx(np.std(p), abs=1e-6)
    # sample 2: wrong, wrong, right, right -> learned from epoch 3, never forgotten; sample 1: forgotten once at epoch 3
    assert st["first_learned_epoch"][2] == 3 and st["forgetting_events"][2] == 0
    assert st["forgetting_events"][1] == 1 and st["first_learned_epoch"][1] == 4
    assert np.isnan(st["aum"][3]) and st["first_learned_epoch"][3] == -1  # unlabelled
    assert rank(st, "aum", np.arange(3)).tolist() == [2, 1, 0]  # lowest AUM first
    assert roc_auc(np.array([0.1, 0.9, 0.8, 0.2]), np.array([0, 1, 1, 0])) == 1.0


def test_transition_events_flag_flips_confidence_and_disagreeing_movement():
    n = 100
    mh = np.arange(n, dtype=float)
    ml = mh.copy()
    ml[0], ml[99] = 1000.0, 0.0  # sample 0 barely moves in high-D but far in 2-D; sample 99 the reverse
    ev = transition_events(np.zeros(n, int), np.r_[1, np.zeros(n - 1, int)], np.full(n, 0.5), np.r_[np.full(n - 1, 0.5), 0.95], mh, ml)
    assert ev["flipped"].tolist() == [0] and ev["confidence"].tolist() == [99]
    assert 0 in ev["moved_2d_only"] and 99 in ev["moved_high_only"]


@pytest.fixture(scope="module")
def noisy_run(tmp_path_factory):
    from ttvis.demo.digits import record_digits_run

    out = tmp_path_factory.mktemp("noisy") / "digits"
    record_digits_run(out, epochs=20, seed=0, noise=0.1)
    return out


def test_aum_finds_the_flipped_labels_of_the_noisy_demo(noisy_run):
    from ttvis.dynamics import TrainingDynamics
    from ttvis.dynamics.statistics import run_statistics

    noise = json.loads((noisy_run / "dataset/noise.json").read_text())
    run = TrainingDynamics(noisy_run)
    assert len(noise["flipped"]) == round(0.1 * 1437)
    assert all(run.labels[i] != t for i, t in zip(noise["flipped"], noise["true_labels"]))
    st = run_statistics(run)
    flipped = np.zeros(run.n_samples, bool)
    flipped[noise["flipped"]] = True
    tr = run.train_index
    assert roc_auc(-st["aum"][tr], flipped[tr]) >= 0.9
    r = subprocess.run([sys.executable, "-m", "ttvis", "samples", str(noisy_run), "--top", "50", "--json"], capture_output=True,
                       text=True, timeout=120)
    rows = json.loads(r.stdout)
    assert list(rows[0]) == ["index", "split", "label", "label_name", "prediction", "prediction_name", "prediction_epoch",
                             "aum", "confidence", "variability", "correctness", "forgetting_events", "first_learned_epoch", "flips"]
    last = run.epochs[-1]
    assert all(row["prediction"] == int(np.argmax(run.prediction(last)[row["index"]])) and row["prediction_epoch"] == last
               and row["label_name"] == run.classes[row["label"]] for row in rows)
    table = subprocess.run([sys.executable, "-m", "ttvis", "samples", str(noisy_run), "--top", "3"], capture_output=True,
                           text=True, timeout=120).stdout.splitlines()
    assert table[0].split()[:5] == ["index", "split", "label", "prediction", f"(E{last})"]
    assert table[2].split()[2] == run.classes[rows[0]["label"]]  # classes by name (line 1 is the rule)
    assert sum(flipped[row["index"]] for row in rows) >= 45  # the 50 lowest-AUM samples are nearly all flipped ones
    csv = subprocess.run([sys.executable, "-m", "ttvis", "samples", str(noisy_run), "--sort", "forgetting", "--top", "3", "--csv"],
                         capture_output=True, text=True, timeout=120).stdout.splitlines()
    assert csv[0].startswith("index,split,label,label_name,prediction,prediction_name,prediction_epoch,aum") and len(csv) == 4


def test_server_serves_samples_events_and_search(noisy_run, tmp_path):
    from ttvis.pipeline import visualize
    from ttvis.server.api import ApiError, TtvisApi
    from ttvis.server.encoding import decode_array

    visualize(noisy_run, "UMAP", {"n_epochs": 30}, "1-3", run={"device": "cpu"})
    api = TtvisApi([noisy_run.parent])
    s = api.samples({"path": str(noisy_run), "top": 5})
    assert len(s["rows"]) == 5 and decode_array(s["stats"]["aum"]).shape == (1797,)
    assert s["rows"][0]["aum"] == pytest.approx(float(decode_array(s["stats"]["aum"]).min()), abs=1e-5) or s["rows"][0]["split"] == "train"
    ev = api.events({"path": str(noisy_run), "method": "UMAP", "epoch": 2})
    assert ev["previous"] == 1 and ev["counts"]["flipped"] == len(ev["flipped"]) > 0
    assert api.events({"path": str(noisy_run), "method": "UMAP", "epoch": 1})["previous"] is None
    hits = api.search({"path": str(noisy_run), "query": "label:3 misclassified train", "epoch": 20})
    run_labels = np.load(noisy_run / "dataset/label/labels.npy")
    pred = np.load(noisy_run / "dataset/prediction/20.npy").argmax(1)
    assert hits["indices"] == [i for i in range(1797) if run_labels[i] == 3 and pred[i] != 3 and i in set(json.loads((noisy_run / "index.json").read_text())["train"])]
    assert api.search({"path": str(noisy_run), "query": "5-9"})["indices"] == [5, 6, 7, 8, 9]
    with pytest.raises(ApiError, match="not a search term"):
        api.search({"path": str(noisy_run), "query": "banana"})

"""Every built-in method on the real digits run: complete results through the one pipeline,
territories exactly for the methods with an inverse map, resume after a stop, and each
method's own parts (TimeVis's spatio-temporal complex, Trustvis's extra terms)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest

from ttvis.dynamics import TrainingDynamics, VisResults
from ttvis.pipeline import visualize
from ttvis.projection.base import Cancelled
from ttvis.projection.registry import get_method

RUN = {"device": "cpu", "resolution": 32}
FAST = {
    "DVI": {"max_epochs": 3, "first_epochs": 6},
    "TimeVis": {"max_epochs": 3, "selection_share": 0.3},
    "Trustvis": {"max_epochs": 3, "first_epochs": 6, "al_rounds": 1},
    "UMAP": {"n_epochs": 30},
    "AlignedUMAP": {"n_epochs": 30},
    "StackedUMAP": {"n_epochs": 30},
}


@pytest.mark.parametrize("method", list(FAST))
def test_each_method_writes_complete_results(run_copy, method):
    evals = visualize(run_copy, method, FAST[method], "1-3", run=RUN)
    cls = get_method(method)
    res = VisResults(run_copy, method, 1797)
    assert res.epochs() == [1, 2, 3] and res.is_complete()
    for e in (1, 2, 3):
        xy = res.projection(e)
        assert xy.shape == (1797, 2) and np.isfinite(xy).all() and xy.std(0).min() > 1e-3  # not collapsed
    last = evals["epochs"]["3"]
    assert last["npr_train"] > 0.15 and last["npr_test"] > 0.1, last
    assert evals["temporal"]["ranking_first"] is not None and evals["temporal"]["samples"] == 1797
    assert evals["inverse_map"] is cls.has_inverse
    if cls.has_inverse:
        assert res.background_path(3).is_file() and res.territory_classes(3).shape == (32, 32)
        assert last["ppr_train"] > 0.5 and last["territory_agreement"] > 0.5, last
    else:
        assert not (res.dir / "bgimg").exists() and last["ppr_train"] is None
        assert "no inverse map" in evals["note"]


def test_a_stopped_dvi_run_resumes_to_the_same_result(run_copy, digits_run, tmp_path):
    import shutil

    full = tmp_path / "full"
    shutil.copytree(digits_run, full, ignore=shutil.ignore_patterns("visualize"))
    visualize(full, "DVI", FAST["DVI"], "1-4", run=RUN)
    stop = threading.Event()
    with pytest.raises(Cancelled):
        visualize(run_copy, "DVI", FAST["DVI"], "1-4", run=RUN, cancel=stop,
                  on_epoch=lambda e, t, m: stop.set() if e == 2 else None)
    res = VisResults(run_copy, "DVI", 1797)
    assert res.epochs() == [1, 2]
    kept = {e: res.projection_path(e).stat().st_mtime_ns for e in (1, 2)}
    notes = []
    evals = visualize(run_copy, "DVI", FAST["DVI"], "1-4", run=RUN, on_message=notes.append)
    assert any("continuing the stopped run after epoch 2" in n for n in notes), notes
    assert {e: res.projection_path(e).stat().st_mtime_ns for e in (1, 2)} == kept  # finished files untouched
    ref = VisResults(full, "DVI", 1797)
    for e in (1, 2, 3, 4):
        assert np.array_equal(res.projection(e), ref.projection(e)), e
    assert sorted(evals["epochs"]) == ["1", "2", "3", "4"] and json.loads(res.params_path.read_text())["resumed"]
    # the same command once more: complete, nothing to do; other parameters: a new run
    notes.clear()
    visualize(run_copy, "DVI", FAST["DVI"], "1-4", run=RUN, on_message=notes.append)
    assert any("complete" in n for n in notes)
    visualize(run_copy, "DVI", {**FAST["DVI"], "lambda2": 0.5}, "1-2", run=RUN, on_message=notes.append)
    assert any("parameters differ" in n for n in notes)
    from ttvis.dynamics.history import generations

    assert [g["epochs"] for g in generations(run_copy, "DVI")] == [[1, 2, 3, 4]]  # the complete run is kept


def test_timevis_complex_grows_sublinearly_and_ties_samples_across_epochs(digits_run):
    from ttvis.dynamics.source import RunSource
    from ttvis.projection.parametric import normaliser
    from ttvis.projection.timevis import TimeVis, TimeVisParams, per_epoch_count

    counts = {t: t * per_epoch_count(1437, t, 0.5, 15) for t in (10, 40, 160)}
    assert counts[40] / counts[10] == pytest.approx(2, rel=0.01) and counts[160] / counts[40] == pytest.approx(2, rel=0.01)
    run = TrainingDynamics(digits_run)
    src = RunSource(run, "train")
    tv = TimeVis(TimeVisParams(selection_share=0.3, boundary_ratio=0.0), seed=0, device="cpu")
    epochs = [1, 2, 3]
    norms = [normaliser(run.representation(e)[src.fit_index]) for e in epochs]
    nodes, n_samples, edges, _ = tv._complex(src, epochs, norms, lambda e, s: None, None)
    per = per_epoch_count(1437, 3, 0.3, 15)
    assert n_samples == 3 * per and nodes.shape == (3 * per, 64)
    cross = (edges.head // per) != (edges.tail // per)  # edges between epochs: a sample tied to itself
    assert cross.sum() > per and edges.weight[cross].max() > 0.5


def test_trustvis_terms_reach_the_loss(run_copy):
    evals = visualize(run_copy, "Trustvis", FAST["Trustvis"], "1-2", run=RUN)
    t = evals["epochs"]["2"]["training"]
    assert t["loss_margin"] > 0 and t["loss_reconstruction"] > 0 and t["loss_temporal_position"] >= 0
    assert isinstance(t.get("al_changed_predictions"), list)


def test_compare_writes_the_table_and_reuses_matching_results(run_copy):
    cmd = [sys.executable, "-m", "ttvis", "compare", str(run_copy), "--methods", "DVI,UMAP", "--epochs", "1-3",
           "--device", "cpu", "--resolution", "32"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    md = (run_copy / "visualize" / "compare.md").read_text()
    assert "| DVI |" in md and "| UMAP |" in md and "no inverse map" in md
    rows = {row["method"]: row for row in json.loads((run_copy / "visualize" / "compare.json").read_text())["methods"]}
    assert rows["DVI"]["seconds"] > 0 and rows["DVI"]["peak_rss_mb"] > 50 and rows["UMAP"]["ppr_train"] == "no inverse map"
    for key in ("ranking_first", "ranking_mean", "stability", "interslice_knn"):
        assert isinstance(rows["DVI"][key], float), key
    stamp = (run_copy / "visualize" / "DVI" / "projection" / "3.npy").stat().st_mtime_ns
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0 and (run_copy / "visualize" / "DVI" / "projection" / "3.npy").stat().st_mtime_ns == stamp


@pytest.mark.parametrize("method", ["TimeVis", "Trustvis", "UMAP", "StackedUMAP"])
def test_same_seed_same_output(digits_run, method):
    from ttvis.dynamics.source import RunSource
    from ttvis.projection.registry import make_method

    src = RunSource(TrainingDynamics(digits_run), "train")

    def positions(seed):
        return [r.positions for r in make_method(method, FAST[method], {"seed": seed}, "cpu").fit(src, [1, 2])]

    a, b = positions(0), positions(0)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_config_blocks_of_each_method(tmp_path):
    from ttvis.projection.registry import get_method

    block = {"VISUALIZATION": {"N_NEIGHBORS": 10, "LAMBDA2": 0.3, "RESOLUTION": 40, "ENCODER_DIMS": [64, 96, 2],
                               "BOUNDARY": {"B_N_EPOCHS": 1, "L_BOUND": 0.4}, "INIT_NUM": 300, "T_N_EPOCHS": 2, "BETA": 2, "SHINY": 1}}
    tv, notes = get_method("TimeVis").params_from_config(block)
    assert tv == {"n_neighbors": 10, "hidden": [96]}
    said = " ".join(notes)
    assert "INIT_NUM not used" in said and "T_N_EPOCHS not used" in said and "LAMBDA2 not used" in said
    assert "SHINY is not a TimeVis setting" in said and "RESOLUTION" not in said  # a run setting, not TimeVis's
    trust, notes = get_method("Trustvis").params_from_config(block)
    assert trust["beta"] == 2 and trust["lambda2"] == 0.3 and any("SHINY" in n for n in notes)


def test_sigkill_then_the_same_command_continues_to_the_uninterrupted_result(run_copy, digits_run, tmp_path):
    import os
    import shutil
    import signal
    import time

    args = [sys.executable, "-m", "ttvis", "visualize", str(run_copy), "--epochs", "1-5", "--max-epochs", "3",
            "--first-epochs", "6", "--device", "cpu", "--resolution", "32", "--quiet"]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    res = VisResults(run_copy, "DVI", 1797)
    deadline = time.monotonic() + 300
    while len(res.epochs()) < 2 and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait(30)
    done = res.epochs()
    assert 2 <= len(done) < 5, done
    stamps = {e: res.projection_path(e).stat().st_mtime_ns for e in done}
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert f"continuing the stopped run after epoch {done[-1]}" in r.stderr
    assert res.epochs() == [1, 2, 3, 4, 5]
    assert {e: res.projection_path(e).stat().st_mtime_ns for e in done} == stamps  # no finished epoch rewritten or lost
    full = tmp_path / "full"
    shutil.copytree(digits_run, full, ignore=shutil.ignore_patterns("visualize"))
    visualize(full, "DVI", {"max_epochs": 3, "first_epochs": 6}, "1-5", run=RUN)
    ref = VisResults(full, "DVI", 1797)
    for e in range(1, 6):
        assert np.array_equal(res.projection(e), ref.projection(e)), e


def test_a_grown_run_continues_with_the_new_epochs(run_copy, digits_run, tmp_path):
    import shutil

    visualize(run_copy, "DVI", FAST["DVI"], "1-3", run=RUN)
    res = VisResults(run_copy, "DVI", 1797)
    stamps = {e: res.projection_path(e).stat().st_mtime_ns for e in (1, 2, 3)}
    notes = []
    visualize(run_copy, "DVI", FAST["DVI"], "1-5", run=RUN, on_message=notes.append)
    assert any("continuing with the new epochs after epoch 3" in n for n in notes), notes
    assert {e: res.projection_path(e).stat().st_mtime_ns for e in (1, 2, 3)} == stamps
    full = tmp_path / "full"
    shutil.copytree(digits_run, full, ignore=shutil.ignore_patterns("visualize"))
    visualize(full, "DVI", FAST["DVI"], "1-5", run=RUN)
    for e in range(1, 6):
        assert np.array_equal(res.projection(e), VisResults(full, "DVI", 1797).projection(e)), e
    # a method fitted on all epochs at once starts over instead
    visualize(run_copy, "StackedUMAP", FAST["StackedUMAP"], "1-2", run=RUN)
    notes.clear()
    visualize(run_copy, "StackedUMAP", FAST["StackedUMAP"], "1-3", run=RUN, on_message=notes.append)
    assert any("parameters differ" in n for n in notes), notes


def test_the_server_follows_a_run_while_it_is_recorded(tmp_path):
    from test_safety import RawServer

    run = tmp_path / "ws" / "live"
    run.mkdir(parents=True)
    s = RawServer(tmp_path / "ws")
    try:
        r = s.request("ttvis/watch", {"path": str(run), "method": "DVI", "params": FAST["DVI"], "run": RUN})
        assert "result" in r, r
        rec = subprocess.Popen([sys.executable, "-c", "from ttvis.demo.digits import record_digits_run; "
                                f"record_digits_run({str(run)!r}, epochs=4)"])
        ready = []
        while len(ready) < 4:
            msg = s.read()
            if msg.get("method") == "ttvis/epochReady":
                ready.append(msg["params"]["epoch"])
            elif "method" in msg and "id" in msg:
                s.send({"jsonrpc": "2.0", "id": msg["id"], "result": None})
        assert rec.wait(120) == 0
        assert ready == [1, 2, 3, 4]  # every epoch once, in order
        state = s.request("ttvis/describe", {"path": str(run)})["result"]["methods"]["DVI"]
        assert state["state"] == "watching" and state["epochs"] == [1, 2, 3, 4]
        s.request("ttvis/cancel", {"job": r["result"]["job"]})
        assert s.wait_note("ttvis/trainFinished")["status"] == "cancelled"
    finally:
        s.p.kill()

"""The original project's layouts, preprocess, evaluate-model, convert and
representation-only runs, all built from the real digits run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ttvis.dynamics import DynamicsError, TrainingDynamics
from ttvis.dynamics import atomic

EPOCHS = [1, 2, 3]
FAST = {"max_epochs": 4, "first_epochs": 8}
RUN = {"resolution": 48}


def _ttvis(*args, check=True):
    p = subprocess.run([sys.executable, "-m", "ttvis.cli", *map(str, args)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONUNBUFFERED": "1"}, timeout=600)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def _write_canonical(src: TrainingDynamics, perm: np.ndarray, ntr: int, out: Path) -> None:
    for e in EPOCHS:
        atomic.save_npy(out / f"dataset/representation/{e}.npy", src.representation(e)[perm])
        atomic.save_npy(out / f"dataset/prediction/{e}.npy", src.prediction(e)[perm])
        atomic.save_bytes(out / f"model/{e}.pth", src.checkpoint_path(e).read_bytes())
    atomic.save_npy(out / "dataset/label/labels.npy", src.labels[perm])
    atomic.save_json(out / "index.json", {"train": list(range(ntr)), "test": list(range(ntr, len(perm)))})
    atomic.save_json(out / "dataset/info.json", {"classes": src.classes, "task": "classification",
                                                 "model": {"class": "DigitsCNN", "kwargs": {}}})
    for i, j in enumerate(perm):
        atomic.save_bytes(out / f"dataset/sprites/{i}.png", src.sprite_png(int(j)))
    shutil.copy(src.model_source, out / "model.py")


def _write_per_epoch(src: TrainingDynamics, perm: np.ndarray, ntr: int, out: Path) -> None:
    for e in EPOCHS:
        d = out / f"epochs/epoch_{e}"
        atomic.save_npy(d / "embeddings.npy", src.representation(e)[perm])
        atomic.save_npy(d / "predictions.npy", src.prediction(e)[perm])
        atomic.save_bytes(d / "model.pth", src.checkpoint_path(e).read_bytes())
    atomic.save_npy(out / "dataset/labels.npy", src.labels[perm])
    atomic.save_json(out / "dataset/index.json", {"train": list(range(ntr)), "test": list(range(ntr, len(perm)))})
    atomic.save_json(out / "dataset/info.json", {"classes": src.classes, "model": "DigitsCNN"})
    for i, j in enumerate(perm):
        atomic.save_bytes(out / f"dataset/image/{i}.png", src.sprite_png(int(j)))
    (out / "scripts").mkdir()
    shutil.copy(src.model_source, out / "scripts/model.py")


def _write_original(src: TrainingDynamics, x: np.ndarray, out: Path, with_arrays: bool = True,
                    visualization: dict | None = None) -> None:
    """DeepVisualInsight's layout as its own tool leaves it: representations, no predictions."""
    tr, te = src.train_index, src.test_index
    atomic.save_json(out / "config.json", {"DVI": {
        "SETTING": "normal", "CLASSES": src.classes, "EPOCH_START": EPOCHS[0], "EPOCH_END": EPOCHS[-1], "EPOCH_PERIOD": 1,
        "TRAINING": {"NET": "DigitsCNN", "train_num": len(tr), "test_num": len(te)},
        "VISUALIZATION": visualization or {"N_NEIGHBORS": 15, "LAMBDA1": 1.0, "LAMBDA2": 0.1, "RESOLUTION": 300},
    }})
    (out / "Model").mkdir(parents=True)
    shutil.copy(src.model_source, out / "Model/model.py")
    for e in EPOCHS:
        d = out / f"Model/Epoch_{e}"
        d.mkdir()
        shutil.copy(src.checkpoint_path(e), d / "subject_model.pth")
        atomic.save_json(d / "index.json", list(range(len(tr))))
        atomic.save_json(d / "test_index.json", list(range(len(te))))
        if with_arrays:
            atomic.save_npy(d / "train_data.npy", src.representation(e)[tr])
            atomic.save_npy(d / "test_data.npy", src.representation(e)[te])
    atomic.save_torch(out / "Training_data/training_dataset_data.pth", torch.from_numpy(x[tr]))
    atomic.save_torch(out / "Training_data/training_dataset_label.pth", torch.from_numpy(src.labels[tr]))
    atomic.save_torch(out / "Testing_data/testing_dataset_data.pth", torch.from_numpy(x[te]))
    atomic.save_torch(out / "Testing_data/testing_dataset_label.pth", torch.from_numpy(src.labels[te]))
    for i, j in enumerate(np.concatenate([tr, te])):
        atomic.save_bytes(out / f"sprites/{i}.png", src.sprite_png(int(j)))


@pytest.fixture(scope="module")
def layouts(digits_run, tmp_path_factory):
    """The first three epochs of the digits run written in every layout, with the same samples
    in the same order (training samples first, as the original layout orders them)."""
    from ttvis.demo.digits import load_digits_split

    base = tmp_path_factory.mktemp("layouts")
    src = TrainingDynamics(digits_run)
    perm = np.concatenate([src.train_index, src.test_index])
    ntr = src.train_index.size
    x = load_digits_split(0)[0]
    _write_canonical(src, perm, ntr, base / "canonical")
    _write_per_epoch(src, perm, ntr, base / "per_epoch")
    _write_original(src, x, base / "original")
    return {"base": base, "src": src, "perm": perm, "ntr": ntr, "x": x}


def test_original_layout_gets_its_predictions_from_preprocess(layouts):
    og = layouts["base"] / "original"
    run = TrainingDynamics(og)
    assert run.layout == "original" and run.task == "classification" and not run.has_predictions
    assert run.summary()["needsPreprocess"] is True
    reps_before = (og / "Model/Epoch_2/train_data.npy").stat().st_mtime_ns
    out = _ttvis("preprocess", og).stdout
    assert "computed 3 epoch(s) of 1797 samples" in out
    assert (og / "Model/Epoch_2/train_data.npy").stat().st_mtime_ns == reps_before  # only the missing arrays
    assert "nothing to compute" in _ttvis("preprocess", og).stdout
    run = TrainingDynamics(og)
    assert run.has_predictions and not run.summary()["needsPreprocess"]


def test_every_layout_reads_to_the_same_arrays(layouts):
    base, src, perm = layouts["base"], layouts["src"], layouts["perm"]
    og = base / "original"
    if not TrainingDynamics(og).has_predictions:
        _ttvis("preprocess", og)
    _ttvis("convert", og, "--to", base / "converted")
    runs = {name: TrainingDynamics(base / name) for name in ("canonical", "per_epoch", "original", "converted")}
    assert {n: r.layout for n, r in runs.items()} == {"canonical": "canonical", "per_epoch": "per-epoch",
                                                       "original": "original", "converted": "canonical"}
    ref = runs["canonical"]
    for name, run in runs.items():
        assert run.epochs == EPOCHS, name
        assert (run.n_samples, run.dim, run.classes, run.task) == (1797, 64, src.classes, "classification"), name
        assert np.array_equal(run.labels, src.labels[perm]), name
        assert np.array_equal(run.train_index, ref.train_index) and np.array_equal(run.test_index, ref.test_index), name
        for e in EPOCHS:
            assert np.array_equal(run.representation(e), src.representation(e)[perm]), (name, e)
            # the original layout's predictions were recomputed by preprocess from its representations
            np.testing.assert_allclose(run.prediction(e), src.prediction(e)[perm], rtol=1e-5, atol=1e-5, err_msg=name)
            assert run.checkpoint_path(e) is not None and run.model_source is not None
        assert run.sprite_png(5) == src.sprite_png(int(perm[5])), name
        assert run.model_spec["class"] == "DigitsCNN", name
    from ttvis.server.discover import find_runs

    assert sorted(p.name for p in find_runs([base])) == ["canonical", "converted", "original", "per_epoch"]


def test_every_layout_gives_the_same_projection(layouts):
    from ttvis.pipeline import visualize

    base = layouts["base"]
    og = base / "original"
    if not TrainingDynamics(og).has_predictions:
        _ttvis("preprocess", og)
    xy = {}
    for name in ("canonical", "per_epoch", "original"):
        notes = []
        evals = visualize(base / name, "DVI", dict(FAST), on_message=notes.append, run=RUN)
        xy[name] = [np.load(base / name / f"visualize/DVI/projection/{e}.npy") for e in EPOCHS]
        assert evals["summary"]["final"]["ppr_train"] > 0.5, name
        assert (base / name / "visualize/DVI/bgimg/3.png").is_file()
        if name == "original":  # config.json's VISUALIZATION reached the parameters, and said so
            assert any("config.json" in n and "n_neighbors=15" in n for n in notes), notes
    for name in ("per_epoch", "original"):
        for e, (a, b) in enumerate(zip(xy["canonical"], xy[name])):
            assert np.array_equal(a, b), (name, EPOCHS[e])


def test_config_visualization_values_become_dvi_parameters(layouts, tmp_path):
    from ttvis.pipeline import visualize

    og = tmp_path / "og"
    _write_original(layouts["src"], layouts["x"], og, visualization={
        "N_NEIGHBORS": 10, "LAMBDA1": 0.5, "LAMBDA2": 0.2, "MAX_EPOCH": 3, "PATIENT": 1, "RESOLUTION": 40,
        "BATCH_SIZE": 1000, "ENCODER_DIMS": [64, 96, 2], "DECODER_DIMS": [2, 96, 64],
        "BOUNDARY": {"B_N_EPOCHS": 1, "L_BOUND": 0.4}, "S_N_EPOCHS": 5})
    notes = []
    visualize(og, "DVI", {"first_epochs": 4}, epochs="1-2", on_message=notes.append)
    recorded = json.loads((og / "visualize/DVI/params.json").read_text())
    p = recorded["params"]
    assert {k: p[k] for k in ("n_neighbors", "lambda1", "lambda2", "max_epochs", "patience", "batch_size", "hidden", "first_epochs")} == {
        "n_neighbors": 10, "lambda1": 0.5, "lambda2": 0.2, "max_epochs": 3, "patience": 1,
        "batch_size": 1000, "hidden": [96], "first_epochs": 4}
    assert recorded["run"]["resolution"] == 40  # a run setting, not DVI's
    said = " ".join(notes)
    assert "B_N_EPOCHS not used" in said and "L_BOUND not used" in said and "S_N_EPOCHS not used" in said
    assert any("computing representations/predictions" in n for n in notes)  # visualize preprocessed first


def test_preprocess_from_checkpoints_alone_reproduces_the_training_loop(layouts, tmp_path):
    src, perm = layouts["src"], layouts["perm"]
    og = tmp_path / "og"
    _write_original(src, layouts["x"], og, with_arrays=False)
    with pytest.raises(DynamicsError, match="ttvis preprocess"):
        TrainingDynamics(og)
    out = _ttvis("preprocess", og, "--batch-size", "300").stdout
    assert "computed 3 epoch(s)" in out
    run = TrainingDynamics(og)
    for e in EPOCHS:  # what Recorder saw during training, recomputed from model.py + the checkpoint
        np.testing.assert_allclose(run.representation(e), src.representation(e)[perm], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(run.prediction(e), src.prediction(e)[perm], rtol=1e-5, atol=1e-5)
    stamp = (og / "Model/Epoch_1/train_data.npy").stat().st_mtime_ns
    assert "nothing to compute" in _ttvis("preprocess", og).stdout
    assert "computed 3 epoch(s)" in _ttvis("preprocess", og, "--force").stdout
    assert (og / "Model/Epoch_1/train_data.npy").stat().st_mtime_ns != stamp


def test_summary_writer_calls_write_a_run_preprocess_completes(layouts, tmp_path, digits_run):
    from ttvis import SummaryWriter
    from ttvis.demo.model import DigitsCNN

    src, perm, x = layouts["src"], layouts["perm"], layouts["x"]
    tr, te = src.train_index, src.test_index
    ds = [torch.utils.data.TensorDataset(torch.from_numpy(x[i]), torch.from_numpy(src.labels[i])) for i in (tr, te)]
    w = SummaryWriter(tmp_path / "old", 200, 0)
    w.write_meta_data(torch.utils.data.DataLoader(ds[0], batch_size=64), torch.utils.data.DataLoader(ds[1], batch_size=64))
    for e in (1, 2):
        w.write_checkpoint(torch.load(digits_run / f"model/{e}.pth", weights_only=True), e, e - 1)
    msg = _ttvis("preprocess", tmp_path / "old", check=False).stderr
    assert "Model/model.py" in msg and "feature" in msg and msg.count("error:") == 1
    shutil.copy(src.model_source, tmp_path / "old/Model/model.py")
    _ttvis("preprocess", tmp_path / "old")
    run = TrainingDynamics(tmp_path / "old")
    assert run.layout == "original" and run.epochs == [1, 2] and run.test_index.size == te.size
    np.testing.assert_allclose(run.representation(2), src.representation(2)[perm], rtol=1e-5, atol=1e-5)
    assert run.sprite_png(0)[:4] == b"\x89PNG"
    # with model= the writer records the arrays itself
    w2 = SummaryWriter(tmp_path / "live", 500, 0, model=DigitsCNN())
    w2.write_meta_data(torch.utils.data.DataLoader(ds[0], batch_size=64), torch.utils.data.DataLoader(ds[1], batch_size=64))
    w2.write_checkpoint(torch.load(digits_run / "model/3.pth", weights_only=True), 3, 2)
    live = TrainingDynamics(tmp_path / "live")
    assert live.epochs == [3] and live.has_predictions and (tmp_path / "live/Model/model.py").is_file()
    np.testing.assert_allclose(live.prediction(3), src.prediction(3)[perm], rtol=1e-5, atol=1e-5)


def test_evaluate_model_matches_an_independent_evaluation(digits_run, tmp_path):
    from ttvis.demo.digits import load_digits_split
    from ttvis.demo.model import DigitsCNN

    run_dir = tmp_path / "digits"
    shutil.copytree(digits_run, run_dir, ignore=shutil.ignore_patterns("visualize"))
    out = _ttvis("evaluate-model", run_dir).stdout
    assert "train acc" in out and "subject_model_eval.json" in out
    got = json.loads((run_dir / "subject_model_eval.json").read_text())
    x, y, tr, te = load_digits_split(0)
    for e in (1, 10, 20):
        model = DigitsCNN()
        model.load_state_dict(torch.load(run_dir / f"model/{e}.pth", weights_only=True))
        model.eval()
        with torch.no_grad():
            logits = model(torch.from_numpy(x))
        for split, idx in (("train", tr), ("test", te)):
            acc = float((logits[idx].argmax(1).numpy() == y[idx]).mean())
            loss = float(torch.nn.functional.cross_entropy(logits[idx], torch.from_numpy(y[idx])))
            assert got[f"{split}_acc"][str(e)] == pytest.approx(acc, abs=1e-9), (e, split)
            assert got[f"{split}_loss"][str(e)] == pytest.approx(loss, rel=1e-4), (e, split)
    assert got["test_acc"]["20"] > got["test_acc"]["1"]


def _representation_only(digits_run: Path, dst: Path) -> list[str]:
    shutil.copytree(digits_run, dst, ignore=shutil.ignore_patterns("visualize", "prediction", "model", "model.py", "sprites", "label"))
    texts = [f"sample {i}: a handwritten digit as text" for i in range(1797)]
    (dst / "dataset/text.txt").write_text("\n".join(texts) + "\n")
    atomic.save_json(dst / "dataset/info.json", {"task": "representation"})
    return texts


def test_representation_only_run_projects_without_territories(digits_run, tmp_path):
    from test_server import run_session

    from ttvis.pipeline import visualize

    run_dir = tmp_path / "ws" / "codes"
    texts = _representation_only(digits_run, run_dir)
    run = TrainingDynamics(run_dir)
    assert run.task == "representation" and not run.has_predictions and (run.labels == -1).all()
    evals = visualize(run_dir, "DVI", dict(FAST), epochs="1-4", run=RUN)
    m = evals["epochs"]["4"]
    assert m["npr_train"] > 0.2 and m["trustworthiness"] > 0.8 and m["temporal_ranking"] is not None
    assert m["ppr_train"] is None and "territory_agreement" not in m and m["training"]["boundary_samples"] == 0
    assert not (run_dir / "visualize/DVI/bgimg").exists() or not any((run_dir / "visualize/DVI/bgimg").iterdir())
    assert "representation-only" in _ttvis("evaluate-model", run_dir, check=False).stderr

    async def body(s):
        sample = await s.request("ttvis/sample", {"path": str(run_dir), "index": 7, "method": "DVI"})
        epoch = await s.request("ttvis/epoch", {"path": str(run_dir), "method": "DVI", "epoch": 4})
        return sample, epoch

    sample, epoch = run_session(tmp_path / "ws", body)
    assert sample["text"] == texts[7] and sample["sprite"] is None and sample["label"] == -1
    assert len(sample["trajectory"]["positions"]) == 4
    assert epoch["background"] is None and epoch["predicted"] is None


def test_original_non_classification_variant(digits_run, tmp_path):
    src = TrainingDynamics(digits_run)
    tr, te = src.train_index, src.test_index
    og = tmp_path / "codesearch"
    for e in (1, 2):
        d = og / f"Model/Epoch_{e}"
        atomic.save_npy(d / "train_data.npy", src.representation(e)[tr])
        atomic.save_npy(d / "test_data.npy", src.representation(e)[te])
        atomic.save_json(d / "index.json", list(range(tr.size)))
        atomic.save_json(d / "test_index.json", list(range(te.size)))
    for i in range(1797):
        atomic.save_bytes(og / f"Model/Epoch_1/labels/{i}.txt", f"def f{i}(): return {i}\n".encode())
    run = TrainingDynamics(og)
    assert (run.layout, run.task, run.epochs, run.n_samples) == ("original", "representation", [1, 2], 1797)
    assert np.array_equal(run.representation(2), src.representation(2)[np.concatenate([tr, te])])
    assert run.text(1500) == "def f1500(): return 1500" and run.has_text and not run.has_sprites


# ---- malformed variants: one clear error naming the file ---------------------------------
@pytest.fixture
def og_copy(layouts, tmp_path):
    """An original-layout run with checkpoints only (representations to compute)."""
    og = tmp_path / "og"
    _write_original(layouts["src"], layouts["x"], og, with_arrays=False)
    return og


def _cli_error(*args) -> str:
    p = _ttvis(*args, check=False)
    assert p.returncode == 2, p.stdout + p.stderr
    lines = [l for l in p.stderr.splitlines() if l.startswith("error:")]
    assert len(lines) == 1 and "expected" in lines[0], p.stderr
    return lines[0]


def test_missing_model_py(og_copy):
    (og_copy / "Model/model.py").unlink()
    line = _cli_error("preprocess", og_copy)
    assert "Model/model.py" in line and "feature(x)" in line and "no such file" in line


def test_model_py_without_feature(og_copy):
    (og_copy / "Model/model.py").write_text(
        "import torch\nclass DigitsCNN(torch.nn.Module):\n    def prediction(self, h):\n        return h\n")
    line = _cli_error("preprocess", og_copy)
    assert "Model/model.py" in line and "DigitsCNN" in line and "feature" in line


def test_model_py_that_fails_to_import(og_copy):
    (og_copy / "Model/model.py").write_text("import no_such_module_here\n")
    line = _cli_error("preprocess", og_copy)
    assert "Model/model.py" in line and "ModuleNotFoundError" in line


def test_checkpoint_of_another_architecture(og_copy):
    atomic.save_torch(og_copy / "Model/Epoch_2/subject_model.pth", torch.nn.Linear(3, 4).state_dict())
    line = _cli_error("preprocess", og_copy)
    assert "Epoch_2/subject_model.pth" in line and "state_dict for DigitsCNN" in line and "mismatch" in line


def test_index_out_of_range(og_copy, layouts, tmp_path):
    atomic.save_json(og_copy / "Model/Epoch_1/index.json", [0, 1, 99999])
    line = _cli_error("preprocess", og_copy)
    assert "Epoch_1/index.json" in line and "index 99999" in line
    pe = tmp_path / "pe"
    shutil.copytree(layouts["base"] / "per_epoch", pe)
    atomic.save_json(pe / "dataset/index.json", {"train": [0, 5000], "test": []})
    with pytest.raises(DynamicsError, match=r"dataset/index.json: expected \"train\" indices in \[0, 1797\), found index 5000"):
        TrainingDynamics(pe)


def test_epochs_with_different_sample_counts(layouts, tmp_path):
    pe = tmp_path / "pe"
    shutil.copytree(layouts["base"] / "per_epoch", pe)
    np.save(pe / "epochs/epoch_2/embeddings.npy", np.zeros((1700, 64), np.float32))
    run = TrainingDynamics(pe)
    with pytest.raises(DynamicsError, match=r"epoch_2/embeddings.npy: expected 1797 rows"):
        run.validate()
    og = tmp_path / "og"
    _write_original(layouts["src"], layouts["x"], og)
    atomic.save_json(og / "Model/Epoch_3/index.json", list(range(1000)))
    with pytest.raises(DynamicsError, match=r"Epoch_3/index.json: expected 1437 indices, as in Epoch_1"):
        TrainingDynamics(og).representation(3)


def test_bad_config_and_unknown_folder(tmp_path):
    (tmp_path / "r/Model/Epoch_1").mkdir(parents=True)
    (tmp_path / "r/config.json").write_text("{not json")
    with pytest.raises(DynamicsError, match="config.json: expected valid JSON"):
        TrainingDynamics(tmp_path / "r")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DynamicsError, match="epochs/epoch_E/.*Model/Epoch_E/"):
        TrainingDynamics(tmp_path / "nothing")
    line = _cli_error("convert", tmp_path / "nothing", "--to", tmp_path / "out")
    assert "nothing" in line and not (tmp_path / "out").exists()


def test_server_trains_a_run_that_needs_preprocessing(og_copy):
    from ttvis.server.api import TtvisApi

    api = TtvisApi(roots=[og_copy.parent], trusted=True)
    found = api.discover({})["runs"]
    assert [r["name"] for r in found] == ["og"] and "ttvis preprocess" in found[0]["error"]
    started = api.train({"path": str(og_copy), "method": "DVI", "params": dict(FAST), "run": RUN, "epochs": "1-2"})
    job = api.wait(started["job"], 300)
    assert job.status == "done", job.error
    d = api.describe({"path": str(og_copy)})
    assert d["layout"] == "original" and d["methods"]["DVI"]["epochs"] == [1, 2] and d["hasSprites"]

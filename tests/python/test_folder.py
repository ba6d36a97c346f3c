"""The training-dynamic folder reader: round trips and every bad-input error."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ttvis.dynamics import DynamicsError, TrainingDynamics
from ttvis.dynamics import atomic


def test_reads_the_recorded_digits_run(digits_run):
    run = TrainingDynamics(digits_run)
    assert run.epochs == list(range(1, 21))
    assert (run.n_samples, run.dim, run.n_classes) == (1797, 64, 10)
    assert run.classes == [str(i) for i in range(10)]
    assert run.train_index.size == 1437 and run.test_index.size == 360
    assert not set(run.train_index) & set(run.test_index)
    rep = run.representation(5)
    assert rep.dtype == np.float32 and rep.shape == (1797, 64)
    pred = run.prediction(5)
    assert pred.dtype == np.float32 and pred.shape == (1797, 10)
    from sklearn.datasets import load_digits

    assert np.array_equal(run.labels, load_digits().target)
    png = run.sprite_png(3)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert run.summary()["hasPredictions"] is True


def _expect(path_part: str, match: str, fn):
    with pytest.raises(DynamicsError) as ei:
        fn()
    msg = str(ei.value)
    assert path_part in msg and "expected" in msg, msg
    assert match in msg, msg
    return msg


def test_missing_folder_and_missing_representations(tmp_path):
    _expect("nope", "training-dynamic folder", lambda: TrainingDynamics(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    _expect("representation", "E.npy", lambda: TrainingDynamics(tmp_path / "empty"))


def test_unknown_epoch(run_copy):
    run = TrainingDynamics(run_copy)
    _expect("99.npy", "no epoch 99", lambda: run.representation(99))


def test_feature_dims_differ_between_epochs(run_copy):
    np.save(run_copy / "dataset/representation/7.npy", np.zeros((1797, 32), np.float32))
    run = TrainingDynamics(run_copy)
    _expect("representation/7.npy", "64 columns", lambda: run.representation(7))
    _expect("representation/7.npy", "64 columns", run.validate)


def test_sample_count_differs_between_files(run_copy):
    np.save(run_copy / "dataset/label/labels.npy", np.zeros(1700, np.int64))
    _expect("labels.npy", "[1797]", lambda: TrainingDynamics(run_copy))


def test_nan_in_representation(run_copy):
    a = np.load(run_copy / "dataset/representation/3.npy")
    a[10, 5] = np.nan
    np.save(run_copy / "dataset/representation/3.npy", a)
    _expect("representation/3.npy", "NaN", lambda: TrainingDynamics(run_copy).representation(3))


def test_inf_in_prediction(run_copy):
    a = np.load(run_copy / "dataset/prediction/4.npy")
    a[0, 0] = np.inf
    np.save(run_copy / "dataset/prediction/4.npy", a)
    _expect("prediction/4.npy", "inf", lambda: TrainingDynamics(run_copy).prediction(4))


def test_corrupt_npy(run_copy):
    (run_copy / "dataset/representation/2.npy").write_bytes(b"\x93NUMPY garbage")
    _expect("representation/2.npy", "corrupt", lambda: TrainingDynamics(run_copy).representation(2))


def test_prediction_wrong_class_count(run_copy):
    np.save(run_copy / "dataset/prediction/6.npy", np.zeros((1797, 7), np.float32))
    _expect("prediction/6.npy", "10 columns", lambda: TrainingDynamics(run_copy).prediction(6))


def test_index_out_of_range_and_bad_json(run_copy):
    (run_copy / "index.json").write_text(json.dumps({"train": [0, 1, 5000], "test": []}))
    _expect("index.json", "[0, 1797)", lambda: TrainingDynamics(run_copy))
    (run_copy / "index.json").write_text("{not json")
    _expect("index.json", "valid JSON", lambda: TrainingDynamics(run_copy))


def test_too_few_class_names(run_copy):
    (run_copy / "dataset/info.json").write_text(json.dumps({"classes": ["a", "b"]}))
    _expect("info.json", "at least 10 names", lambda: TrainingDynamics(run_copy))


def test_absent_index_means_all_train(run_copy):
    (run_copy / "index.json").unlink()
    run = TrainingDynamics(run_copy)
    assert run.train_index.size == 1797 and run.test_index.size == 0


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "x.npy"
    atomic.save_npy(target, np.arange(3))

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with atomic.atomic_open(target, "wb") as f:
            f.write(b"half")
            raise Boom()
    assert np.array_equal(np.load(target), np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["x.npy"]  # no temp file left behind

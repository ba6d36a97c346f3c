"""The Recorder API on a real model, and the DeepVisualInsight-compatible aliases."""

from __future__ import annotations

import numpy as np
import torch

from ttvis import Recorder
from ttvis.demo.digits import load_digits_split
from ttvis.demo.model import DigitsCNN
from ttvis.dynamics import TrainingDynamics
from ttvis.dynamics.subject import load_subject_model


def test_record_epoch_matches_the_model_and_restores_mode(tmp_path):
    x, y, tr, te = load_digits_split(0)
    torch.manual_seed(1)
    model = DigitsCNN()
    model.train()
    rec = Recorder(tmp_path / "run", classes=[str(i) for i in range(10)], batch_size=100)
    rec.record_dataset(torch.from_numpy(x), y, train_index=tr, test_index=te)
    rec.record_epoch(model, 1)
    assert model.training, "record_epoch must restore the model's training mode"
    run = TrainingDynamics(tmp_path / "run")
    model.eval()
    with torch.no_grad():
        h = model.feature(torch.from_numpy(x))
        p = model.prediction(h)
    np.testing.assert_allclose(run.representation(1), h.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run.prediction(1), p.numpy(), rtol=1e-5, atol=1e-6)
    assert np.array_equal(run.train_index, tr) and np.array_equal(run.test_index, te)
    # the checkpoint + model.py reload into the same model
    loaded = load_subject_model(run, 1)
    with torch.no_grad():
        np.testing.assert_allclose(loaded.prediction(h).numpy(), p.numpy(), rtol=1e-5, atol=1e-6)
    assert len(list((tmp_path / "run/dataset/sprites").glob("*.png"))) == 1797

"""The Recorder API on a real model, and the DeepVisualInsight-compatible aliases."""

from __future__ import annotations

import numpy as np
import torch

from ttvis import Recorder, SummaryWriter
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


def test_summary_writer_aliases(tmp_path):
    x, y, tr, te = load_digits_split(0)
    ds_tr = torch.utils.data.TensorDataset(torch.from_numpy(x[tr]), torch.from_numpy(y[tr]))
    ds_te = torch.utils.data.TensorDataset(torch.from_numpy(x[te]), torch.from_numpy(y[te]))
    model = DigitsCNN()
    w = SummaryWriter(tmp_path / "old", batch_size=200, num_worker=0, model=model)
    w.write_meta_data(torch.utils.data.DataLoader(ds_tr, batch_size=64), torch.utils.data.DataLoader(ds_te, batch_size=64))
    w.write_checkpoint(model.state_dict(), 1, 0)
    run = TrainingDynamics(tmp_path / "old")
    assert run.epochs == [1] and run.train_index.size == len(tr) and run.test_index.size == len(te)
    assert (tmp_path / "old/model/1.pth").is_file()
    assert np.array_equal(run.labels, np.concatenate([y[tr], y[te]]))

"""DVI end to end on the real digits run, its parts, and the acceptance thresholds."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from ttvis.dynamics import TrainingDynamics, VisResults
from ttvis.dynamics.source import RunSource, prediction_head
from ttvis.projection.complex import dvi_complex
from ttvis.projection.dvi import DVI, DVIParams
from ttvis.projection.knn import knn_graph
from ttvis.projection.losses import umap_cross_entropy
from ttvis.projection.schema import validate
from ttvis.render.territory import class_from_color, position_to_pixel


def _first_epochs(run, n, seed=0, with_method=False, **params):
    method = DVI(validate(DVIParams, params), seed=seed, device="cpu")
    out = [(ep, method.epoch_state(ep)) for ep in method.fit(RunSource(run, "train"), run.epochs[:n])]
    return out if with_method else [ep for ep, _ in out]


def test_acceptance_last_epoch(dvi_result):
    """Done criteria of the core issue, on the demo's own 20-epoch run."""
    path, evals = dvi_result
    last = evals["epochs"]["20"]
    assert last["npr_train"] >= 0.45, last
    # test samples are only projected (fit_on=train): a held-out figure (0.47 when they were fitted too)
    assert last["npr_test"] >= 0.38, last
    assert last["ppr_train"] >= 0.90, last
    assert last["temporal_ranking"] >= 0.4, last
    assert last["territory_agreement"] >= 0.85, last
    assert last["head"] == "subject model"


def test_outputs_match_design_layout(dvi_result):
    path, evals = dvi_result
    res = VisResults(path, "DVI", 1797)
    assert res.epochs() == list(range(1, 21))
    for e in (1, 20):
        xy = res.projection(e)
        assert xy.dtype == np.float32 and xy.shape == (1797, 2)
        s = res.scale(e)
        assert s.shape == (4,) and s[0] <= xy[:, 0].min() and s[2] >= xy[:, 0].max()
        assert s[1] <= xy[:, 1].min() and s[3] >= xy[:, 1].max()
        img = Image.open(res.background_path(e))
        assert img.size == (256, 256)
        assert res.model_path(e).is_file()
    params = json.loads(res.params_path.read_text())
    assert params["method"] == "DVI" and params["params"]["n_neighbors"] == 15
    on_disk = json.loads(res.eval_path.read_text())
    assert set(on_disk["epochs"]) == {str(e) for e in range(1, 21)}


def test_territory_colour_under_points_is_the_predicted_class(dvi_result):
    """Read the PNG itself: the colour under each sample's position names its predicted class."""
    path, _ = dvi_result
    run = TrainingDynamics(path)
    res = VisResults(path, "DVI", run.n_samples)
    for e in (10, 20):
        rgb = np.asarray(Image.open(io.BytesIO(res.background_png(e))).convert("RGB"))
        cls = class_from_color(rgb, run.n_classes)
        r, c = position_to_pixel(res.projection(e), res.scale(e), rgb.shape[0])
        agree = (cls[r, c] == run.predicted_class(e)).mean()
        assert agree >= 0.85, (e, agree)


def test_epoch_one_does_not_collapse(digits_run):
    """Epoch-1 features are nearly identical (std ~0.016); the projection must still spread out."""
    run = TrainingDynamics(digits_run)
    assert run.representation(1).std(0).mean() < 0.05  # the pitfall really is in the data
    ep = _first_epochs(run, 1)[0]
    from ttvis.metrics import neighbour_preserving_rate

    spread = np.median(np.linalg.norm(ep.positions - np.median(ep.positions, 0), axis=1))
    assert spread > 1.0, spread
    assert neighbour_preserving_rate(run.representation(1), ep.positions) > 0.3


def test_repulsion_stays_alive_at_tiny_distances():
    a, b = 1.577, 0.895
    zn = torch.tensor([[[1e-4, 0.0]]], requires_grad=True)
    loss = umap_cross_entropy(torch.zeros(1, 2), torch.tensor([[5.0, 0.0]]), zn, torch.ones(1), a, b)
    loss.backward()
    assert zn.grad[0, 0, 0] < -0.1  # descending the loss pushes the negative sample away
    # the original DVI code's clamp of 1 - q at 1e-4 gives no push at all at this distance
    zo = torch.tensor([[1e-4, 0.0]], requires_grad=True)
    q = 1 / (1 + a * (zo**2).sum() ** b)
    (-torch.log(torch.clamp(1 - q, min=1e-4))).backward()
    assert zo.grad.abs().max() == 0


def test_boundary_samples_reach_the_loss(digits_run):
    run = TrainingDynamics(digits_run)
    ep = _first_epochs(run, 2)[1]
    n_b = ep.stats["boundary_samples"]
    assert n_b >= 50, ep.stats
    assert ep.stats["boundary_edge_weight"] > 0.02, ep.stats
    head = prediction_head(run, 2)
    top2 = np.sort(head.probabilities(ep.boundary), 1)[:, -2:]
    assert np.all(top2[:, 1] - top2[:, 0] < 0.1)  # they really sit on a decision boundary
    x = run.representation(2)
    edges = dvi_complex(x[:100], ep.boundary[:20], 15)
    assert ((edges.head >= 100) | (edges.tail >= 100)).sum() > 0


def test_boundary_samples_lie_between_the_two_classes_they_mix(digits_run):
    from ttvis.projection.boundary import boundary_samples

    run = TrainingDynamics(digits_run)
    for e in (3, 20):  # later epochs have more places where a third class wins along a mixup
        head = prediction_head(run, e)
        x, pred = run.representation(e), run.predicted_class(e)
        b, pairs = boundary_samples(x, pred, head.fn, 2000, np.random.default_rng(0), 0.1, 12)
        assert len(b) > 500
        top2 = np.argsort(head.probabilities(b), 1)[:, -2:]
        assert all(set(t) == {pred[i], pred[j]} for t, (i, j) in zip(top2, pairs))


def test_same_seed_same_output_and_seed_matters(digits_run):
    run = TrainingDynamics(digits_run)
    a = _first_epochs(run, 2, seed=3)[-1].positions
    b = _first_epochs(run, 2, seed=3)[-1].positions
    c = _first_epochs(run, 2, seed=4)[-1].positions
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_parameters_reach_the_code(digits_run):
    run = TrainingDynamics(digits_run)
    ep, state = _first_epochs(run, 1, with_method=True, hidden=[32], batch_size=512, boundary_ratio=0.0, first_epochs=3, patience=5)[0]
    assert state["model"]["encoder.0.weight"].shape == (32, 64)
    assert ep.stats["boundary_samples"] == 0
    assert ep.stats["train_epochs"] == 3
    n_edges = ep.stats["edges"] // 2  # each undirected edge once
    assert ep.stats["steps"] == 3 * -(-n_edges // 512)


def test_unknown_method_and_bad_parameter():
    from ttvis.projection.registry import make_method

    with pytest.raises(ValueError, match="unknown visualization method 'TSNE'; available: DVI"):
        make_method("TSNE")
    with pytest.raises(ValueError, match="n_neighbors: expected a number >= 2, found 1"):
        make_method("DVI", {"n_neighbors": 1})
    with pytest.raises(ValueError, match="unknown parameter"):
        make_method("DVI", {"lamda1": 1})
    with pytest.raises(ValueError, match="lambda1: expected a finite number"):
        make_method("DVI", {"lambda1": float("nan")})


def test_knn_exact_and_pynndescent_agree(digits_run):
    x = TrainingDynamics(digits_run).representation(20)[:600]
    a, _ = knn_graph(x, 10, exact=True)
    b, _ = knn_graph(x, 10, exact=False)
    overlap = np.mean([len(set(p) & set(q)) / 10 for p, q in zip(a, b)])
    assert overlap > 0.95


@pytest.mark.parametrize("negatives", ["uniform", "batch"])
def test_a_large_complex_trains_with_pooled_or_in_batch_negatives(negatives):
    """Above what one step touches, negatives come from a uniform pool or the batch's edge ends
    (trainer docstring): either way the 2-D map keeps the digits classes apart."""
    from sklearn.datasets import load_digits
    from sklearn.neighbors import KNeighborsClassifier

    from ttvis.projection.losses import ReconstructionTerm, UmapTerm, umap_ab
    from ttvis.projection.networks import VisModel
    from ttvis.projection.trainer import train_vis_model

    digits = load_digits()
    x = ((digits.data - digits.data.mean(0)) / digits.data.std()).astype(np.float32)
    edges = dvi_complex(x, None, 15, 0)
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = VisModel(64, [64, 64])
    a, b = umap_ab(1.0, 0.1)
    stats = train_vis_model(model, torch.as_tensor(x), edges, [UmapTerm(a, b), ReconstructionTerm(1.0)],
                            negative_sample_rate=5, learning_rate=0.01, batch_size=128, max_epochs=4, patience=4,
                            generator=gen, n_samples=len(x), negatives=negatives)  # 1,797 nodes > 128 * 6: the pooled path
    assert stats.epochs == 4 and np.isfinite(stats.loss)
    with torch.no_grad():
        xy = model.encode(torch.as_tensor(x)).numpy()
    knn = KNeighborsClassifier(5).fit(xy[::2], digits.target[::2])
    assert knn.score(xy[1::2], digits.target[1::2]) > 0.85


def test_a_large_complex_checks_the_stopping_rule_every_round_but_not_before_a_whole_pass(monkeypatch):
    """Rounds of at most CHECK_EDGES edges (trainer docstring): training stops no later than when
    the rule is checked once a pass, never before every edge has been seen once, and the map
    still keeps the digits classes apart. The rule compares the mean loss over the last pass's
    rounds, so where it stops does not hang on one noisy round: over seeds 0-23 (a stand-in for
    the float differences between CPUs) the map's kNN accuracy was 0.888-0.958 (per-pass rule:
    0.913-0.963); the rule on single rounds stopped after one pass on some seeds (0.816 on an
    Intel Xeon, 0.839 on seed 5 here)."""
    from sklearn.datasets import load_digits
    from sklearn.neighbors import KNeighborsClassifier

    from ttvis.projection import trainer
    from ttvis.projection.losses import ReconstructionTerm, UmapTerm, umap_ab
    from ttvis.projection.networks import VisModel

    digits = load_digits()
    x = ((digits.data - digits.data.mean(0)) / digits.data.std()).astype(np.float32)
    edges = dvi_complex(x, None, 15, 0)
    undirected = int((edges.head < edges.tail).sum())
    a, b = umap_ab(1.0, 0.1)

    def train(check_edges: int, model=None, patience: int = 2):
        monkeypatch.setattr(trainer, "CHECK_EDGES", check_edges)
        gen = torch.Generator().manual_seed(0)
        torch.manual_seed(0)
        model = model or VisModel(64, [64, 64])
        stats = trainer.train_vis_model(model, torch.as_tensor(x), edges, [UmapTerm(a, b), ReconstructionTerm(1.0)],
                                        negative_sample_rate=5, learning_rate=0.01, batch_size=256, max_epochs=8,
                                        patience=patience, generator=gen, n_samples=len(x), negatives="batch")
        with torch.no_grad():
            return stats, model, model.encode(torch.as_tensor(x)).numpy()

    per_pass, _, _ = train(1 << 30)  # one round a pass: the rule as before rounds
    rounds, model, xy = train(4096)  # 5 rounds a pass
    one_pass = -(-undirected // 256)
    assert one_pass <= rounds.steps <= per_pass.steps
    assert rounds.terms and np.isfinite(rounds.loss)
    knn = KNeighborsClassifier(5).fit(xy[::2], digits.target[::2])
    assert knn.score(xy[1::2], digits.target[1::2]) > 0.85
    # a trained model on its plateau, a round per step, patience 1: it would stop after a step
    # or two, but not before every edge has been seen once
    again, _, _ = train(1, model, patience=1)
    assert one_pass <= again.steps < 2 * one_pass


def test_an_empty_complex_trains_nothing_and_returns():
    """No edges (e.g. every node isolated): the trainer stops after ``patience`` empty passes."""
    from ttvis.projection.complex import Edges
    from ttvis.projection.losses import ReconstructionTerm, UmapTerm, umap_ab
    from ttvis.projection.networks import VisModel
    from ttvis.projection.trainer import train_vis_model

    none = np.zeros(0, np.int64)
    a, b = umap_ab(1.0, 0.1)
    stats = train_vis_model(VisModel(8, [8]), torch.zeros(5, 8), Edges(none, none, np.zeros(0, np.float32)),
                            [UmapTerm(a, b), ReconstructionTerm(1.0)], negative_sample_rate=5, learning_rate=0.01,
                            batch_size=16, max_epochs=10, patience=2, generator=torch.Generator().manual_seed(0),
                            n_samples=5)
    assert stats.steps == 0 and stats.epochs == 3 and stats.loss == 0.0

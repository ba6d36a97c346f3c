"""MovementDVI (:mod:`ttvis.projection.movement_dvi`): registered, runs on a few digits epochs
with its quality floors, and its movement-fidelity term does what it says."""

from __future__ import annotations

import numpy as np
import torch

from ttvis.projection.losses import Batch, MovementTerm
from ttvis.projection.registry import get_method, make_method


def test_registered_with_a_schema():
    cls = get_method("movementdvi")
    assert cls.name == "MovementDVI" and cls.has_inverse and cls.per_epoch
    props = cls.describe()["schema"]["properties"]
    assert {"lambda_move", "move_scale", "lambda1", "n_neighbors"} <= set(props)
    vm = make_method("MovementDVI", {"lambda_move": 0.3}, {"device": "cpu"})
    assert vm.params.lambda_move == 0.3


def test_movement_term_pulls_each_step_to_its_target():
    """A sample whose representation did not move is pulled back onto its previous position;
    one that moved is pushed out to its target step length."""
    prev = torch.zeros(2, 2)
    target = torch.tensor([0.0, 1.0])
    z = torch.tensor([[0.3, 0.0], [0.1, 0.0]], requires_grad=True)
    b = Batch(model=None, nodes=torch.zeros(2, 1), n_samples=2, weight=torch.ones(1), z_head=z[:1], z_tail=z[:1],
              z_neg=torch.zeros(2, 1, 2), rec_idx=torch.zeros(0, dtype=torch.long), z_rec=torch.zeros(0, 2),
              enc_idx=torch.arange(2), z_enc=z)
    MovementTerm(1.0, prev, target)(b).backward()
    assert z.grad[0, 0] > 0  # descending moves sample 0 back towards 0
    assert z.grad[1, 0] < 0  # and sample 1 out towards a step of 1


def test_runs_on_digits_with_quality_floors(run_copy):
    """Four digits epochs through the pipeline: NPR, PPR and the raw stability stay above floors,
    and the run's movement scale is saved with each epoch (a resumed run keeps it)."""
    from ttvis.dynamics.results import VisResults
    from ttvis.pipeline import visualize

    evals = visualize(run_copy, "MovementDVI", {"lambda_move": 0.3, "move_scale": 0.3}, epochs=[1, 2, 3, 4],
                      run={"device": "cpu", "fit_on": "all", "resolution": 32})
    s = evals["summary"]
    assert s["mean"]["npr_train"] > FLOOR_NPR, s
    assert s["mean"]["ppr_train"] > FLOOR_PPR, s
    assert evals["published"]["stab_spearman"] > FLOOR_STAB, evals["published"]
    state = torch.load(VisResults(run_copy, "MovementDVI", 0).model_path(2), weights_only=False)
    ref = state["move_ref"]
    assert len(ref) == 2 and all(np.isfinite(ref)) and ref[0] > 0 and ref[1] > 0


#: measured on these four epochs (lambda_move 0.3, move_scale 0.3): NPR 0.444, PPR 0.847, stab_spearman
#: 0.951 (raw; DVI on all 20 epochs: -0.07); the floors leave room for another CPU's floats
FLOOR_NPR, FLOOR_PPR, FLOOR_STAB = 0.38, 0.75, 0.8

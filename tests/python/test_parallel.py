"""Past one machine: the same visualization and preprocessing through a local Ray cluster of
2 worker processes equals the single-process run with the same seed (ttvis.parallel)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from ttvis.dynamics import VisResults  # noqa: E402
from ttvis.parallel import RayExecutor  # noqa: E402
from ttvis.pipeline import visualize  # noqa: E402

FAST = {"max_epochs": 3, "first_epochs": 6}
RUN = {"device": "cpu", "resolution": 32}


@pytest.fixture(scope="module")
def cluster():
    ex = RayExecutor(num_cpus=2)
    yield ex
    ex.close()


def test_dvi_on_ray_equals_one_process(cluster, digits_run, tmp_path):
    runs = {}
    for name, ex in (("local", None), ("ray", cluster)):
        d = tmp_path / name
        shutil.copytree(digits_run, d, ignore=shutil.ignore_patterns("visualize"))
        runs[name] = (d, visualize(d, "DVI", FAST, "1-3", run=RUN, executor=ex))
    (a, ea), (b, eb) = runs["local"], runs["ray"]
    ra, rb = VisResults(a, "DVI", 1797), VisResults(b, "DVI", 1797)
    for e in (1, 2, 3):
        assert np.array_equal(ra.projection(e), rb.projection(e)), e
        assert ra.background_png(e) == rb.background_png(e), e
        for k in ("npr_train", "npr_test", "ppr_train", "territory_agreement", "npr_boundary"):
            assert ea["epochs"][str(e)][k] == eb["epochs"][str(e)][k], (e, k)
    assert ea["temporal"]["ranking_first"] == eb["temporal"]["ranking_first"]


def test_preprocess_on_ray_equals_one_process(cluster, digits_run, tmp_path):
    from ttvis.dynamics import TrainingDynamics
    from ttvis.dynamics.preprocess import preprocess

    out = {}
    for name, ex in (("local", None), ("ray", cluster)):
        d = tmp_path / name
        shutil.copytree(digits_run, d, ignore=shutil.ignore_patterns("visualize", "prediction"))
        preprocess(d, device="cpu", executor=ex)  # predictions from the checkpoints, every epoch
        out[name] = TrainingDynamics(d)
    for e in (1, 10, 20):
        assert np.array_equal(out["local"].prediction(e), out["ray"].prediction(e)), e

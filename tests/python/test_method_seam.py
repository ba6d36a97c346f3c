"""The method seam: a method defined here, in the test file, and registered through the same
registry, is seen by ``ttvis/methods``, ``ttvis visualize --help``, trains from the CLI and from
``ttvis/train``, and is drawn by the webview (tests/webview loads this file the same way),
without any other file knowing it. Processes load it through ``TTVIS_METHOD_MODULES``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import ClassVar, Iterator

import numpy as np
from pydantic import Field

from ttvis.projection.base import EpochResult, InverseMap, VisMethod, check_cancel
from ttvis.projection.registry import register
from ttvis.projection.schema import Params

HERE = str(Path(__file__).resolve())


class PlaneParams(Params):
    """Parameters of the test method."""

    zoom: float = Field(1.0, ge=0.1, le=10.0, description="scale of the plane")
    centre: bool = Field(True, description="subtract the fitted samples' mean first")


@register
class TestPlane(VisMethod):
    """Principal-component plane per epoch (a linear map with an exact inverse on the plane)."""

    __test__ = False  # not a pytest class
    name: ClassVar[str] = "TestPlane"
    summary: ClassVar[str] = "the top-2 principal components per epoch (a test method)"
    paper: ClassVar[str] = "Pearson 1901"
    has_inverse: ClassVar[bool] = True
    Params = PlaneParams

    def fit(self, source, epochs, *, resume=None, cancel=None, on_stage=None) -> Iterator[EpochResult]:
        for e in epochs:
            if resume is not None and e <= resume.epoch:
                continue
            check_cancel(cancel)
            x = source.representation(e)
            fit = x[source.fit_index].astype(np.float64)
            mean = fit.mean(0) if self.params.centre else np.zeros(x.shape[1])
            w = np.linalg.svd(fit - mean, full_matrices=False)[2][:2].T * self.params.zoom  # [D, 2]
            inv = InverseMap(encode=lambda v, m=mean, w=w: ((v - m) @ w).astype(np.float32),
                             decode=lambda y, m=mean, w=w: (y @ np.linalg.pinv(w) + m).astype(np.float32))
            yield EpochResult.make(e, inv.encode(x), inv, dim=source.dim, stats={"explained": "top-2"})


def _env():
    return {**os.environ, "TTVIS_METHOD_MODULES": HERE, "PYTHONUNBUFFERED": "1", "TTVIS_LOG_LEVEL": "WARNING"}


def _cli(*args, check=True):
    r = subprocess.run([sys.executable, "-m", "ttvis", *map(str, args)], capture_output=True, text=True, env=_env(), timeout=600)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def test_the_registry_and_ttvis_methods_list_it_with_its_schema(run_copy):
    from ttvis.server.api import TtvisApi

    listed = {m["name"]: m for m in TtvisApi([run_copy.parent]).methods({})["methods"]}
    assert list(listed)[:6] == ["DVI", "TimeVis", "Trustvis", "UMAP", "AlignedUMAP", "StackedUMAP"] and "TestPlane" in listed
    m = listed["TestPlane"]
    assert m["hasInverse"] is True and m["paper"] == "Pearson 1901"
    zoom = m["schema"]["properties"]["zoom"]
    assert zoom["default"] == 1.0 and zoom["minimum"] == 0.1 and zoom["maximum"] == 10.0 and zoom["description"]


def test_cli_help_options_training_and_errors(run_copy):
    helptext = _cli("visualize", "--method", "TestPlane", "--help").stdout
    assert "--zoom FLOAT" in helptext and "--centre BOOL" in helptext and "0.1..10.0" in helptext
    assert "--lambda1" not in helptext  # only that method's options
    assert "TestPlane" in _cli("visualize", "--help").stdout  # listed among the methods
    bad = _cli("visualize", run_copy, "--method", "TestPlane", "--zoom", "50", check=False)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == ["error: --zoom: expected a number <= 10.0, found 50.0"]
    out = _cli("visualize", run_copy, "--method", "TestPlane", "--epochs", "1-3", "--zoom", "2", "--resolution", "32").stdout
    assert "outputs in" in out
    res = run_copy / "visualize" / "TestPlane"
    assert sorted(p.name for p in (res / "projection").iterdir()) == ["1.npy", "2.npy", "3.npy"]
    assert (res / "bgimg" / "3.png").is_file()  # an inverse map: territories
    params = json.loads((res / "params.json").read_text())
    assert params["params"] == {"zoom": 2.0, "centre": True} and params["run"]["resolution"] == 32
    ev = json.loads((res / "eval.json").read_text())
    assert ev["epochs"]["3"]["ppr_train"] > 0.2 and ev["temporal"]["ranking_first"] is not None


def test_trains_through_ttvis_train_over_stdio(run_copy):
    from test_safety import RawServer

    os.environ["TTVIS_METHOD_MODULES"] = HERE  # RawServer passes this process's environment on
    try:
        s = RawServer(run_copy.parent)
    finally:
        del os.environ["TTVIS_METHOD_MODULES"]
    try:
        names = [m["name"] for m in s.request("ttvis/methods")["result"]["methods"]]
        assert "TestPlane" in names
        bad = s.request("ttvis/train", {"path": str(run_copy), "method": "TestPlane", "params": {"zoom": 0}})
        assert bad["error"]["code"] == -32602 and bad["error"]["message"] == "params.params.zoom: expected a number >= 0.1, found 0"
        r = s.request("ttvis/train", {"path": str(run_copy), "method": "TestPlane", "epochs": "2-4", "run": {"resolution": 32}})
        assert r["result"]["epochs"] == [2, 3, 4]
        fin = s.wait_note("ttvis/trainFinished")
        assert fin["status"] == "done", fin
        ep = s.request("ttvis/epoch", {"path": str(run_copy), "method": "TestPlane", "epoch": 4})["result"]
        assert ep["background"] and ep["metrics"]["npr_train"] > 0
        s.request("shutdown")
        s.send({"jsonrpc": "2.0", "method": "exit"})
        assert s.p.wait(5) == 0
    finally:
        s.p.kill()

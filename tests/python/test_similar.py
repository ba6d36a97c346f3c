"""Similar samples through a vector index (Milvus Lite by default; a Milvus server when
TTVIS_TEST_MILVUS_URI names one): recall@10 against brute force at every epoch of the demo run,
the CLI and the server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ttvis.dynamics import TrainingDynamics
from ttvis.dynamics.vectors import VectorIndex, brute_force


def _recall(vi: VectorIndex, run: TrainingDynamics, epoch: int, queries: list[int]) -> float:
    x = run.representation(epoch)
    got = [len({h["index"] for h in vi.similar(epoch, [i], 10)} & set(brute_force(x, x[i], 10, {i}).tolist())) / 10 for i in queries]
    return float(np.mean(got))


@pytest.mark.parametrize("kind", ["auto", "HNSW"])
def test_recall_at_10_on_every_epoch_of_the_demo_run(run_copy, kind):
    run = TrainingDynamics(run_copy)
    vi = VectorIndex(run, None, kind)
    queries = list(range(0, 1797, 90))
    for e in run.epochs:
        assert _recall(vi, run, e, queries) >= 0.95, e
    assert (run_copy / "visualize" / "vectors.db").exists()
    # built once, reused: a second index object does not rebuild
    stamp = (run_copy / "visualize" / "vectors.json").stat().st_mtime_ns
    VectorIndex(run, None, kind).similar(5, [3], 10)
    assert (run_copy / "visualize" / "vectors.json").stat().st_mtime_ns == stamp


@pytest.mark.skipif(not os.environ.get("TTVIS_TEST_MILVUS_URI"), reason="no Milvus server: set TTVIS_TEST_MILVUS_URI=http://host:19530 to test one")
def test_recall_against_a_milvus_server(run_copy):
    run = TrainingDynamics(run_copy)
    vi = VectorIndex(run, os.environ["TTVIS_TEST_MILVUS_URI"])
    assert _recall(vi, run, run.epochs[-1], list(range(0, 1797, 90))) >= 0.95


def test_cli_and_server_answer_the_same_neighbours(run_copy):
    r = subprocess.run([sys.executable, "-m", "ttvis", "similar", str(run_copy), "--epoch", "7", "--index", "42", "--k", "10",
                        "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)
    assert [sorted(h) for h in hits] == [["distance", "index"]] * 10 and all(h["index"] != 42 for h in hits)
    assert [h["distance"] for h in hits] == sorted(h["distance"] for h in hits)
    from ttvis.server.api import ApiError, TtvisApi

    api = TtvisApi([run_copy.parent])
    out = api.similar({"path": str(run_copy), "epoch": 7, "index": 42, "k": 10})
    assert [h["index"] for h in out["neighbours"]] == [h["index"] for h in hits]
    sel = api.similar({"path": str(run_copy), "epoch": 7, "indices": [1, 2, 3], "k": 5})["neighbours"]
    assert len(sel) == 5 and not {1, 2, 3} & {h["index"] for h in sel}
    with pytest.raises(ApiError, match="params.k"):
        api.similar({"path": str(run_copy), "epoch": 7, "index": 1, "k": 0})

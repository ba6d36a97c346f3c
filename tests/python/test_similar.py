"""Similar samples through a vector index (Milvus Lite by default; a Milvus server when
TTVIS_TEST_MILVUS_URI names one): recall@10 against brute force at every epoch of the demo run,
the CLI and the server; issue 21: a Milvus Lite folder damaged on disk in several ways is rebuilt and
answers the true neighbours, a real server and the CLI use one index at once, the CLI's label and
prediction columns, and no gRPC keepalive noise on stderr."""

from __future__ import annotations

import json
import os
import re
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
    assert [sorted(h) for h in hits] == [["distance", "index", "label", "label_name", "prediction", "prediction_name"]] * 10
    assert all(h["index"] != 42 for h in hits)
    assert [h["distance"] for h in hits] == sorted(h["distance"] for h in hits)
    from ttvis.server.api import ApiError, TtvisApi

    api = TtvisApi([run_copy.parent])
    out = api.similar({"path": str(run_copy), "epoch": 7, "index": 42, "k": 10})
    assert [h["index"] for h in out["neighbours"]] == [h["index"] for h in hits]
    sel = api.similar({"path": str(run_copy), "epoch": 7, "indices": [1, 2, 3], "k": 5})["neighbours"]
    assert len(sel) == 5 and not {1, 2, 3} & {h["index"] for h in sel}
    with pytest.raises(ApiError, match="params.k"):
        api.similar({"path": str(run_copy), "epoch": 7, "index": 1, "k": 0})


# ---- issue 21 A5: a damaged Milvus Lite folder is detected and rebuilt, never "no neighbours" ----

def _cli_similar(run, epoch=7, index=42, k=10, timeout=300):
    from conftest import ttvis_cmd

    return subprocess.run(ttvis_cmd("similar", str(run), "--epoch", str(epoch), "--index", str(index), "--k", str(k), "--json"),
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, "OMP_NUM_THREADS": "1"})


def _exact(run, epoch=7, index=42, k=10) -> list[int]:
    x = TrainingDynamics(run).representation(epoch)
    return brute_force(x, x[index], k, {index}).tolist()


@pytest.fixture(scope="module")
def built(digits_run, tmp_path_factory):
    """(live run path, template): the digits run with epoch 7's index built by the CLI; the template
    is a copy (mtimes kept) that restores the live path to its built state."""
    import shutil

    live = tmp_path_factory.mktemp("damage") / "digits"
    shutil.copytree(digits_run, live, ignore=shutil.ignore_patterns("visualize"))
    r = _cli_similar(live)
    assert r.returncode == 0, r.stderr
    template = live.parent / "template"
    shutil.copytree(live, template)
    return live, template


def _collection(run) -> "os.PathLike":
    from pathlib import Path

    (c,) = list(Path(run, "visualize", "vectors.db", "collections").iterdir())
    return c


def _garbage(*names):
    def damage(run):
        for n in names:
            (_collection(run) / n).write_bytes(b"garbage")
    return damage


def _truncate_parquet(run):
    for f in _collection(run).rglob("*.parquet"):
        f.write_bytes(f.read_bytes()[:100])


def _folder_to_file(run):
    import shutil

    db = run / "visualize" / "vectors.db"
    shutil.rmtree(db)
    db.write_text("x")


DAMAGES = {
    "garbage manifest": _garbage("manifest.json"),
    "empty manifest": lambda run: (_collection(run) / "manifest.json").write_bytes(b""),
    "both manifests garbage": _garbage("manifest.json", "manifest.json.prev"),
    "data folder deleted": lambda run: __import__("shutil").rmtree(_collection(run) / "partitions" / "_default" / "data"),
    "parquet truncated": _truncate_parquet,
    "schema deleted": lambda run: (_collection(run) / "schema.json").unlink(),
    "schema garbage": _garbage("schema.json"),
    "vectors.db is a file": _folder_to_file,
    "stamps garbage": lambda run: (run / "visualize" / "vectors.json").write_text("{garbage"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_index_is_rebuilt_and_answers_the_true_neighbours(built, damage):
    import shutil

    live, template = built
    shutil.rmtree(live)
    shutil.copytree(template, live)
    DAMAGES[damage](live)
    r = _cli_similar(live)
    assert r.returncode == 0, r.stderr
    assert [h["index"] for h in json.loads(r.stdout)] == _exact(live), r.stderr
    assert re.search(r"damaged|not a folder|building", r.stderr), r.stderr  # said so
    assert "Traceback" not in r.stderr
    r = _cli_similar(live)  # repaired for good: the next call answers without rebuilding
    assert r.returncode == 0 and [h["index"] for h in json.loads(r.stdout)] == _exact(live) and r.stderr == "", r.stderr


# ---- issue 21 A6: two real processes use one run's index at the same time ----

def test_a_server_holding_the_index_and_the_cli_both_answer(run_copy):
    from test_safety import RawServer

    s = RawServer(run_copy.parent)
    try:
        ask = {"path": str(run_copy), "epoch": 7, "index": 42, "k": 10}
        first = s.request("ttvis/similar", ask)
        assert [h["index"] for h in first["result"]["neighbours"]] == _exact(run_copy), first
        r = _cli_similar(run_copy)  # a second process while the server holds vectors.db open
        assert r.returncode == 0, r.stderr
        assert [h["index"] for h in json.loads(r.stdout)] == _exact(run_copy)
        assert (run_copy / "visualize" / "vectors.db.addr.json").exists()  # the server owns and serves the folder
        r = _cli_similar(run_copy, epoch=3, index=7, k=5)  # an epoch not built yet: built through the server
        assert r.returncode == 0 and [h["index"] for h in json.loads(r.stdout)] == _exact(run_copy, 3, 7, 5), r.stderr
        again = s.request("ttvis/similar", {**ask, "epoch": 3, "index": 7, "k": 5})
        assert [h["index"] for h in again["result"]["neighbours"]] == _exact(run_copy, 3, 7, 5), again
        s.request("shutdown")
        s.send({"jsonrpc": "2.0", "method": "exit"})
        s.p.wait(20)
    finally:
        s.p.kill()
    assert not (run_copy / "visualize" / "vectors.db.addr.json").exists()  # exit (os._exit) still released the folder
    r = _cli_similar(run_copy)  # the owner left: the CLI opens the folder
    assert r.returncode == 0 and [h["index"] for h in json.loads(r.stdout)] == _exact(run_copy), r.stderr
    log = bytes(s.log).decode(errors="replace")
    assert "too_many_pings" not in log and "Traceback" not in log, log


HOLD = """
import sys, time
from milvus_lite import MilvusLite
db = MilvusLite(sys.argv[1])  # holds the folder's LOCK and serves nothing (another tool, an older ttvis)
print("holding", flush=True)
time.sleep(120)
"""


def test_a_folder_held_by_a_process_that_serves_nothing_gets_exact_neighbours(run_copy):
    db = run_copy / "visualize" / "vectors.db"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        r = _cli_similar(run_copy)
        assert r.returncode == 0, r.stderr
        assert [h["index"] for h in json.loads(r.stdout)] == _exact(run_copy)
        assert "computing exact neighbours without the index" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    finally:
        holder.kill()
        holder.wait(10)


def test_damage_that_only_the_owner_can_repair_gives_the_cli_one_error_and_the_owner_repairs_it(run_copy):
    import shutil

    from test_safety import RawServer

    s = RawServer(run_copy.parent)
    try:
        first = s.request("ttvis/similar", {"path": str(run_copy), "epoch": 7, "index": 42, "k": 10})
        assert "result" in first, first
        db = run_copy / "visualize" / "vectors.db"
        shutil.rmtree(db / "collections")
        (db / "collections").write_text("x")  # no collection can be created any more
        r = _cli_similar(run_copy, epoch=3, index=7, k=5)  # a client: it may not delete the owner's folder
        assert r.returncode != 0 and r.stdout == "", r.stdout
        assert f"delete the folder {db}" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.count("error:") == 1, r.stderr
        again = s.request("ttvis/similar", {"path": str(run_copy), "epoch": 3, "index": 7, "k": 5})  # the owner repairs
        assert [h["index"] for h in again["result"]["neighbours"]] == _exact(run_copy, 3, 7, 5), again
        r = _cli_similar(run_copy, epoch=3, index=7, k=5)
        assert r.returncode == 0 and [h["index"] for h in json.loads(r.stdout)] == _exact(run_copy, 3, 7, 5), r.stderr
        assert "deleting it and rebuilding" in bytes(s.log).decode(errors="replace")
    finally:
        s.p.kill()
        s.p.wait(10)


# ---- issue 21 B14: label and prediction columns; no gRPC keepalive noise ----

def test_cli_similar_prints_label_and_prediction(run_copy):
    from conftest import ttvis_cmd

    run = TrainingDynamics(run_copy)
    hits = json.loads(_cli_similar(run_copy).stdout)
    pred = run.predicted_class(7)
    for h in hits:
        assert h["label"] == int(run.labels[h["index"]]) and h["label_name"] == run.classes[h["label"]]
        assert h["prediction"] == int(pred[h["index"]]) and h["prediction_name"] == run.classes[h["prediction"]]
    r = subprocess.run(ttvis_cmd("similar", str(run_copy), "--epoch", "7", "--index", "42", "--k", "3"), capture_output=True,
                       text=True, timeout=300)
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["index", "distance", "label", "prediction"], r.stdout
    assert [line.split()[2:] for line in lines[2:]] == [[h["label_name"], h["prediction_name"]] for h in hits[:3]]


PINGS = """
import sys, time, grpc
from ttvis.dynamics.vectors import similar_samples
run = sys.argv[1]
print(similar_samples(run, 7, [42], 10), flush=True)
import json
port = int(json.load(open(run + "/visualize/vectors.db.addr.json"))["port"])
# a client that pings every second (pymilvus pings every 10 s and, idle for a minute, gets the same answer)
ch = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.keepalive_time_ms", 1000),
      ("grpc.keepalive_permit_without_calls", 1), ("grpc.http2.max_pings_without_data", 0)])
grpc.channel_ready_future(ch).result(timeout=10)
time.sleep(8)
print(similar_samples(run, 7, [42], 10), flush=True)
"""


def test_keepalive_pings_log_nothing(run_copy):
    r = subprocess.run([sys.executable, "-c", PINGS, str(run_copy)], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    assert "too_many_pings" not in r.stderr and "GOAWAY" not in r.stderr, r.stderr


# ---- review fixes: non-damage errors touch nothing; a token guards the shared server; large selections; busy memory ----

def _tree(folder) -> dict:
    return {str(f): (f.stat().st_size, f.stat().st_mtime_ns) for f in sorted(folder.rglob("*")) if f.is_file()}


def test_the_shared_server_wants_its_token_and_a_refused_call_changes_nothing(run_copy):
    import stat

    from pymilvus import MilvusClient

    from ttvis.dynamics import milvus_local

    run = TrainingDynamics(run_copy)
    db = run_copy / "visualize" / "vectors.db"
    assert [h["index"] for h in VectorIndex(run).similar(7, [42], 10)] == _exact(run_copy)  # this process owns and serves it
    try:
        note_file = run_copy / "visualize" / "vectors.db.addr.json"
        assert stat.S_IMODE(note_file.stat().st_mode) == 0o600
        note = json.loads(note_file.read_text())
        assert len(note["token"]) >= 32
        r = _cli_similar(run_copy)  # a client with the token (read from the address file)
        assert r.returncode == 0 and [h["index"] for h in json.loads(r.stdout)] == _exact(run_copy), r.stderr
        uri = f"http://127.0.0.1:{note['port']}"
        with pytest.raises(Exception, match="UNAUTHENTICATED|Fail connecting"):  # any local user without the token is refused
            MilvusClient(uri).list_collections()
        with pytest.raises(Exception, match="UNAUTHENTICATED|Fail connecting"):
            MilvusClient(uri, token="wrong").list_collections()
        before = _tree(db)
        # the same server as a "remote" Milvus without the token: every call is refused, which is no damage
        with pytest.raises(RuntimeError) as err:
            VectorIndex(run, uri).similar(7, [42], 10)
        assert "damaged" not in str(err.value) and uri in str(err.value), err.value
        assert _tree(db) == before  # no collection dropped, nothing deleted
        assert [h["index"] for h in VectorIndex(run).similar(7, [42], 10)] == _exact(run_copy)  # still built and answering
    finally:
        milvus_local.release(db)


def test_a_selection_beyond_the_search_cap_is_answered_exactly(run_copy, monkeypatch):
    # Milvus caps a search at 16,384 results; the digits run has 1,797 samples, so the cap is lowered
    # to 20 here to stand for a selection larger than the cap
    from ttvis.dynamics import vectors

    monkeypatch.setattr(vectors, "TOPK_CAP", 20)
    run = TrainingDynamics(run_copy)
    sel = list(range(100, 130))
    x = run.representation(7)
    want = brute_force(x, x[sel].astype(np.float64).mean(0), 5, set(sel)).tolist()
    assert [h["index"] for h in VectorIndex(run).similar(7, sel, 5)] == want
    assert not (run_copy / "visualize" / "vectors.db").exists()  # no index needed for it


def test_a_folder_held_without_a_server_is_remembered_and_later_requests_do_not_wait(run_copy):
    import time

    from ttvis.dynamics.vectors import similar_samples

    db = run_copy / "visualize" / "vectors.db"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        notes: list[str] = []
        assert [h["index"] for h in similar_samples(run_copy, 7, [42], 10, on_message=notes.append)] == _exact(run_copy)
        t = time.monotonic()
        assert [h["index"] for h in similar_samples(run_copy, 7, [42], 10, on_message=notes.append)] == _exact(run_copy)
        assert time.monotonic() - t < 2.0  # not another 8 s wait
        assert len(notes) == 2 and all("exact neighbours" in n for n in notes), notes
    finally:
        holder.kill()
        holder.wait(10)

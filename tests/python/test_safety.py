"""Nothing a user has is lost or leaked: results survive failed, stopped and concurrent runs,
no file outside a run is ever served, bad selections and parameters are refused, model code
runs only in a trusted workspace, and every request gets an answer (issue: new-user defects A-G, 1-3)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ttvis_cmd
from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.lock import LockedError, holder, method_lock
from ttvis.pipeline import parse_epochs, visualize
from ttvis.projection.trainer import Cancelled
from ttvis.server.api import BUSY, INVALID_PARAMS, UNTRUSTED, ApiError, TtvisApi

FAST = {"max_epochs": 2, "first_epochs": 3, "boundary_ratio": 0.05}
RUN = {"resolution": 32, "device": "cpu"}


def _tree(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` with its content hash (a lock file left by a killed
    holder is only a note, not a result)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix != ".lock"}


@pytest.fixture
def trained(run_copy):
    """The digits run with complete DVI results for epochs 1-3."""
    visualize(run_copy, "DVI", FAST, "1-3", run=RUN)
    return run_copy


# ---- A: earlier results survive ---------------------------------------------------------
def test_corrupt_checkpoint_then_retry_keeps_the_results(trained):
    before = _tree(trained / "visualize")
    (trained / "model" / "1.pth").write_bytes(b"not a checkpoint")
    for _ in range(2):  # the failure, then the obvious retry
        with pytest.raises(DynamicsError, match="1.pth"):
            visualize(trained, "DVI", FAST, "1-3", run={**RUN, "seed": 1})
    assert _tree(trained / "visualize") == before


def test_cancel_before_the_first_epoch_twice_keeps_the_results(trained):
    before = _tree(trained / "visualize")
    for _ in range(2):
        stop = threading.Event()
        stop.set()
        with pytest.raises(Cancelled):
            visualize(trained, "DVI", FAST, "1-3", cancel=stop, run={**RUN, "seed": 2})
    assert _tree(trained / "visualize") == before


def test_kill_before_the_first_epoch_then_retry_keeps_the_results(trained, cli_env):
    before = _tree(trained / "visualize")
    for _ in range(2):
        p = subprocess.Popen(ttvis_cmd("visualize", str(trained), "--epochs", "1-3", "--seed", "3", "--device", "cpu",
                                       "--first-epochs", "400", "--max-epochs", "2", "--resolution", "32"),
                             env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while holder(trained, "DVI") is None and time.monotonic() < deadline:  # training has started
            time.sleep(0.1)
        assert p.poll() is None
        p.send_signal(signal.SIGKILL)
        p.wait(30)
    assert _tree(trained / "visualize") == before


def test_stopped_runs_and_retries_never_lose_a_finished_epoch(trained):
    from ttvis.dynamics.history import generations

    complete = _tree(trained / "visualize" / "DVI")
    # a new run that finishes one epoch and is stopped: the complete run joins the history
    stop = threading.Event()
    with pytest.raises(Cancelled):
        visualize(trained, "DVI", FAST, "1-3", on_epoch=lambda *a: stop.set(), cancel=stop, run={**RUN, "seed": 4})
    gens = generations(trained, "DVI")
    assert [g["complete"] for g in gens] == [True] and _tree(Path(gens[0]["path"])) == complete
    partial = _tree(trained / "visualize" / "DVI")
    assert sorted(p for p in partial if p.startswith("projection/")) == ["projection/1.npy"]
    # another new run: the partial one joins the history too, beside the complete one
    visualize(trained, "DVI", FAST, "1-2", run={**RUN, "seed": 5})
    gens = generations(trained, "DVI")
    assert [g["complete"] for g in gens] == [False, True] and gens[0]["epochs"] == [1] and gens[1]["epochs"] == [1, 2, 3]
    assert _tree(Path(gens[0]["path"])) == partial and _tree(Path(gens[1]["path"])) == complete
    assert sorted((trained / "visualize" / "DVI" / "projection").iterdir())[-1].name == "2.npy"
    assert not (trained / "visualize" / "DVI.new").exists()
    # the editor's tree lists them under the method (ttvis/discover), newest first
    listed = TtvisApi([trained.parent]).discover({})["runs"][0]["methods"]
    assert set(listed) == {"DVI"}
    assert [(g["name"], g["epochs"], g["complete"]) for g in listed["DVI"]["history"]] == \
        [(g["name"], g["epochs"], g["complete"]) for g in gens]


def test_two_successful_runs_keep_both_and_the_history_is_bounded(trained, monkeypatch):
    """Each new run keeps the one before it; only the oldest beyond KEEP are deleted."""
    from ttvis.dynamics import history

    monkeypatch.setattr(history, "KEEP", 2)
    first = _tree(trained / "visualize" / "DVI")
    visualize(trained, "DVI", FAST, "1", run={**RUN, "seed": 6})
    second = _tree(trained / "visualize" / "DVI")
    gens = history.generations(trained, "DVI")
    assert len(gens) == 1 and _tree(Path(gens[0]["path"])) == first
    for seed in (7, 8):
        visualize(trained, "DVI", FAST, "1", run={**RUN, "seed": seed})
    gens = history.generations(trained, "DVI")
    assert len(gens) == 2 and [g["params"] for g in gens] == [json.loads((trained / "visualize" / "DVI" / "params.json").read_text())["params"]] * 2
    assert all(_tree(Path(g["path"])) not in (first,) for g in gens)  # the oldest went first
    assert second in [_tree(Path(g["path"])) for g in gens]


def test_legacy_previous_and_partial_folders_join_the_history(trained):
    from ttvis.dynamics.history import generations

    vis = trained / "visualize"
    shutil.copytree(vis / "DVI", vis / "DVI.previous")
    old = _tree(vis / "DVI.previous")
    visualize(trained, "DVI", FAST, "1", run={**RUN, "seed": 9})
    assert not (vis / "DVI.previous").exists()
    assert [_tree(Path(g["path"])) for g in generations(trained, "DVI")] == [old, old]


EPOCH1_STOPS = ["boundary samples", "kNN graph and fuzzy complex", "training the vis model", "territory", "metrics",
                "promotion"]


def _stop_inside_epoch1(run: Path, at: str, how: str) -> None:
    """Run a new DVI run on ``run`` in this process (``how="raise"``: KeyboardInterrupt, as Ctrl-C)
    or in a child (``how="kill"``: SIGKILL of itself) and stop it at ``at`` in its first epoch:
    a stage of epoch 1, or ``"promotion"`` (its projection written, the results not yet swapped)."""
    code = f"""
import os, signal
from ttvis.dynamics.results import VisResults
from ttvis.pipeline import visualize
def stop():
    if {how!r} == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise KeyboardInterrupt
def on_stage(epoch, stage):
    if epoch == 1 and stage == {at!r}:
        stop()
promote = VisResults.promote
VisResults.promote = lambda self: stop() if {at!r} == "promotion" else promote(self)
try:
    visualize({str(run)!r}, "DVI", {FAST!r}, "1-3", run={{**{RUN!r}, "seed": 11}}, on_stage=on_stage)
finally:
    VisResults.promote = promote
"""
    if how == "kill":
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
        assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    else:
        with pytest.raises(KeyboardInterrupt):
            exec(compile(code, "<stop>", "exec"), {})


@pytest.mark.parametrize("at", EPOCH1_STOPS)
def test_a_stop_at_any_point_of_the_first_epoch_keeps_every_result(trained, at):
    """Ctrl-C at each stage of a new run's first epoch, and between its last file and the swap:
    the current results and the history are as they were; the retry finishes the job."""
    from ttvis.dynamics.history import generations

    visualize(trained, "DVI", FAST, "1", run={**RUN, "seed": 10})  # one generation in the history
    before, gens = _tree(trained / "visualize" / "DVI"), generations(trained, "DVI")
    _stop_inside_epoch1(trained, at, "raise")
    if at == "promotion":  # the new epoch 1 is complete: the next run keeps it in the history, the results stay
        assert _tree(trained / "visualize" / "DVI") == before
        notes = []
        visualize(trained, "DVI", FAST, "1", run={**RUN, "seed": 10}, on_message=notes.append)  # the current run: complete
        assert any("stopped right after its first epoch" in n for n in notes), notes
        assert _tree(trained / "visualize" / "DVI") == before and not (trained / "visualize" / "DVI.new").exists()
        assert [g["epochs"] for g in generations(trained, "DVI")] == [[1], [1, 2, 3]]
        visualize(trained, "DVI", FAST, "1-3", run={**RUN, "seed": 12})
        assert len(generations(trained, "DVI")) == 3
        return
    assert _tree(trained / "visualize" / "DVI") == before and generations(trained, "DVI") == gens
    visualize(trained, "DVI", FAST, "1-2", run={**RUN, "seed": 11})
    assert [g["epochs"] for g in generations(trained, "DVI")] == [[1], [1, 2, 3]]


@pytest.mark.parametrize("at", ["territory", "promotion"])
def test_kill_9_inside_the_first_epoch_keeps_every_result(trained, at):
    from ttvis.dynamics.history import generations

    before = _tree(trained / "visualize")
    _stop_inside_epoch1(trained, at, "kill")
    after = _tree(trained / "visualize")
    assert {k: v for k, v in after.items() if not k.startswith("DVI.new/")} == before
    visualize(trained, "DVI", FAST, "1-2", run={**RUN, "seed": 13})
    assert len(generations(trained, "DVI")) == (2 if at == "promotion" else 1)
    assert not (trained / "visualize" / "DVI.new").exists()


def test_result_files_respect_the_umask(run_copy):
    old = os.umask(0o022)
    try:
        visualize(run_copy, "DVI", FAST, "1", run=RUN)
    finally:
        os.umask(old)
    for f in (run_copy / "visualize" / "DVI").rglob("*"):
        if f.is_file():
            assert f.stat().st_mode & 0o777 == 0o644, f


# ---- B: one writer per run and method -----------------------------------------------------
def test_second_visualize_is_refused_and_names_the_holder(run_copy, cli_env):
    with method_lock(run_copy, "DVI", command="test holder"):
        r = subprocess.run(ttvis_cmd("visualize", str(run_copy), "--epochs", "1", "--device", "cpu"),
                           capture_output=True, text=True, env=cli_env, timeout=300)
        assert r.returncode == 2, r.stderr
        line = r.stderr.strip().splitlines()[-1]
        assert line.startswith("error:") and f"pid {os.getpid()}" in line and "test holder" in line
        api = TtvisApi([run_copy.parent], trusted=True)
        with pytest.raises(ApiError) as ei:
            api.train({"path": str(run_copy), "method": "DVI", "epochs": "1"})
        assert ei.value.code == BUSY and f"pid {os.getpid()}" in ei.value.message
        assert api.discover({})["runs"][0]["methods"]["DVI"]["state"] == "training"
    assert not (run_copy / "visualize" / "DVI").exists()


def test_a_killed_holder_leaves_no_stale_lock(run_copy):
    code = ("import sys, time; from ttvis.dynamics.lock import method_lock\n"
            f"with method_lock({str(run_copy)!r}, 'DVI'):\n    print('held', flush=True); time.sleep(600)\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    with pytest.raises(LockedError, match=f"pid {p.pid}"):
        with method_lock(run_copy, "DVI"):
            pass
    p.kill()
    p.wait(10)
    assert holder(run_copy, "DVI") is None
    with method_lock(run_copy, "DVI"):  # the lock file is still there, the lock is not
        assert holder(run_copy, "DVI")["pid"] == os.getpid()


def test_two_threads_of_one_process_exclude_each_other(run_copy):
    with method_lock(run_copy, "DVI"):
        errors = []
        t = threading.Thread(target=lambda: errors.append(pytest.raises(LockedError, method_lock(run_copy, "DVI").__enter__)))
        t.start()
        t.join()
        assert errors


# ---- C: nothing outside the run is served ------------------------------------------------------
def test_symlinked_sprite_outside_the_run_is_never_sent(run_copy, tmp_path_factory):
    secret = tmp_path_factory.mktemp("outside") / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n top secret")
    sprite = run_copy / "dataset" / "sprites" / "5.png"
    sprite.unlink()
    sprite.symlink_to(secret)
    (run_copy / "dataset" / "sprites" / "6.png").write_text("root:x:0:0:root:/root:/bin/bash\n")
    api = TtvisApi([run_copy.parent])
    s5 = api.sample({"path": str(run_copy), "index": 5})
    assert s5["sprite"] is None and "outside" in s5["spriteError"] and str(secret) in s5["spriteError"]
    s6 = api.sample({"path": str(run_copy), "index": 6})
    assert s6["sprite"] is None and "PNG" in s6["spriteError"]
    (run_copy / "dataset" / "sprites" / "7.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * (2 << 20))
    assert "KiB" in api.sample({"path": str(run_copy), "index": 7})["spriteError"]
    assert api.sample({"path": str(run_copy), "index": 8})["sprite"]


def test_symlinked_arrays_and_results_outside_the_run_are_refused(run_copy, tmp_path):
    outside = tmp_path / "elsewhere.npy"  # beside the run: inside tmp_path, outside the run
    shutil.copy(run_copy / "dataset" / "representation" / "2.npy", outside)
    rep = run_copy / "dataset" / "representation" / "2.npy"
    rep.unlink()
    rep.symlink_to(outside)
    with pytest.raises(DynamicsError, match="outside"):
        from ttvis.dynamics import TrainingDynamics

        TrainingDynamics(run_copy)
    # inside the server's roots it is allowed (the user's workspace)
    api = TtvisApi([tmp_path])
    assert api.describe({"path": str(run_copy)})["samples"] == 1797
    api = TtvisApi([run_copy])
    assert "outside" in api.discover({})["runs"][0]["error"]


# ---- D, E: empty selections and non-finite values ---------------------------------------------
@pytest.mark.parametrize("spec", ["5-2", "", " ", [], "3-1:2", "1-5:0"])
def test_an_empty_epoch_selection_is_an_error(spec):
    with pytest.raises(ValueError, match="epoch"):
        parse_epochs(spec, list(range(1, 21)))


def test_server_refuses_empty_selection_non_integer_epochs_and_non_finite_values(run_copy):
    api = TtvisApi([run_copy.parent], trusted=True)
    for epochs, needle in (("5-2", "backwards"), ([], "empty list"), (["a"], "integer epochs")):
        with pytest.raises(ApiError) as ei:
            api.train({"path": str(run_copy), "method": "DVI", "epochs": epochs})
        assert ei.value.code == INVALID_PARAMS and needle in ei.value.message
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ApiError) as ei:
            api.train({"path": str(run_copy), "method": "DVI", "params": {"lambda1": bad}})
        assert ei.value.code == INVALID_PARAMS and "params.params.lambda1: expected a finite number" in ei.value.message
    assert not (run_copy / "visualize").exists()


@pytest.mark.parametrize("args,needle", [(["--epochs", "5-2"], "backwards"), (["--lambda1", "nan"], "finite"),
                                         (["--lambda2", "inf"], "finite")])
def test_cli_refuses_empty_selection_and_non_finite_values(run_copy, cli_env, args, needle):
    r = subprocess.run(ttvis_cmd("visualize", str(run_copy), *args), capture_output=True, text=True, env=cli_env, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], r.stderr


# ---- F: model code only in a trusted workspace, and edits are seen ----------------------------
def test_untrusted_workspace_refuses_to_import_model_py(run_copy):
    api = TtvisApi([run_copy.parent], trusted=False)
    with pytest.raises(ApiError) as ei:
        api.train({"path": str(run_copy), "method": "DVI"})
    assert ei.value.code == UNTRUSTED and "model.py" in ei.value.message and "trust" in ei.value.message.lower()
    api.set_trust(True)
    job = api.train({"path": str(run_copy), "method": "DVI", "epochs": "1", "params": FAST, "run": RUN})["job"]
    assert api.wait(job, 300).status == "done"


def test_an_edited_model_py_is_imported_afresh(run_copy):
    from ttvis.dynamics.subject import _import_source

    src = run_copy / "model.py"
    first = _import_source(src)
    assert _import_source(src) is first
    src.write_text(src.read_text() + "\nEDITED = 42\n")
    second = _import_source(src)
    assert second is not first and second.EDITED == 42 and not hasattr(first, "EDITED")


def test_serve_asks_before_importing_model_code(run_copy, cli_env):
    from ttvis.server.web import ask_trust

    asked = []
    assert ask_trust([str(run_copy.parent)], ask=lambda q: asked.append(q) or "n") is False
    assert str(run_copy / "model.py") in asked[0]
    assert ask_trust([str(run_copy.parent)], ask=lambda q: "yes") is True
    p = subprocess.Popen(ttvis_cmd("serve", str(run_copy.parent)), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         text=True, env=cli_env)
    try:
        line = p.stdout.readline()
        assert "will not be imported" in line and "--trust" in line
    finally:
        p.terminate()
        p.wait(10)


# ---- G, 1, 2: every request answered, clean exit -----------------------------------------------
class RawServer:
    """``ttvis server`` over a real pipe, spoken to in raw LSP framing (params may be left out)."""

    def __init__(self, root: Path, trusted: bool = True, log_level: str | None = "WARNING"):
        env = {k: v for k, v in os.environ.items() if k != "TTVIS_LOG_LEVEL"}
        if log_level:
            env["TTVIS_LOG_LEVEL"] = log_level
        self.p = subprocess.Popen(ttvis_cmd("server"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env)
        self.log = bytearray()  # stderr, drained as it comes (a full pipe would stall the server)
        self._drain = threading.Thread(target=lambda: [self.log.extend(c) for c in iter(lambda: self.p.stderr.read1(65536), b"")],
                                       daemon=True)
        self._drain.start()
        self.n = 0
        self.notes: list[dict] = []  # notifications read while waiting for an answer
        self.request("initialize", {"processId": None, "rootUri": root.as_uri(), "capabilities": {},
                                    "initializationOptions": {"trusted": trusted},
                                    "workspaceFolders": [{"uri": root.as_uri(), "name": "ws"}]})
        self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})

    def send(self, msg: dict) -> None:
        body = json.dumps(msg).encode()
        self.p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.p.stdin.flush()

    def read(self) -> dict:
        length = None
        while True:
            line = self.p.stdout.readline()
            assert line, "server closed stdout"
            if not line.strip():
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(self.p.stdout.read(length))

    def request(self, method: str, params=..., skip=()) -> dict:
        self.n += 1
        msg = {"jsonrpc": "2.0", "id": self.n, "method": method}
        if params is not ...:
            msg["params"] = params
        self.send(msg)
        while True:
            r = self.read()
            if r.get("id") == self.n and "method" not in r:
                return r
            if "method" in r and "id" in r:  # a server request (progress create): accept
                self.send({"jsonrpc": "2.0", "id": r["id"], "result": None})
            elif "method" in r:  # a notification that came before the answer: wait_note looks here first
                self.notes.append(r)

    def wait_note(self, method: str, timeout: float = 300) -> dict:
        """The params of the next ``method`` notification (one that came while a request waited
        for its answer counts: a job may finish before ``ttvis/cancel`` is answered)."""
        for i, r in enumerate(self.notes):
            if r["method"] == method:
                del self.notes[: i + 1]
                return r["params"]
        self.notes.clear()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.read()
            if r.get("method") == method:
                return r["params"]
            if "method" in r and "id" in r:
                self.send({"jsonrpc": "2.0", "id": r["id"], "result": None})
        raise TimeoutError(method)


def test_requests_without_params_and_bad_params_are_answered(run_copy):
    s = RawServer(run_copy.parent)
    try:
        for method in ("ttvis/methods", "ttvis/discover"):
            r = s.request(method)  # no "params" at all
            assert "result" in r, r
        assert r["result"]["runs"][0]["path"] == str(run_copy)
        r = s.request("ttvis/describe")
        assert r["error"]["code"] == -32602 and "params.path" in r["error"]["message"]
        r = s.request("ttvis/cancel", {"job": {}})
        assert r["error"]["code"] == -32602 and "job id" in r["error"]["message"]
        r = s.request("ttvis/train", {"path": str(run_copy), "epochs": ["a"]})
        assert r["error"]["code"] == -32602 and r["error"]["message"] == "epochs: expected integer epochs, found 'a'"
        assert s.request("shutdown")["result"] is None
        s.send({"jsonrpc": "2.0", "method": "exit"})
        assert s.p.wait(5) == 0
    finally:
        s.p.kill()


def test_shutdown_and_exit_during_training_stops_cleanly_and_keeps_epochs(run_copy):
    s = RawServer(run_copy.parent)
    try:
        r = s.request("ttvis/train", {"path": str(run_copy), "method": "DVI", "params": {**FAST, "max_epochs": 30}, "run": RUN})
        assert "result" in r, r
        first = s.wait_note("ttvis/epochReady")
        t0 = time.monotonic()
        s.request("shutdown")
        s.send({"jsonrpc": "2.0", "method": "exit"})
        code = s.p.wait(10)
        took = time.monotonic() - t0
        s._drain.join(5)
        err = s.log.decode()
    finally:
        s.p.kill()
    assert code == 0 and took < 2.0, (code, took, err)
    assert "terminate called" not in err and "Abort" not in err
    done = sorted(int(p.stem) for p in (run_copy / "visualize" / "DVI" / "projection").glob("*.npy"))
    assert first["epoch"] in done
    for e in done:
        assert np.load(run_copy / "visualize" / "DVI" / "projection" / f"{e}.npy").shape == (1797, 2)
    assert holder(run_copy, "DVI") is None


def test_python_dash_m_ttvis_runs_the_cli(cli_env):
    r = subprocess.run([sys.executable, "-m", "ttvis", "--help"], capture_output=True, text=True, env=cli_env, timeout=60)
    assert r.returncode == 0 and "visualize" in r.stdout and "usage: ttvis" in r.stdout


def test_a_cpu_job_leaves_torch_determinism_of_the_process_alone(run_copy):
    import torch

    seen = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            seen.append(torch.are_deterministic_algorithms_enabled())
            time.sleep(0.01)

    t = threading.Thread(target=watch)
    t.start()
    try:
        visualize(run_copy, "DVI", FAST, "1-2", run=RUN)
    finally:
        stop.set()
        t.join()
    assert seen and not any(seen)


def test_the_default_log_has_no_payloads_and_user_errors_in_one_line(trained):
    import re

    s = RawServer(trained.parent, log_level=None)  # the default level, as the extension starts it
    try:
        assert "result" in s.request("ttvis/epoch", {"path": str(trained), "method": "DVI", "epoch": 3})
        assert s.request("ttvis/describe", {"path": str(trained / "nope")})["error"]["code"] == -32001
        s.request("ttvis/train", {"path": str(trained), "method": "DVI", "epochs": "1-2", "params": FAST, "run": {**RUN, "seed": 9}})
        assert s.wait_note("ttvis/trainFinished")["status"] == "done"
        s.request("shutdown")
        s.send({"jsonrpc": "2.0", "method": "exit"})
        s.p.wait(5)
        s._drain.join(5)
        log = s.log.decode()
    finally:
        s.p.kill()
    assert len(log) < 4000, len(log)
    assert not re.search(r"[A-Za-z0-9+/]{200}", log)  # no base64 arrays or PNGs
    assert "Traceback" not in log
    refused = [ln for ln in log.splitlines() if "refused (-32001)" in ln]
    assert len(refused) == 1 and "nope" in refused[0]


def test_a_job_of_a_killed_server_resumes_when_the_server_restarts(run_copy):
    s = RawServer(run_copy.parent)
    try:
        r = s.request("ttvis/train", {"path": str(run_copy), "method": "DVI", "epochs": "1-4", "params": FAST, "run": RUN})
        assert "result" in r, r
        first = s.wait_note("ttvis/epochReady")["epoch"]
    finally:
        s.p.send_signal(signal.SIGKILL)  # the server dies mid-job (the editor would start a new one)
        s.p.wait(10)
    assert (run_copy / "visualize" / "DVI.job.json").exists()
    s = RawServer(run_copy.parent)
    try:
        fin = s.wait_note("ttvis/trainFinished", timeout=300)
        assert fin["status"] == "done", fin
        s.request("shutdown")
        s.send({"jsonrpc": "2.0", "method": "exit"})
        s.p.wait(5)
    finally:
        s.p.kill()
    params = json.loads((run_copy / "visualize" / "DVI" / "params.json").read_text())
    assert params["epochs"] == [1, 2, 3, 4] and params.get("resumed")
    assert sorted(int(p.stem) for p in (run_copy / "visualize" / "DVI" / "projection").glob("*.npy")) == [1, 2, 3, 4]
    assert first >= 1 and not (run_copy / "visualize" / "DVI.job.json").exists()


# ---- #21 A7, A9: bounded widths, no orphan of ttvis compare ------------------------------
@pytest.mark.parametrize("hidden,why", [("0,0", ">= 2"), ("-5", ">= 2"), ("100000", "<= 4096"), ("8,8,8,8,8,8,8,8,8", "at most 8")])
def test_hidden_widths_are_bounded_and_nothing_moves(trained, cli_env, hidden, why):
    before = _tree(trained / "visualize")
    r = subprocess.run(ttvis_cmd("visualize", str(trained), "--epochs", "1", "--device", "cpu", "--hidden", hidden),
                       capture_output=True, text=True, env=cli_env, timeout=300)
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("error:") and "--hidden" in line and why in line.replace("≥", ">=").replace("≤", "<="), line
    assert "Traceback" not in r.stderr and _tree(trained / "visualize") == before
    api = TtvisApi([trained.parent], trusted=True)
    with pytest.raises(ApiError) as ei:
        api.train({"path": str(trained), "method": "DVI", "params": {"hidden": [int(v) for v in hidden.split(",")]}})
    assert ei.value.code == INVALID_PARAMS and "hidden" in ei.value.message


def test_kill_9_of_compare_takes_its_child_along(run_copy, cli_env):
    p = subprocess.Popen(ttvis_cmd("compare", str(run_copy), "--methods", "DVI", "--epochs", "1-3", "--device", "cpu"),
                         env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while holder(run_copy, "DVI") is None and time.monotonic() < deadline:  # the child trains and holds the lock
        time.sleep(0.1)
    child = holder(run_copy, "DVI")
    assert child and child["pid"] != p.pid
    p.send_signal(signal.SIGKILL)
    p.wait(30)
    deadline = time.monotonic() + 30
    while holder(run_copy, "DVI") is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert holder(run_copy, "DVI") is None  # the child died with its parent and the lock went with it
    with method_lock(run_copy, "DVI"):
        pass

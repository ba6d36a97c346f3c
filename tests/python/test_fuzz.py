"""Fuzzing with hypothesis: generated run folders (odd shapes and dtypes, NaN/inf, truncated or
empty .npy, non-numeric or gapped epoch names, missing labels, wrong index.json) fed to the
reader, the CLI and the server, and malformed JSON-RPC on stdio and websockets. Each case is a
correct read or one clear error naming a file; the server answers the next request after every
bad one. The number of examples is bounded so CI stays fast."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ttvis_cmd
from ttvis.dynamics import DynamicsError, TrainingDynamics
from ttvis.server.api import ApiError, TtvisApi

N, D, C = 40, 6, 3

# ---- generated folders ---------------------------------------------------------------------
arrays = st.sampled_from(["ok", "nan", "inf", "wrong_rows", "wrong_cols", "1d", "3d", "int", "float64", "bool",
                          "truncated", "empty", "text", "object"])
names = st.sampled_from(["1", "2", "3", "5", "10", "a", "1.5", "01", "-1", "02"])


def write_array(path: Path, kind: str, rows: int = N, cols: int = D, rng=None) -> None:
    """One .npy file of the given kind (``ok`` is a valid float32 [rows, cols])."""
    rng = rng or np.random.default_rng(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = rng.normal(size=(rows, cols)).astype(np.float32)
    if kind == "nan":
        x[rows // 2, 0] = np.nan
    elif kind == "inf":
        x[0, cols - 1] = np.inf
    elif kind == "wrong_rows":
        x = x[: rows - 3]
    elif kind == "wrong_cols":
        x = x[:, : cols - 1]
    elif kind == "1d":
        x = x[:, 0]
    elif kind == "3d":
        x = x[:, :, None]
    elif kind == "int":
        x = (x * 10).astype(np.int32)
    elif kind == "float64":
        x = x.astype(np.float64)
    elif kind == "bool":
        x = x > 0
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not an array\n")
    elif kind == "object":
        np.save(path, np.array([{"a": 1}] * rows, dtype=object), allow_pickle=True)
    elif kind == "truncated":
        np.save(path, x)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        np.save(path, x)


@st.composite
def run_folders(draw):
    """A canonical run folder description: epochs (name -> representation kind, prediction kind),
    labels, index.json and info.json variants."""
    epochs = draw(st.dictionaries(names, st.tuples(arrays, st.sampled_from(["ok", "missing"] + ["ok"] * 3)), min_size=1, max_size=4))
    labels = draw(st.sampled_from(["ok", "missing", "short", "negative", "float", "too_big"]))
    index = draw(st.sampled_from(["absent", "ok", "out_of_range", "negative", "strings", "not_object", "garbage"]))
    info = draw(st.sampled_from(["absent", "ok", "few_classes", "garbage", "list"]))
    return epochs, labels, index, info


def build(root: Path, spec) -> Path:
    epochs, labels, index, info = spec
    rng = np.random.default_rng(1)
    for name, (rep, pred) in epochs.items():
        write_array(root / "dataset" / "representation" / f"{name}.npy", rep, rng=rng)
        if pred == "ok":
            write_array(root / "dataset" / "prediction" / f"{name}.npy", "ok", cols=C, rng=rng)
    lab = root / "dataset" / "label" / "labels.npy"
    lab.parent.mkdir(parents=True, exist_ok=True)
    y = rng.integers(0, C, N)
    if labels != "missing":
        np.save(lab, {"ok": y, "short": y[:-2], "negative": y - 1, "float": y.astype(float), "too_big": y + 7}[labels])
    idx = {"ok": {"train": list(range(30)), "test": list(range(30, N))}, "out_of_range": {"train": [0, N + 5]},
           "negative": {"train": [-1, 2]}, "strings": {"train": ["a"]}, "not_object": [1, 2, 3]}
    if index == "garbage":
        (root / "index.json").write_text("{not json")
    elif index != "absent":
        (root / "index.json").write_text(json.dumps(idx[index]))
    inf = {"ok": {"classes": ["a", "b", "c"]}, "few_classes": {"classes": ["a"]}, "list": [1, 2]}
    if info == "garbage":
        (root / "dataset" / "info.json").write_text("\x00\x01")
    elif info != "absent":
        (root / "dataset" / "info.json").write_text(json.dumps(inf[info]))
    return root


def read_everything(path: Path) -> None:
    run = TrainingDynamics(path)
    run.validate()
    for e in run.epochs:
        x = run.representation(e)
        assert x.dtype == np.float32 and x.shape == (run.n_samples, run.dim) and np.isfinite(x).all()
        p = run.prediction(e)
        assert p is None or (p.shape == (run.n_samples, run.n_classes) and np.isfinite(p).all())
    assert run.labels.shape == (run.n_samples,)
    assert set(run.train_index.tolist()) <= set(range(run.n_samples))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=run_folders())
def test_reader_reads_or_names_the_bad_file(spec):
    with tempfile.TemporaryDirectory() as tmp:
        root = build(Path(tmp) / "run", spec)
        try:
            read_everything(root)
        except DynamicsError as exc:
            msg = str(exc)
            assert msg.startswith(str(root)) or msg.startswith(str(Path(tmp))), msg  # names a file of the run
            assert "expected" in msg, msg


@settings(max_examples=100, deadline=None)
@given(spec=run_folders(), method=st.sampled_from(["ttvis/describe", "ttvis/epoch", "ttvis/sample", "ttvis/neighbors",
                                                     "ttvis/metrics", "ttvis/train", "ttvis/discover"]))
def test_server_answers_every_request_on_a_generated_folder(spec, method):
    with tempfile.TemporaryDirectory() as tmp:
        root = build(Path(tmp) / "run", spec)
        api = TtvisApi([tmp], trusted=False)
        params = {"path": str(root), "method": "DVI", "epoch": 1, "index": 3, "epochs": "1"}
        try:
            out = getattr(api, method.split("/")[1])(params)
            assert isinstance(out, dict)
        except ApiError as exc:
            assert exc.code in (-32602, -32001, -32002, -32003, -32004, -32005, -32006) and exc.message
        for job in list(api.jobs.values()):  # a job on a generated folder ends; a failure is the user's to fix
            api.wait(job.id, 120)
            assert job.status in ("done", "failed"), job.status
            assert job.status == "done" or not re.match(r"^[A-Z]\w*(Error|Exception)\b", job.error or ""), job.error


json_values = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=20),
                           lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["describe", "epoch", "sample", "neighbors", "metrics", "evaluate", "train", "cancel",
                               "discover", "methods"]),
       params=st.dictionaries(st.sampled_from(["path", "method", "epoch", "index", "k", "job", "epochs", "params", "run",
                                               "roots", "restart"]), json_values, max_size=6))
def test_api_params_of_any_type_get_an_answer(dvi_result, method, params):
    api = TtvisApi([dvi_result[0].parent], trusted=False)
    try:
        out = getattr(api, method)(params)
        assert isinstance(out, dict)
    except ApiError as exc:
        assert exc.code < 0 and exc.message


def test_cli_on_generated_bad_folders_prints_one_error_line(tmp_path):
    cases = [({"1": ("nan", "ok")}, "ok", "ok", "ok"), ({"a": ("ok", "ok")}, "ok", "ok", "ok"),
             ({"1": ("truncated", "ok")}, "ok", "absent", "absent"), ({"1": ("ok", "ok"), "2": ("wrong_cols", "ok")}, "ok", "ok", "ok"),
             ({"1": ("ok", "ok")}, "short", "ok", "ok"), ({"1": ("ok", "ok")}, "ok", "out_of_range", "ok")]
    for i, spec in enumerate(cases):
        root = build(tmp_path / f"r{i}", spec)
        r = subprocess.run(ttvis_cmd("visualize", str(root), "--device", "cpu", "--max-epochs", "1", "--first-epochs", "1"),
                           capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        lines = [ln for ln in r.stderr.strip().splitlines() if not ln.startswith("note:")]
        assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:") and str(root) in lines[0], (spec, r.stderr)


# ---- malformed JSON-RPC --------------------------------------------------------------------
def test_malformed_json_rpc_on_stdio_is_answered_or_ignored_and_the_server_lives(dvi_result):
    from test_safety import RawServer

    s = RawServer(dvi_result[0].parent)
    try:
        bad = [b"{not json", b'"just a string"', b"[]", b'{"jsonrpc": "2.0", "id": 99, "method": 5}',
               b'{"jsonrpc": "2.0", "id": 98, "method": "ttvis/nope", "params": {}}',
               b'{"jsonrpc": "2.0", "id": 97, "method": "ttvis/epoch", "params": [1, 2]}',
               b'{"jsonrpc": "2.0", "id": 96, "method": "ttvis/describe", "params": {"path": "' + b"x" * (4 << 20) + b'"}}']
        for body in bad:
            s.p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            s.p.stdin.flush()
        r = s.request("ttvis/discover", {})
        assert r["result"]["runs"], r  # still answering
        assert s.p.poll() is None
    finally:
        s.p.kill()


def test_malformed_frames_on_the_websocket_keep_the_server_alive(dvi_result, tmp_path):
    import asyncio
    import re

    import websockets

    ws_root = tmp_path / "ws"
    shutil.copytree(dvi_result[0], ws_root / "digits")
    proc = subprocess.Popen(ttvis_cmd("serve", str(ws_root)), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    try:
        m = None
        while m is None:
            m = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)", proc.stdout.readline())
        url = f"ws://127.0.0.1:{m.group(1)}/ws?token={m.group(2)}"

        async def main():
            for frame in ["{not json", "[]", json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ttvis/nope"}),
                          json.dumps({"jsonrpc": "2.0", "id": 2, "method": "ttvis/epoch", "params": "x"}), "x" * (8 << 20)]:
                try:
                    async with websockets.connect(url, max_size=2**26) as c:
                        await c.send(frame)
                        try:
                            await asyncio.wait_for(c.recv(), 2)
                        except (asyncio.TimeoutError, websockets.exceptions.ConnectionClosed):
                            pass
                except websockets.exceptions.ConnectionClosed:
                    pass
            async with websockets.connect(url, max_size=2**26) as c:
                await c.send(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "ttvis/discover"}))
                return json.loads(await asyncio.wait_for(c.recv(), 30))

        answer = asyncio.run(main())
        assert answer["result"]["runs"] and proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(10)

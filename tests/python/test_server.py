"""The backend server through real transports: pygls client over a real pipe to
``ttvis server``, and real websocket connections to ``ttvis serve``."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import websockets
import websockets.exceptions
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.client import LanguageClient

from ttvis.server.encoding import decode_array
from ttvis.server.lsp import plain


@pytest.fixture(scope="module")
def workspace(dvi_result, tmp_path_factory):
    """A workspace folder holding the digits run with DVI results, plus a folder outside it."""
    ws = tmp_path_factory.mktemp("ws")
    src, _ = dvi_result
    shutil.copytree(src, ws / "runs" / "digits")
    (ws / "node_modules" / "x" / "dataset" / "representation").mkdir(parents=True)  # must be skipped
    outside = tmp_path_factory.mktemp("outside")
    shutil.copytree(src, outside / "digits", ignore=shutil.ignore_patterns("visualize"))
    return ws, outside


def _env():
    return {**os.environ, "TTVIS_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}


class Session:
    """A pygls LanguageClient talking to `ttvis server` over stdio, recording notifications."""

    def __init__(self):
        self.client = LanguageClient("ttvis-tests", "1")
        self.events: list[tuple[str, dict]] = []
        self.changed = asyncio.Event()

        def record(name):
            def handler(params):
                self.events.append((name, plain(params) if not hasattr(params, "__attrs_attrs__") else params))
                self.changed.set()
            return handler

        for name in ("ttvis/epochReady", "ttvis/trainFinished", "ttvis/trainProgress"):
            self.client.feature(name)(record(name))

        @self.client.feature(lsp.PROGRESS)
        def progress(params):
            value = params.value
            value = plain(value) if not isinstance(value, dict) else value
            self.events.append(("$/progress", {"token": params.token, "value": value}))
            self.changed.set()

        @self.client.feature(lsp.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def create(params):
            self.events.append(("create", {"token": params.token}))
            return None

    async def start(self, root, trusted=True):
        await self.client.start_io(sys.executable, "-m", "ttvis.cli", "server", env=_env())
        await self.client.initialize_async(lsp.InitializeParams(
            capabilities=lsp.ClientCapabilities(window=lsp.WindowClientCapabilities(work_done_progress=True)),
            workspace_folders=[lsp.WorkspaceFolder(uri=root.as_uri(), name="ws")], root_uri=root.as_uri(),
            initialization_options={"trusted": trusted}))
        self.client.initialized(lsp.InitializedParams())

    async def request(self, method, params):
        r = await asyncio.wait_for(self.client.protocol.send_request_async(method, params), 120)
        return plain(r)

    async def wait_for(self, pred, timeout=300):
        deadline = time.monotonic() + timeout
        while not pred():
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), max(0.1, deadline - time.monotonic()))

    async def stop(self):
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), 10)
            self.client.exit(None)
        finally:
            await self.client.stop()


def run_session(root, body, trusted=True):
    async def main():
        s = Session()
        await s.start(root, trusted)
        try:
            return await body(s)
        finally:
            await s.stop()
    return asyncio.run(main())


def test_stdio_read_methods_match_disk(workspace):
    ws, outside = workspace
    run = ws / "runs" / "digits"

    async def body(s):
        d = await s.request("ttvis/discover", {})
        assert [r["path"] for r in d["runs"]] == [str(run)]
        r = d["runs"][0]
        assert r["samples"] == 1797 and r["epochs"] == list(range(1, 21)) and len(r["classes"]) == 10
        assert r["methods"]["DVI"]["state"] == "trained" and r["methods"]["DVI"]["npr"] > 0.4

        desc = await s.request("ttvis/describe", {"path": str(run)})
        assert desc["methods"]["DVI"]["params"]["params"]["n_neighbors"] == 15
        assert desc["methods"]["DVI"]["eval"]["final"]["ppr_train"] > 0.9

        ep = await s.request("ttvis/epoch", {"path": str(run), "method": "DVI", "epoch": 7})
        xy = decode_array(ep["projection"])
        assert np.array_equal(xy, np.load(run / "visualize/DVI/projection/7.npy"))
        pred = decode_array(ep["predicted"])
        assert np.array_equal(pred, np.load(run / "dataset/prediction/7.npy").argmax(1))
        assert np.array_equal(decode_array(ep["label"]), np.load(run / "dataset/label/labels.npy"))
        assert decode_array(ep["train"]).sum() == 1437
        assert base64.b64decode(ep["background"]) == (run / "visualize/DVI/bgimg/7.png").read_bytes()
        assert ep["scale"] == pytest.approx(np.load(run / "visualize/DVI/scale/7.npy").tolist())
        assert ep["metrics"]["npr_train"] > 0.3

        # the server keeps an epoch's encoded arrays; a rewritten file is served anew
        res_dir = run / "visualize/DVI"
        moved = xy + np.float32(1.0)
        np.save(res_dir / "projection/7.tmp.npy", moved)
        os.replace(res_dir / "projection/7.tmp.npy", res_dir / "projection/7.npy")
        ev_text = (res_dir / "eval.json").read_text()
        ev = json.loads(ev_text)
        ev["epochs"]["7"]["npr_train"] = 0.125
        (res_dir / "eval.tmp").write_text(json.dumps(ev))
        os.replace(res_dir / "eval.tmp", res_dir / "eval.json")
        try:
            again = await s.request("ttvis/epoch", {"path": str(run), "method": "DVI", "epoch": 7})
            assert np.array_equal(decode_array(again["projection"]), moved) and again["metrics"]["npr_train"] == 0.125
        finally:  # put both back for the other tests (the workspace is shared)
            np.save(res_dir / "projection/7.tmp.npy", xy)
            os.replace(res_dir / "projection/7.tmp.npy", res_dir / "projection/7.npy")
            (res_dir / "eval.tmp").write_text(ev_text)
            os.replace(res_dir / "eval.tmp", res_dir / "eval.json")

        smp = await s.request("ttvis/sample", {"path": str(run), "index": 42, "method": "DVI"})
        assert smp["label"] == int(np.load(run / "dataset/label/labels.npy")[42])
        assert base64.b64decode(smp["sprite"])[:4] == b"\x89PNG"
        assert len(smp["predicted"]) == 20 and smp["trajectory"]["epochs"] == list(range(1, 21))
        assert smp["trajectory"]["positions"][6] == pytest.approx(xy[42].tolist())

        nb = await s.request("ttvis/neighbors", {"path": str(run), "method": "DVI", "epoch": 20, "index": 42, "k": 10})
        x = np.load(run / "dataset/representation/20.npy")
        d2 = ((x - x[42]) ** 2).sum(1)
        d2[42] = np.inf
        assert set(nb["high"]) == set(np.argsort(d2)[:10].tolist())
        assert len(nb["low"]) == 10 and 0 <= nb["overlap"] <= 1

        m = await s.request("ttvis/metrics", {"path": str(run), "method": "DVI"})
        assert [row["epoch"] for row in m["epochs"]] == list(range(1, 21))
        assert m["epochs"][19]["npr_train"] == pytest.approx(m["summary"]["final"]["npr_train"])
        return True

    assert run_session(ws, body)


@pytest.mark.parametrize("method,params,code,needle", [
    ("ttvis/describe", {"path": "{ws}/nothing-here"}, -32001, "no training run there"),
    ("ttvis/epoch", {"path": "{outside}/digits", "method": "DVI", "epoch": 1}, -32002, "outside the workspace"),
    ("ttvis/epoch", {"path": "{run}", "method": "TSNE", "epoch": 1}, -32602, "unknown visualization method"),
    ("ttvis/epoch", {"path": "{run}", "method": "DVI", "epoch": 99}, -32003, "epoch 99 of DVI is not available"),
    ("ttvis/sample", {"path": "{run}", "index": 5000}, -32602, "params.index"),
    ("ttvis/train", {"path": "{run}", "params": {"lambda9": 1}}, -32602, "unknown parameter"),
])
def test_stdio_errors_are_actionable_and_server_survives(workspace, method, params, code, needle):
    ws, outside = workspace
    run = ws / "runs" / "digits"
    subst = {"{ws}": str(ws), "{outside}": str(outside), "{run}": str(run)}
    params = {k: (v if not isinstance(v, str) else re.sub("{\\w+}", lambda m: subst[m.group(0)], v)) for k, v in params.items()}

    async def body(s):
        with pytest.raises(JsonRpcException) as ei:
            await s.request(method, params)
        assert ei.value.code == code and needle in ei.value.message, ei.value.message
        assert (await s.request("ttvis/discover", {}))["runs"]  # still alive
        return True

    assert run_session(ws, body)


def test_results_missing_says_run_training_first(workspace, tmp_path):
    ws, _ = workspace
    fresh = ws / "runs" / "fresh"
    if not fresh.exists():
        shutil.copytree(ws / "runs" / "digits", fresh, ignore=shutil.ignore_patterns("visualize"))

    async def body(s):
        with pytest.raises(JsonRpcException) as ei:
            await s.request("ttvis/epoch", {"path": str(fresh), "method": "DVI", "epoch": 1})
        assert ei.value.code == -32003 and "run training first" in ei.value.message
        return True

    assert run_session(ws, body)


def test_stdio_second_job_is_busy_and_ttvis_cancel_stops(workspace):
    ws, _ = workspace
    run = ws / "runs" / "train4"
    shutil.copytree(ws / "runs" / "digits", run, ignore=shutil.ignore_patterns("visualize"))

    async def body(s):
        started = await s.request("ttvis/train", {"path": str(run), "method": "DVI", "run": {"resolution": 64}})
        assert started["job"] and started["epochs"] == list(range(1, 21))
        with pytest.raises(JsonRpcException) as ei:
            await s.request("ttvis/train", {"path": str(run), "method": "DVI"})
        assert ei.value.code == -32004 and "already running" in ei.value.message
        d = await s.request("ttvis/discover", {})
        state = [r for r in d["runs"] if r["path"] == str(run)][0]["methods"]["DVI"]
        assert state["state"] == "training" and state["job"] == started["job"]
        await s.wait_for(lambda: any(n == "ttvis/epochReady" for n, _ in s.events))
        c = await s.request("ttvis/cancel", {"job": started["job"]})
        assert c == {"job": started["job"], "status": "cancelling"}
        await s.wait_for(lambda: any(n == "ttvis/trainFinished" for n, _ in s.events))
        return [e for n, e in s.events if n == "ttvis/trainFinished"][0]

    fin = run_session(ws, body)
    assert fin["status"] == "cancelled" and 1 <= fin["epochs"] < 20


def _progress_and_ready(events, token):
    prog = [e["value"] for n, e in events if n == "$/progress" and e["token"] == token]
    ready = [e["epoch"] for n, e in events if n == "ttvis/epochReady"]
    return prog, ready


def test_stdio_train_streams_every_epoch_in_order(workspace):
    ws, _ = workspace
    run = ws / "runs" / "stream"
    shutil.copytree(ws / "runs" / "digits", run, ignore=shutil.ignore_patterns("visualize"))

    async def body(s):
        started = await s.request("ttvis/train", {"path": str(run), "method": "DVI", "epochs": "1-5", "run": {"resolution": 64}})
        await s.wait_for(lambda: any(n == "ttvis/trainFinished" for n, _ in s.events))
        return started, list(s.events)

    started, events = run_session(ws, body)
    token = started["workDoneToken"]
    assert ("create", {"token": token}) in events  # server-initiated progress
    prog, ready = _progress_and_ready(events, token)
    kinds = [p["kind"] for p in prog]
    assert kinds[0] == "begin" and kinds[-1] == "end"
    pct = [p["percentage"] for p in prog if p["kind"] == "report"]
    assert pct == sorted(pct) and pct[-1] == 100
    done = [p["message"] for p in prog if p["kind"] == "report" and ":" not in p["message"]]
    assert done == [f"epoch {k}/5 (E{k})" for k in range(1, 6)]
    stages = [p["message"] for p in prog if p["kind"] == "report" and ":" in p["message"]]
    assert "epoch 3/5 (E3): training the vis model" in stages and "epoch 1/5: checking the run" in stages
    notes = [e for n, e in events if n == "ttvis/trainProgress"]
    assert [n["stage"] for n in notes if n["epoch"] == 2] == ["boundary samples", "kNN graph and fuzzy complex",
                                                              "training the vis model", "territory", "metrics"]
    assert ready == [1, 2, 3, 4, 5]
    fin = [e for n, e in events if n == "ttvis/trainFinished"][0]
    assert fin["status"] == "done"
    for e in ready:
        assert (run / f"visualize/DVI/projection/{e}.npy").is_file()


def test_stdio_cancel_keeps_finished_epochs(workspace):
    ws, _ = workspace
    run = ws / "runs" / "cancel"
    shutil.copytree(ws / "runs" / "digits", run, ignore=shutil.ignore_patterns("visualize"))

    async def body(s):
        started = await s.request("ttvis/train", {"path": str(run), "method": "DVI", "run": {"resolution": 64}})
        await s.wait_for(lambda: sum(n == "ttvis/epochReady" for n, _ in s.events) >= 2)
        s.client.protocol.notify(lsp.WINDOW_WORK_DONE_PROGRESS_CANCEL,
                                 lsp.WorkDoneProgressCancelParams(token=started["workDoneToken"]))
        await s.wait_for(lambda: any(n == "ttvis/trainFinished" for n, _ in s.events))
        return list(s.events)

    events = run_session(ws, body)
    fin = [e for n, e in events if n == "ttvis/trainFinished"][0]
    assert fin["status"] == "cancelled", fin
    ready = [e["epoch"] for n, e in events if n == "ttvis/epochReady"]
    assert 2 <= len(ready) < 20
    on_disk = sorted(int(p.stem) for p in (run / "visualize/DVI/projection").glob("*.npy"))
    assert on_disk == ready
    for e in ready:
        assert np.load(run / f"visualize/DVI/projection/{e}.npy").shape == (1797, 2)


# ---- websockets ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def web(workspace):
    ws, _ = workspace
    proc = subprocess.Popen([sys.executable, "-m", "ttvis.cli", "serve", "--trust", str(ws)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=_env())
    line = proc.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)", line)
    assert m, line
    yield {"port": int(m.group(1)), "token": m.group(2), "root": ws}
    proc.terminate()
    proc.wait(10)


class WsClient:
    def __init__(self, conn):
        self.conn, self.n, self.notes = conn, 0, []

    async def request(self, method, params):
        self.n += 1
        my = self.n
        await self.conn.send(json.dumps({"jsonrpc": "2.0", "id": my, "method": method, "params": params}))
        while True:
            msg = json.loads(await asyncio.wait_for(self.conn.recv(), 120))
            if msg.get("id") == my and "method" not in msg:
                return msg
            self._other(msg)

    def _other(self, msg):
        self.notes.append(msg)

    async def until(self, pred, timeout=300):
        deadline = time.monotonic() + timeout
        while not pred():
            msg = json.loads(await asyncio.wait_for(self.conn.recv(), deadline - time.monotonic()))
            self._other(msg)


def _ws_url(web, token=None):
    return f"ws://127.0.0.1:{web['port']}/ws?token={token or web['token']}"


def test_web_page_and_websocket_need_the_token(web):
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(f"http://127.0.0.1:{web['port']}/?token=wrong")
    assert ei.value.code == 403
    page = urllib.request.urlopen(f"http://127.0.0.1:{web['port']}/?token={web['token']}").read()
    assert b"<html" in page

    async def main():
        with pytest.raises(websockets.exceptions.InvalidStatus) as ei:
            async with websockets.connect(_ws_url(web, "wrong")):
                pass
        assert ei.value.response.status_code == 403
    asyncio.run(main())


def test_web_two_clients_at_once_and_paths_outside_refused(web, workspace):
    _, outside = workspace
    run = str(web["root"] / "runs" / "digits")

    async def one(epoch):
        async with websockets.connect(_ws_url(web), max_size=2**26) as conn:
            c = WsClient(conn)
            r = await c.request("ttvis/epoch", {"path": run, "method": "DVI", "epoch": epoch})
            xy = decode_array(r["result"]["projection"])
            bad = await c.request("ttvis/describe", {"path": str(outside / "digits")})
            return xy, bad

    async def main():
        return await asyncio.gather(one(3), one(17))

    (xy3, bad3), (xy17, _) = asyncio.run(main())
    assert np.array_equal(xy3, np.load(f"{run}/visualize/DVI/projection/3.npy"))
    assert np.array_equal(xy17, np.load(f"{run}/visualize/DVI/projection/17.npy"))
    assert bad3["error"]["code"] == -32002 and "outside the workspace" in bad3["error"]["message"]


def test_web_train_with_client_token_streams_to_every_client(web):
    root = web["root"]
    run = root / "runs" / "webtrain"
    shutil.copytree(root / "runs" / "digits", run, ignore=shutil.ignore_patterns("visualize"))

    async def main():
        async with websockets.connect(_ws_url(web), max_size=2**26) as a, websockets.connect(_ws_url(web), max_size=2**26) as b:
            ca, cb = WsClient(a), WsClient(b)
            await cb.request("ttvis/discover", {})  # b is a connected viewer
            r = await ca.request("ttvis/train", {"path": str(run), "method": "DVI", "epochs": "1-3",
                                                 "run": {"resolution": 64}, "workDoneToken": "tok-1"})
            assert r["result"]["workDoneToken"] == "tok-1"
            done = lambda c: any(n.get("method") == "ttvis/trainFinished" for n in c.notes)  # noqa: E731
            await ca.until(lambda: done(ca))
            await cb.until(lambda: done(cb))
            return ca.notes, cb.notes

    na, nb = asyncio.run(main())
    prog = [n["params"]["value"] for n in na if n.get("method") == "$/progress"]
    assert prog[0]["kind"] == "begin" and prog[-1]["kind"] == "end"
    assert [p["message"] for p in prog if p["kind"] == "report" and ":" not in p["message"]] == [
        "epoch 1/3 (E1)", "epoch 2/3 (E2)", "epoch 3/3 (E3)"]
    for notes in (na, nb):
        assert [n["params"]["epoch"] for n in notes if n.get("method") == "ttvis/epochReady"] == [1, 2, 3]

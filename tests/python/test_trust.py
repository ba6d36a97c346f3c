"""Trust and hostile folders (issue 21, A2-A4, A8, A9): a job note starts nothing in an untrusted
workspace and never names a Ray cluster, every model.py import asks the current trust, the page
needs the token whatever the path's spelling, a half-written epoch keeps the live view waiting
(not stopped), and bad run files, a bad text file and deeply nested JSON get clear answers."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from ttvis.dynamics.results import VisResults

from conftest import ttvis_cmd
from test_safety import FAST, RUN, RawServer
from ttvis.dynamics.subject import UntrustedCodeError, _import_source, code_gate
from ttvis.server.api import BAD_RUN, UNTRUSTED, ApiError, TtvisApi


def small_run(src: Path, dst: Path, n: int = 300, epochs: tuple[int, ...] = (1, 2, 3), model: bool = False) -> Path:
    """The first ``n`` samples of the digits run ``src`` as a run at ``dst`` with ``epochs`` recorded
    (``model``: with model.py and checkpoints, else without code)."""
    (dst / "dataset" / "label").mkdir(parents=True)
    (dst / "dataset" / "representation").mkdir()
    (dst / "dataset" / "prediction").mkdir()
    np.save(dst / "dataset/label/labels.npy", np.load(src / "dataset/label/labels.npy")[:n])
    idx = json.loads((src / "index.json").read_text())
    (dst / "index.json").write_text(json.dumps({k: [i for i in v if i < n] for k, v in idx.items()}))
    info = json.loads((src / "dataset/info.json").read_text())
    if not model:
        info.pop("model", None)
    (dst / "dataset/info.json").write_text(json.dumps(info))
    for e in epochs:
        write_epoch(src, dst, e, n)
    if model:
        shutil.copy(src / "model.py", dst / "model.py")
        shutil.copytree(src / "model", dst / "model")
    return dst


def write_epoch(src: Path, dst: Path, e: int, n: int = 300, part: str = "both") -> None:
    """Epoch ``e`` of ``src`` (first ``n`` samples) into ``dst``: ``part`` = rep, pred or both."""
    for kind in (("representation", "prediction") if part == "both" else ("representation",) if part == "rep" else ("prediction",)):
        tmp = dst / "dataset" / kind / f".{e}.tmp.npy"
        np.save(tmp, np.load(src / "dataset" / kind / f"{e}.npy")[:n])
        tmp.replace(dst / "dataset" / kind / f"{e}.npy")


def _wait(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _notes(s: RawServer, seconds: float) -> list[dict]:
    """Every message the server sends in the next ``seconds`` (answering its requests)."""
    got = list(s.notes)
    s.notes.clear()
    import select

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not select.select([s.p.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]:
            break
        r = s.read()
        if "method" in r and "id" in r:
            s.send({"jsonrpc": "2.0", "id": r["id"], "result": None})
        got.append(r)
    return got


def _stop(s: RawServer) -> None:
    try:
        s.request("shutdown")
        s.send({"jsonrpc": "2.0", "method": "exit"})
        s.p.wait(10)
    finally:
        s.p.kill()


# ---- A2: a job note resumes only in a trusted workspace, visibly, never with the note's Ray address ----
def test_a_planted_job_note_waits_for_trust_and_ignores_its_ray_address(digits_run, tmp_path):
    run = small_run(digits_run, tmp_path / "ws" / "run")
    (run / "visualize").mkdir()
    (run / "visualize" / "DVI.job.json").write_text(json.dumps(
        {"kind": "train", "method": "DVI", "params": FAST, "run": RUN, "epochs": [1, 2], "ray": "ray://203.0.113.9:10001"}))
    s = RawServer(run.parent, trusted=False)
    try:
        seen = _notes(s, 4.0)  # a fresh server in an untrusted workspace: nothing starts
        assert not [m for m in seen if m.get("method", "").startswith(("ttvis/train", "$/progress"))], seen
        assert not (run / "visualize" / "DVI").exists()
        d = s.request("ttvis/describe", {"path": str(run)})["result"]
        pending = d["methods"]["DVI"]["pendingJob"]
        assert pending["kind"] == "train" and pending["epochs"] == [1, 2] and "trusted" in pending["resumes"]
        assert s.request("ttvis/discover", {})["result"]["runs"][0]["methods"]["DVI"]["pendingJob"]["epochs"] == [1, 2]
        s.send({"jsonrpc": "2.0", "method": "ttvis/setTrust", "params": {"trusted": True}})  # the user trusts it: now
        shown = s.wait_note("window/showMessage", timeout=60)
        assert "DVI" in shown["message"] and "run" in shown["message"] and "resuming" in shown["message"]
        fin = s.wait_note("ttvis/trainFinished", timeout=300)
        assert fin["status"] == "done", fin  # the note's cluster address was not used (it cannot be reached)
    finally:
        _stop(s)
    assert sorted(p.name for p in (run / "visualize" / "DVI" / "projection").glob("*.npy")) == ["1.npy", "2.npy"]
    assert not (run / "visualize" / "DVI.job.json").exists()


def test_a_resumed_job_uses_the_servers_ray_setting_never_the_notes(digits_run, tmp_path):
    run = small_run(digits_run, tmp_path / "ws" / "run")
    (run / "visualize").mkdir()
    planted = {"kind": "train", "method": "DVI", "params": FAST, "run": RUN, "epochs": [1], "ray": "ray://203.0.113.9:10001"}
    (run / "visualize" / "DVI.job.json").write_text(json.dumps(planted))
    shown = []
    api = TtvisApi([run.parent], trusted=True, notify=lambda m, p: shown.append((m, p)))
    started = api.resume_jobs()
    note = json.loads((run / "visualize" / "DVI.job.json").read_text())  # rewritten by the resumed job
    assert "ray" not in note and note["epochs"] == [1]
    job = api.wait(started[0]["job"], 300)
    assert job.status == "done", job.error  # no connection to the note's cluster was tried
    msgs = [p["message"] for m, p in shown if m == "window/showMessage"]
    assert len(msgs) == 1 and str(run) in msgs[0] and "DVI" in msgs[0]


# ---- A3: every model.py import asks the current trust ---------------------------------------------
def test_the_code_gate_refuses_imports_and_the_cli_path_stays_open(run_copy):
    src = run_copy / "model.py"
    src.write_text(src.read_text() + "\nGATED = 1\n")
    with code_gate(lambda p: f"{p.name}: not trusted"):
        with pytest.raises(UntrustedCodeError, match="not trusted"):
            _import_source(src)
    assert _import_source(src).GATED == 1  # no gate: the command line imports as before
    with code_gate(lambda p: "no"):
        with pytest.raises(UntrustedCodeError):
            _import_source(src)  # imported before, still refused under a gate


def test_a_model_py_that_appears_in_a_watched_untrusted_folder_is_not_imported(digits_run, tmp_path):
    run = small_run(digits_run, tmp_path / "ws" / "live", epochs=())
    marker = tmp_path / "model_code_ran"
    s = RawServer(run.parent, trusted=False)
    try:
        r = s.request("ttvis/watch", {"path": str(run), "method": "DVI", "params": FAST, "run": RUN})
        assert "result" in r, r  # no model.py yet: following is allowed
        (run / "model").mkdir()
        shutil.copy(digits_run / "model" / "1.pth", run / "model" / "1.pth")
        (run / "model.py").write_text((digits_run / "model.py").read_text() + f"\nopen({str(marker)!r}, 'w').close()\n")
        info = json.loads((digits_run / "dataset/info.json").read_text())
        (run / "dataset/info.json").write_text(json.dumps(info))  # names the model class now
        write_epoch(digits_run, run, 1)
        fin = s.wait_note("ttvis/trainFinished", timeout=300)
    finally:
        _stop(s)
    assert fin["status"] == "failed" and fin["code"] == UNTRUSTED == -32006, fin
    assert "model.py" in fin["error"] and "not trusted" in fin["error"]
    assert not marker.exists()


# ---- A4: the token guards every path but real assets ------------------------------------------------
@pytest.fixture
def served(tmp_path, cli_env):
    (tmp_path / "ws").mkdir()
    p = subprocess.Popen(ttvis_cmd("serve", str(tmp_path / "ws")), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, env=cli_env)
    try:
        m = None
        while m is None:
            line = p.stdout.readline()
            assert line, "ttvis serve printed no URL"
            m = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)", line)
        yield int(m.group(1)), m.group(2)
    finally:
        p.terminate()
        p.wait(10)


def _get(port: int, target: str) -> tuple[int, bytes]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # sends the target as written
    try:
        c.request("GET", target)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_the_page_needs_the_token_whatever_the_path_spelling(served):
    from ttvis.server.web import static_root

    port, token = served
    status, page = _get(port, f"/?token={token}")
    assert status == 200 and b"<html" in page.lower()
    for target in ("/assets/../index.html", "/assets/%2e%2e/index.html", "/assets/..%2findex.html", "/assets/%2E%2E%2Findex.html",
                   "//index.html", "/./index.html", "/index.html", "/assets/./../index.html", "/ws/../index.html"):
        status, body = _get(port, target)
        assert status in (400, 403) and b"<html" not in body.lower(), (target, status, body[:80])
    for bad in ("%C3%A9", "%ff", token + "%C3%A9"):  # a non-ASCII token is refused, not a traceback
        status, body = _get(port, f"/?token={bad}")
        assert status == 403 and b"<html" not in body.lower(), (bad, status, body[:80])
    assert _get(port, f"/?token={token}")[0] == 200  # and the server still answers
    assets = sorted((static_root() / "assets").glob("*")) if (static_root() / "assets").is_dir() else []
    if assets:  # a real asset still loads without the token (the page asks for them without one)
        assert _get(port, f"/assets/{assets[0].name}")[0] == 200


# ---- A8: a half-written epoch is pending, not fatal ------------------------------------------------
def _truncate(f: Path) -> None:
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])


def test_cli_watch_waits_for_a_half_written_epoch(digits_run, tmp_path, cli_env):
    run = small_run(digits_run, tmp_path / "live", epochs=(1,))
    p = subprocess.Popen(ttvis_cmd("watch", str(run), "--interval", "0.3", "--device", "cpu", "--resolution", "32",
                                   "--max-epochs", "2", "--first-epochs", "3"),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=cli_env)
    out = bytearray()
    threading.Thread(target=lambda: [out.extend(c) for c in iter(lambda: p.stdout.read1(4096), b"")], daemon=True).start()
    proj = run / "visualize" / "DVI" / "projection"
    try:
        _wait(lambda: (proj / "1.npy").exists(), 300, "epoch 1")
        write_epoch(digits_run, run, 2, part="rep")
        _truncate(run / "dataset/representation/2.npy")  # the recorder is half-way through epoch 2
        _wait(lambda: b"epoch 2: waiting for dataset/representation/2.npy to be complete" in out, 60, "the truncated note")
        write_epoch(digits_run, run, 2, part="rep")  # representation done, predictions not yet
        _wait(lambda: b"epoch 2: waiting for dataset/prediction/2.npy" in out, 60, "the prediction note")
        time.sleep(1.0)
        assert p.poll() is None and not (proj / "2.npy").exists(), out.decode()
        write_epoch(digits_run, run, 2, part="pred")
        _wait(lambda: (proj / "2.npy").exists(), 300, "epoch 2")
        assert p.poll() is None, out.decode()
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(30)
        finally:
            p.kill()
    assert np.load(proj / "2.npy").shape == (300, 2)


def test_server_watch_job_waits_for_a_half_written_epoch(digits_run, tmp_path):
    run = small_run(digits_run, tmp_path / "ws" / "live", epochs=(1,))
    s = RawServer(run.parent)
    try:
        job = s.request("ttvis/watch", {"path": str(run), "method": "DVI", "params": FAST, "run": RUN})["result"]["job"]
        assert s.wait_note("ttvis/epochReady")["epoch"] == 1
        write_epoch(digits_run, run, 2, part="rep")
        _truncate(run / "dataset/representation/2.npy")
        stages = []
        while not any("epoch 2: waiting for dataset/representation/2.npy" in st for st in stages):
            stages.append(s.wait_note("ttvis/trainProgress", timeout=60)["stage"])
        write_epoch(digits_run, run, 2, part="rep")
        while not any("epoch 2: waiting for dataset/prediction/2.npy" in st for st in stages):
            stages.append(s.wait_note("ttvis/trainProgress", timeout=60)["stage"])
        write_epoch(digits_run, run, 2, part="pred")
        assert s.wait_note("ttvis/epochReady")["epoch"] == 2
        s.request("ttvis/cancel", {"job": job})
        assert s.wait_note("ttvis/trainFinished")["status"] == "cancelled"
    finally:
        _stop(s)


def test_watch_reports_an_epoch_that_stays_corrupt_and_goes_on(digits_run, tmp_path):
    from ttvis.pipeline import watch

    run = small_run(digits_run, tmp_path / "live", epochs=(1, 2, 3))
    (run / "dataset/representation/2.npy").write_bytes(b"\x93NUMPY garbage that stays")
    said, done, stop = [], [], threading.Event()
    t = threading.Thread(target=lambda: watch(run, "DVI", FAST, RUN, stop=stop, interval=0.2, settle=1.0,
                                              on_message=said.append, on_epoch=lambda e, n, m: done.append(e)))
    t.start()
    try:
        _wait(lambda: 3 in done, 300, "epoch 3 after the corrupt epoch 2")
        assert t.is_alive()
        # the file is repaired after epoch 3 went on without it: it stays out, and nothing starts over
        write_epoch(digits_run, run, 2)
        _wait(lambda: any("later epochs are projected without it" in m for m in said), 60, "the stays-out note")
        time.sleep(1.0)
    finally:
        stop.set()
        t.join(60)
    assert done == [1, 3]
    assert any("epoch 2:" in m and "2.npy" in m and "left out" in m for m in said), said
    assert not (run / "visualize" / "DVI.history").exists() and VisResults(run, "DVI").epochs() == [1, 3]


# ---- A9: bad run files answer the run-error code; a bad text file costs only the text --------------
def test_corrupt_run_files_answer_bad_run_naming_the_file(digits_run, tmp_path):
    run = small_run(digits_run, tmp_path / "ws" / "run")
    from ttvis.pipeline import visualize

    visualize(run, "DVI", FAST, "1-3", run=RUN)
    _truncate(run / "dataset/prediction/2.npy")
    _truncate(run / "visualize/DVI/projection/3.npy")
    api = TtvisApi([run.parent], trusted=True)
    p = str(run)
    for method, params, bad in [("sample", {"path": p, "index": 3, "method": "DVI"}, "prediction/2.npy"),
                                ("epoch", {"path": p, "method": "DVI", "epoch": 2}, "prediction/2.npy"),
                                ("events", {"path": p, "method": "DVI", "epoch": 2}, "prediction/2.npy"),
                                ("search", {"path": p, "query": "misclassified", "epoch": 2}, "prediction/2.npy"),
                                ("neighbors", {"path": p, "method": "DVI", "epoch": 3, "index": 1}, "projection/3.npy")]:
        with pytest.raises(ApiError) as ei:
            getattr(api, method)(params)
        assert ei.value.code == BAD_RUN and bad in ei.value.message, (method, ei.value.message)
    s = RawServer(run.parent)
    try:
        r = s.request("ttvis/sample", {"path": p, "index": 3, "method": "DVI"})
        assert r["error"]["code"] == -32005 and "prediction/2.npy" in r["error"]["message"], r
    finally:
        _stop(s)


@pytest.mark.parametrize("write, needle", [
    (lambda f: f.write_bytes(b"caf\xe9\n" * 300), "UTF-8"),
    (lambda f: f.write_text("one\ntwo\n"), "found 2 lines"),
    (lambda f: f.open("wb").truncate((128 << 20) + 1), "MiB"),
])
def test_a_bad_text_file_costs_only_the_text(digits_run, tmp_path, write, needle):
    run = small_run(digits_run, tmp_path / "ws" / "run")
    write(run / "dataset" / "text.txt")
    api = TtvisApi([run.parent], trusted=True)
    out = api.sample({"path": str(run), "index": 5})
    assert out["text"] is None and needle in out["textError"] and "text.txt" in out["textError"]
    assert out["label"] == int(np.load(run / "dataset/label/labels.npy")[5])
    d = api.describe({"path": str(run)})
    assert d["hasText"] is False and needle in d["textError"]
    (run / "dataset" / "text.txt").write_text("".join(f"sample {i}\n" for i in range(300)))  # fixed: served again
    assert api.sample({"path": str(run), "index": 5})["text"] == "sample 5"


# ---- A9: deeply nested JSON is answered, without a traceback, and the server goes on -----------
def _deep(depth: int, msg_id: int = 7) -> bytes:
    return (b'{"jsonrpc": "2.0", "id": %d, "method": "ttvis/describe", "params": {"path": ' % msg_id
            + b"[" * depth + b"]" * depth + b"}}")


def test_deeply_nested_json_on_stdio_is_answered_without_a_traceback(tmp_path):
    (tmp_path / "ws").mkdir()
    s = RawServer(tmp_path / "ws")
    try:
        answers = []
        for depth in (500, 1000, 20000):
            body = _deep(depth)
            s.p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            s.p.stdin.flush()
            answers.append(s.read())
            assert "result" in s.request("ttvis/methods", {})  # the next request is served
        s.p.stdin.write(b"Content-Length: 9\r\n\r\n{not json")
        s.p.stdin.flush()
        answers.append(s.read())
        _stop(s)
        s._drain.join(5)
    finally:
        s.p.kill()
    assert answers[0]["id"] == 7 and answers[0]["error"]["code"] == -32600 and "nested" in answers[0]["error"]["message"]
    for a in answers[1:]:
        assert a["id"] is None and a["error"]["code"] == -32700, a
    assert "Traceback" not in s.log.decode(), s.log.decode()[-2000:]


def test_deeply_nested_json_on_a_websocket_is_answered(served):
    import websockets

    port, token = served

    async def main():
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws?token={token}", max_size=2**26) as c:
            got = []
            for depth in (500, 1000):
                await c.send(_deep(depth).decode())
                got.append(json.loads(await asyncio.wait_for(c.recv(), 30)))
            await c.send(json.dumps({"jsonrpc": "2.0", "id": 8, "method": "ttvis/methods"}))
            got.append(json.loads(await asyncio.wait_for(c.recv(), 30)))
            return got

    deep500, deep1000, after = asyncio.run(main())
    assert deep500["id"] == 7 and deep500["error"]["code"] == -32600
    assert deep1000["id"] is None and deep1000["error"]["code"] == -32700
    assert after["id"] == 8 and after["result"]["methods"]

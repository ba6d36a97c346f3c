"""The ttvis command line as a user runs it (real subprocesses)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import warnings

import numpy as np
import pytest
from PIL import Image

from conftest import ttvis_cmd
from ttvis.dynamics import TrainingDynamics, VisResults


def _foreign_run(path, epochs=4):
    """A run in DESIGN.md's format written with plain numpy, not by ttvis: a scikit-learn
    MLP's hidden layer on the digits, no model, only dataset/ and index.json."""
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    d = load_digits()
    x, y = d.data / 16.0, d.target
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    tr, te = np.sort(order[:1400]), np.sort(order[1400:])
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=1, random_state=0, learning_rate_init=3e-3)
    for e in range(1, epochs + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.partial_fit(x[tr], y[tr], classes=np.arange(10)) if e > 1 else clf.fit(x[tr], y[tr])
        h = np.maximum(x @ clf.coefs_[0] + clf.intercepts_[0], 0).astype(np.float32)
        (path / "dataset/representation").mkdir(parents=True, exist_ok=True)
        (path / "dataset/prediction").mkdir(parents=True, exist_ok=True)
        np.save(path / f"dataset/representation/{e}.npy", h)
        np.save(path / f"dataset/prediction/{e}.npy", (h @ clf.coefs_[1] + clf.intercepts_[1]).astype(np.float32))
    (path / "dataset/label").mkdir(parents=True, exist_ok=True)
    np.save(path / "dataset/label/labels.npy", y.astype(np.int64))
    (path / "index.json").write_text(json.dumps({"train": tr.tolist(), "test": te.tolist()}))
    return path


def test_visualize_a_folder_ttvis_did_not_write_uses_the_fallback_head(tmp_path, cli_env):
    run = _foreign_run(tmp_path / "mlp")
    r = subprocess.run(ttvis_cmd("visualize", str(run), "--device", "cpu", "--resolution", "64"),
                       capture_output=True, text=True, env=cli_env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "no subject model recorded: logistic regression" in r.stderr
    assert "NPR tr" in r.stdout and "last epoch 4" in r.stdout
    res = VisResults(run, "DVI", 1797)
    assert res.epochs() == [1, 2, 3, 4]
    assert Image.open(res.background_path(4)).size == (64, 64)
    ev = res.eval()["epochs"]["4"]
    # fitted on the 1,400 training samples only (fit_on=train): PPR 0.79 here, 0.80 with fit_on=all
    assert ev["head"] == "fallback" and ev["npr_train"] > 0.3 and ev["ppr_train"] > 0.75
    # eval recomputes the same numbers from disk; render makes frames + a GIF
    r = subprocess.run(ttvis_cmd("eval", str(run), "--json"), capture_output=True, text=True, env=cli_env, timeout=600)
    assert r.returncode == 0, r.stderr
    again = json.loads(r.stdout)["epochs"]["4"]
    assert abs(again["npr_train"] - ev["npr_train"]) < 1e-9 and abs(again["ppr_train"] - ev["ppr_train"]) < 1e-9
    r = subprocess.run(ttvis_cmd("render", str(run), "--gif", "--size", "300"), capture_output=True, text=True, env=cli_env, timeout=600)
    assert r.returncode == 0, r.stderr
    gif = Image.open(run / "visualize/DVI/DVI.gif")
    assert gif.n_frames == 4 and gif.size == (300, 300)


def test_ctrl_c_keeps_finished_epochs(run_copy, cli_env):
    # a suite started in the background (`make test-python &`) ignores SIGINT, and its children inherit that
    proc = subprocess.Popen(ttvis_cmd("visualize", str(run_copy), "--device", "cpu"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    res = VisResults(run_copy, "DVI", 1797)
    deadline = time.time() + 300
    while time.time() < deadline and len(res.epochs()) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    done = res.epochs()
    assert 3 <= len(done) < 20
    evals = res.eval()["epochs"]
    for e in done:
        assert res.projection(e).shape == (1797, 2)
        assert Image.open(res.background_path(e)).size == (256, 256)
    assert set(evals) >= {str(e) for e in done[:-1]}
    assert not [p for p in res.dir.rglob("*.tmp")], "no temp files left behind"


def test_ctrl_c_inside_a_numba_function_is_an_interrupt(capsys, monkeypatch):
    """Ctrl-C while numba runs (umap's smooth_knn_dist) surfaces as SystemError caused by KeyboardInterrupt
    (seen in CI); the CLI must still exit 130 with its "interrupted" line, and re-raise other SystemErrors."""
    from ttvis import cli

    def numba_interrupted(args):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as ki:
            raise SystemError("CPUDispatcher(<function smooth_knn_dist>) returned a result with an exception set") from ki

    def compile_interrupted(args):  # e.g. while numba compiles: wrapped in an error of another kind
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise ValueError("lowering failed")

    def other(args):
        raise SystemError("something else")

    run = cli.build_parser("DVI").parse_args(["eval", "/runs/x"])
    monkeypatch.setattr(cli, "build_parser", lambda method: type("P", (), {"parse_args": lambda self, argv: run})())
    run.func = numba_interrupted
    assert cli.main(["eval", "/runs/x"]) == 130
    assert "interrupted" in capsys.readouterr().err
    run.func = compile_interrupted
    assert cli.main(["eval", "/runs/x"]) == 130
    run.func = other
    with pytest.raises(SystemError, match="something else"):
        cli.main(["eval", "/runs/x"])


@pytest.mark.parametrize("args,needle", [
    (["visualize", "/no/such/run"], "/no/such/run: expected a training-dynamic folder"),
    (["visualize", "{run}", "--method", "TSNE"], "unknown visualization method 'TSNE'"),
    (["visualize", "{run}", "--epochs", "30-40"], "not recorded; available: 1..20"),
    (["visualize", "{run}", "--n-neighbors", "1"], "--n-neighbors: expected a number >= 2, found 1"),
    (["eval", "{run}"], "run `ttvis visualize` first"),
    (["render", "{dvi}", "--size", "0"], "size: expected a frame size of 64..4096 pixels, found 0"),
    (["visualize", "{run}", "--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
    (["visualize", "{run}", "--resolution", "many"], "argument --resolution: invalid int value: 'many'"),
])
def test_bad_input_gives_one_clear_error(run_copy, dvi_result, cli_env, args, needle):
    subst = {"{run}": str(run_copy), "{dvi}": str(dvi_result[0])}
    r = subprocess.run(ttvis_cmd(*[subst.get(a, a) for a in args]), capture_output=True, text=True, env=cli_env, timeout=300)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_help_lists_method_parameters(cli_env):
    r = subprocess.run(ttvis_cmd("visualize", "--help"), capture_output=True, text=True, env=cli_env, timeout=60)
    assert r.returncode == 0
    for opt in ("--n-neighbors", "--lambda1", "--lambda2", "--patience", "--max-epochs", "--resolution", "--seed", "--device"):
        assert opt in r.stdout


def test_demo_command_end_to_end(tmp_path, cli_env):
    out = tmp_path / "demo"
    r = subprocess.run(ttvis_cmd("demo", "--out", str(out), "--epochs", "3"), capture_output=True, text=True,
                       env=cli_env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "last epoch 3" in r.stdout and "DVI.gif" in r.stdout
    run = TrainingDynamics(out)
    assert run.epochs == [1, 2, 3] and run.model_source is not None
    assert Image.open(out / "visualize/DVI/DVI.gif").n_frames == 3


def test_eval_keeps_the_territory_agreement_visualize_measured(dvi_result, tmp_path):
    import shutil

    from ttvis.pipeline import evaluate

    run = tmp_path / "digits"
    shutil.copytree(dvi_result[0], run)
    before = {e: m["territory_agreement"] for e, m in dvi_result[1]["epochs"].items()}
    after = {e: m["territory_agreement"] for e, m in evaluate(run, "DVI")["epochs"].items()}
    assert after == before
    assert np.load(run / "visualize/DVI/bgimg/20.npy").shape == (256, 256)

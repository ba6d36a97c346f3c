"""Shared fixtures: the real digits run (recorded once per test session) and one full DVI result."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> Path:
    """A 20-epoch digits training run recorded with the public Recorder (the demo's own code)."""
    from ttvis.demo.digits import record_digits_run

    out = tmp_path_factory.mktemp("runs") / "digits"
    record_digits_run(out, epochs=20, seed=0)
    return out


@pytest.fixture
def run_copy(digits_run, tmp_path) -> Path:
    """A private copy of the digits run that a test may modify or break."""
    dst = tmp_path / "digits"
    shutil.copytree(digits_run, dst, ignore=shutil.ignore_patterns("visualize"))
    return dst


@pytest.fixture(scope="session")
def dvi_result(digits_run, tmp_path_factory) -> tuple[Path, dict]:
    """DVI over all 20 epochs of the digits run (the acceptance run), with its eval.json."""
    from ttvis.pipeline import visualize

    dst = tmp_path_factory.mktemp("dvi") / "digits"
    shutil.copytree(digits_run, dst)
    evals = visualize(dst, "DVI", run={"device": "cpu"})
    return dst, evals


def ttvis_cmd(*args: str) -> list[str]:
    """The ttvis CLI as a subprocess command line, using this interpreter."""
    return [sys.executable, "-m", "ttvis.cli", *args]


@pytest.fixture
def cli_env() -> dict:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env

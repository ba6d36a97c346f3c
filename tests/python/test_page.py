"""The page ``ttvis serve`` shows is the built webview in every install, with no Node at install time.

The built page (``pybackend/ttvis/static/webview/``: ``index.html``, ``assets/main.js``,
``assets/main.css``) is committed to git; the placeholder ``static/index.html`` is only the
fallback for a checkout that lost it. These tests run the real ``ttvis serve`` (from this
checkout, and from a wheel built from an sdist of a clean-clone copy of it) and the real
``make check-page`` guard that keeps the committed page equal to a fresh build.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGE = "pybackend/ttvis/static/webview"
PAGE_FILES = ("index.html", "assets/main.js", "assets/main.css")


@contextmanager
def _serve(root: Path, cwd: Path, env: dict | None = None):
    """Run ``python -m ttvis.cli serve root`` and yield ``(port, token)`` from the URL it prints."""
    proc = subprocess.Popen([sys.executable, "-m", "ttvis.cli", "serve", str(root)], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        said = []
        while not (m := re.search(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)", said[-1] if said else "")):
            said.append(proc.stdout.readline())
            assert said[-1], f"ttvis serve exited, having printed {''.join(said)!r}, before its URL"
        yield int(m.group(1)), m.group(2)
    finally:
        proc.terminate()
        proc.wait(10)


def _get(port: int, path: str) -> tuple[bytes, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
        return r.read(), r.headers.get("Content-Type", "")


def _assert_real_page(port: int, token: str, expected_dir: Path) -> None:
    """GET / and its assets: the built page (script and style linked, served, non-trivial), not the placeholder."""
    page, ctype = _get(port, f"/?token={token}")
    assert ctype.startswith("text/html")
    assert b'<script src="assets/main.js"></script>' in page, "served the placeholder, not the built page"
    assert b'href="assets/main.css"' in page
    assert page == (expected_dir / "index.html").read_bytes()
    js, ctype = _get(port, "/assets/main.js")
    assert "javascript" in ctype and len(js) > 50_000
    assert js == (expected_dir / "assets/main.js").read_bytes()
    css, ctype = _get(port, "/assets/main.css")
    assert ctype.startswith("text/css") and len(css) > 1_000


def test_serve_shows_the_built_page(tmp_path):
    """The installed ttvis (editable from this checkout in the dev env) serves the real page."""
    import ttvis

    static = Path(ttvis.__file__).parent / "static" / "webview"
    with _serve(tmp_path, cwd=tmp_path) as (port, token):
        _assert_real_page(port, token, static)


def _clean_clone(dst: Path) -> None:
    """Copy what a clean clone of this checkout's next commit would hold (tracked + new, not ignored) for packaging."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
                             "pyproject.toml", "README.md", "LICENSE", "pybackend"],
                            cwd=REPO, check=True, capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():  # a tracked file deleted in the working tree is not in the next commit either
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)


def _pip_wheel(source: Path, out: Path) -> Path:
    """``pip wheel`` offline (no index, no build isolation: setuptools from this env) -> the wheel's path."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(out), str(source)], check=True, cwd=out)
    (whl,) = out.glob("ttvis-*.whl")
    return whl


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    """A clean-clone copy, its sdist, a wheel built from the tree and one built from the sdist."""
    base = tmp_path_factory.mktemp("pkg")
    tree = base / "tree"
    _clean_clone(tree)
    sdist_dir = base / "sdist"
    sdist_dir.mkdir()
    name = subprocess.run([sys.executable, "-c", "import sys; from setuptools import build_meta as b; "
                           "print(b.build_sdist(sys.argv[1]))", str(sdist_dir)],
                          cwd=tree, check=True, capture_output=True, text=True).stdout.split()[-1]
    sdist = sdist_dir / name
    (base / "w_tree").mkdir()
    (base / "w_sdist").mkdir()
    return {"tree": tree, "sdist": sdist, "wheel_tree": _pip_wheel(tree, base / "w_tree"),
            "wheel_sdist": _pip_wheel(sdist, base / "w_sdist"), "base": base}


@pytest.mark.parametrize("which", ["wheel_tree", "wheel_sdist"])
def test_wheel_contains_the_built_page(packages, which):
    """A wheel (from the tree, or from the sdist as ``pip install ttvis-*.tar.gz`` does) holds the page."""
    with zipfile.ZipFile(packages[which]) as z:
        names = set(z.namelist())
        for f in PAGE_FILES:
            assert f"ttvis/static/webview/{f}" in names, f"{packages[which].name} lacks ttvis/static/webview/{f}"
        assert z.read("ttvis/static/webview/assets/main.js") == (packages["tree"] / PAGE / "assets/main.js").read_bytes()
        assert "ttvis/static/index.html" in names  # the fallback stays


def test_installed_wheel_serves_the_built_page(packages, tmp_path):
    """``pip install`` of the wheel built from the sdist, then that install's ``ttvis serve`` shows the real page."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target),
                    str(packages["wheel_sdist"])], check=True)
    env = {**os.environ, "PYTHONPATH": str(target), "PYTHONUNBUFFERED": "1",
           "TTVIS_LOG_LEVEL": "WARNING"}
    where = subprocess.run([sys.executable, "-c", "import ttvis; print(ttvis.__file__)"], cwd=tmp_path, env=env,
                           check=True, capture_output=True, text=True).stdout.strip()
    assert Path(where).is_relative_to(target), f"imported {where}, not the installed wheel"
    with _serve(tmp_path, cwd=tmp_path, env=env) as (port, token):
        _assert_real_page(port, token, target / "ttvis" / "static" / "webview")


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None or shutil.which("make") is None, reason="needs git and make")
def test_check_page_fails_on_a_stale_page(tmp_path):
    """``make check-page`` passes on a committed page, fails (naming the fix) when a build changed or added files."""
    shutil.copy2(REPO / "Makefile", tmp_path / "Makefile")
    page = tmp_path / PAGE
    for f in PAGE_FILES:
        (page / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / PAGE / f, page / f)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "page")

    def check():
        return subprocess.run(["make", "-s", "check-page"], cwd=tmp_path, capture_output=True, text=True)

    assert check().returncode == 0
    (page / "assets/main.js").write_bytes((page / "assets/main.js").read_bytes() + b"\n")
    r = check()
    assert r.returncode != 0 and "commit the rebuilt files" in r.stdout and "main.js" in r.stdout
    _git(tmp_path, "add", "-A")  # staged counts as committed: the developer is about to commit it
    assert check().returncode == 0
    (page / "assets/extra.js").write_text("x")
    r = check()
    assert r.returncode != 0 and "assets/extra.js" in r.stdout

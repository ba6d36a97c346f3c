"""The state and the shared checks of :class:`~ttvis.server.api.TtvisApi` (DESIGN.md "Protocol").

:class:`ApiCore` holds what every ``ttvis/*`` method leans on: the workspace roots and the path
check, the open runs (reopened when a live recording grows), the open results, the cache of
derived per-epoch arrays keyed by their files' versions, and the run's texts. The JSON-RPC error
codes and :class:`ApiError` live here so the method modules (:mod:`ttvis.server.runs`,
:mod:`ttvis.server.views`, :mod:`ttvis.server.sample_api`, :mod:`ttvis.server.training`) can
use them without importing :mod:`ttvis.server.api`, which re-exports them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.folder import TrainingDynamics
from ttvis.dynamics.results import VisResults
from ttvis.server.discover import is_run_folder
from ttvis.server.jobs import Job, JobRunner, Notify

# JSON-RPC error codes (server-defined range -32000..-32099)
INVALID_PARAMS = -32602
NOT_FOUND = -32001  # unknown path / no run there
FORBIDDEN = -32002  # path outside the roots
NO_RESULTS = -32003  # results missing: run training first / epoch not available
BUSY = -32004  # a training job already runs on this folder
BAD_RUN = -32005  # the folder's files are malformed
UNTRUSTED = -32006  # the request would run the run's model.py in an untrusted workspace


class ApiError(Exception):
    """A request that cannot be served; ``code`` is a JSON-RPC error code, ``message`` says what to do."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _softmax(scores: np.ndarray) -> np.ndarray:
    z = scores - scores.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


RECHECK_S = 1.0  # seconds between checks of an open run for newly recorded epochs
TEXT_LIMIT = 128 << 20  # bytes: a larger dataset/text.txt is not read (the samples are served without text)


class ApiCore:
    """The state every ``ttvis/*`` method module shares (a base of
    :class:`~ttvis.server.api.TtvisApi`, which sets these attributes in its ``__init__``).

    Attributes:
        roots: resolved folders requests may touch.
        trusted: whether requests may import a run's ``model.py``.
        vector_uri: the Milvus server ``ttvis/similar`` uses (None: Milvus Lite in each run).
        ray: the Ray cluster a resumed job uses (None: none).
        notify: ``notify(method, params)`` broadcasts a notification to every client.
        runner: the :class:`~ttvis.server.jobs.JobRunner`; ``jobs`` its jobs by id.
    """

    roots: list[Path]
    trusted: bool
    vector_uri: str | None
    ray: bool | str | None
    notify: Notify
    runner: JobRunner
    jobs: dict[str, Job]
    _runs: dict[Path, TrainingDynamics]
    _grown_checked: dict[Path, float]
    _derived: dict[tuple, Any]
    _open_results: dict[tuple, VisResults]

    # ---- paths --------------------------------------------------------------
    def set_roots(self, roots: list[str | os.PathLike] | None) -> None:
        """Replace the folders requests may touch."""
        self.roots = [Path(r).expanduser().resolve() for r in (roots or [os.getcwd()])]

    def _allowed(self, path: Any) -> Path:
        if not isinstance(path, str) or not path:
            raise ApiError(INVALID_PARAMS, "params.path: expected the path of a training-run folder")
        if len(path) > 4096 or "\x00" in path:
            raise ApiError(INVALID_PARAMS, f"params.path: expected the path of a training-run folder, found {len(path)} characters"
                           + (" with a NUL" if "\x00" in path else ""))
        try:
            p = Path(path).expanduser()
            if not p.is_absolute():
                p = self.roots[0] / p
            p = p.resolve()
        except (OSError, RuntimeError, ValueError) as exc:
            raise ApiError(INVALID_PARAMS, f"params.path: not a usable path ({type(exc).__name__})") from None
        if not any(p == r or p.is_relative_to(r) for r in self.roots):
            raise ApiError(FORBIDDEN, f"{p} is outside the workspace folders ({', '.join(map(str, self.roots))}); open it as a workspace folder first")
        return p

    def _run(self, path: Any, epoch: Any = None, fresh: bool = False) -> TrainingDynamics:
        """The open run at ``path`` (reopened when it has grown). ``epoch``: an epoch the caller
        needs (an unknown one forces a look at the disk); ``fresh``: always look."""
        p = self._allowed(path)
        if not is_run_folder(p):
            raise ApiError(NOT_FOUND, f"{p}: no training run there (expected dataset/representation/E.npy, epochs/epoch_E/ or Model/Epoch_E/)")
        run = self._runs.get(p)
        # has the run grown (a live recording)? Checking resolves every epoch's files, which cost a
        # third of a 50k-sample epoch fetch under load: check at most every RECHECK_S per run
        now = time.monotonic()
        if (run is not None and run.epochs and now - self._grown_checked.get(p, -1e9) < RECHECK_S
                and not fresh and (epoch is None or epoch in run.epochs)):  # an epoch it does not know yet: look now
            return run
        self._grown_checked[p] = now
        if run is None or not run.epochs or run.epochs != run.epochs_on_disk():
            try:
                run = TrainingDynamics(p, roots=self.roots)
            except DynamicsError as exc:
                raise ApiError(BAD_RUN, str(exc)) from None
            self._runs[p] = run
        return run

    @staticmethod
    def _method(name: Any) -> str:
        from ttvis.projection.registry import get_method

        try:
            return get_method(name if isinstance(name, str) else "").name
        except ValueError as exc:
            raise ApiError(INVALID_PARAMS, str(exc)) from None

    def _vis(self, run: TrainingDynamics, method: str) -> VisResults:
        # kept per (run, method, roots): opening resolves the run and every root (it holds no other state)
        key = (run.path, method, run.n_samples, tuple(self.roots))
        res = self._open_results.get(key)
        if res is None:
            if len(self._open_results) > 64:
                self._open_results.clear()
            res = self._open_results[key] = VisResults(run.path, method, run.n_samples, roots=self.roots)
        return res

    def _results(self, run: TrainingDynamics, method: str) -> VisResults:
        res = self._vis(run, method)
        if not res.exists():
            raise ApiError(NO_RESULTS, f"{run.path}: no {method} results yet; run training first (ttvis/train or `ttvis visualize`)")
        return res

    def _epoch_of(self, run: TrainingDynamics, res: VisResults, epoch: Any, done: list[int] | None = None) -> int:
        if not isinstance(epoch, int) or isinstance(epoch, bool):
            raise ApiError(INVALID_PARAMS, "params.epoch: expected an integer epoch")
        done = res.epochs() if done is None else done
        if epoch not in done:
            job = self._job_for(run.path)
            hint = " (training is still running)" if job and job.status == "running" else ""
            raise ApiError(NO_RESULTS, f"epoch {epoch} of {res.method} is not available{hint}; available: {_ranges(done)}")
        return epoch

    def _job_for(self, path: Path) -> Job | None:
        return self.runner.running_for(path)

    def _text(self, run: TrainingDynamics) -> tuple[list[str] | None, str | None]:
        """The run's per-sample texts and, when they cannot be used, why: ``(lines | None, error | None)``.
        A text file that is not UTF-8, is over :data:`TEXT_LIMIT` bytes or has not one line per sample
        gives ``(None, message naming the file)``; the run is served without text, never refused."""
        f = run.path / "dataset" / "text.txt"

        def make() -> tuple[list[str] | None, str | None]:
            try:
                size = f.stat().st_size if f.is_file() else 0
                if size > TEXT_LIMIT:
                    return None, (f"{f}: expected at most {TEXT_LIMIT >> 20} MiB of text (one line per sample), "
                                  f"found {size / 2**20:.0f} MiB: not read")
                run.__dict__.pop("_text", None)  # read afresh: the file changed (or was never read)
                lines = run._text_lines()
            except DynamicsError as exc:
                return None, str(exc)
            except UnicodeDecodeError as exc:
                return None, f"{f if f.is_file() else run.path}: expected UTF-8 text, one line per sample, found {exc.reason} at byte {exc.start}"
            except (OSError, MemoryError) as exc:
                return None, f"{f if f.is_file() else run.path}: expected readable text, one line per sample, found {type(exc).__name__}: {exc}"
            if lines is not None and len(lines) != run.n_samples:
                return None, f"{f if f.is_file() else run.path}: expected one line of text per sample ({run.n_samples}), found {len(lines)} lines"
            return lines, None

        return self._cached(("text", run.path, (f,)), make)

    # ---- derived per-epoch arrays (cached) -------------------------------------
    def _cached(self, key: tuple, make: Callable[[], Any]) -> Any:
        stamp = tuple(_mtime(f) for f in key[-1]) if isinstance(key[-1], tuple) else None
        hit = self._derived.get(key[:-1])
        if hit is not None and hit[0] == stamp:
            return hit[1]
        val = make()
        if len(self._derived) > 256:
            self._derived.clear()
        self._derived[key[:-1]] = (stamp, val)
        return val

    def _pred_conf(self, run: TrainingDynamics, epoch: int) -> tuple[np.ndarray, np.ndarray] | None:
        if not run.has_predictions:
            return None
        f = tuple(run.prediction_files(epoch))

        def make():
            p = _softmax(run.prediction(epoch).astype(np.float64))
            return p.argmax(1).astype(np.int32), p.max(1).astype(np.float32)

        return self._cached(("pred", run.path, epoch, f), make)


# ---- helpers --------------------------------------------------------------------
def _mtime(f: Path) -> tuple[int, int, int] | None:
    """What identifies a version of file ``f`` (mtime, inode, size; None when absent): every
    writer replaces a file by renaming a new one over it, which changes the inode even within
    one tick of the file-system clock."""
    try:
        st = f.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_ino, st.st_size


def _ranges(ep: list[int]) -> str:
    if not ep:
        return "none (run training first)"
    return f"{ep[0]}..{ep[-1]}" if ep == list(range(ep[0], ep[-1] + 1)) else ", ".join(map(str, ep))


def _index(i: Any, n: int) -> int:
    if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < n:
        raise ApiError(INVALID_PARAMS, f"params.index: expected a sample index in 0..{n - 1}")
    return i


def _nearest(x: np.ndarray, i: int, k: int) -> np.ndarray:
    d = ((x - x[i]) ** 2).sum(1)
    d[i] = np.inf
    idx = np.argpartition(d, k)[:k]
    return idx[np.argsort(d[idx])].astype(np.int64)


def _bounds(xy: np.ndarray) -> list[float]:
    lo, hi = xy.min(0), xy.max(0)
    return [float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])]


"""The ``ttvis/*`` methods, independent of transport (DESIGN.md "Protocol").

Each method takes a plain-dict ``params`` and returns a JSON-ready dict, or raises
:class:`ApiError` with a message a user can act on. Training jobs run in the
:class:`~ttvis.server.jobs.JobRunner`; the methods and their parameter schemas come from
the registry (:mod:`ttvis.projection.registry`), so nothing here knows a method by name.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.folder import TrainingDynamics
from ttvis.dynamics.results import VisResults
from ttvis.server.discover import find_runs, is_run_folder
from ttvis.server.encoding import encode_array, encode_bytes
from ttvis.server.jobs import Job, JobRunner, Notify, ProgressSink, jsonable

log = logging.getLogger("ttvis.server")

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


class TtvisApi:
    """Implementation of every ``ttvis/*`` method.

    Args:
        roots: folders requests may touch (a path outside them is refused); None or empty:
            the current working directory.
        notify: ``notify(method, params)`` broadcasts a notification to every client.
        trusted: whether requests may import a run's ``model.py`` (run the user's code):
            training or evaluating a run that has one is refused otherwise (VS Code's
            workspace trust; ``ttvis serve --trust``).
        vector_uri: the Milvus server ``ttvis/similar`` uses (None: Milvus Lite in each run).
        ray: the Ray cluster a resumed job uses (true: a local one, a string: its address, None:
            none): the user's setting or command line, never a file in the workspace.
    """

    def __init__(self, roots: list[str | os.PathLike] | None = None, notify: Notify | None = None,
                 trusted: bool = False, vector_uri: str | None = None, ray: bool | str | None = None):
        self.trusted = trusted
        self.vector_uri = vector_uri or None
        self.ray = ray or None
        self.notify: Notify = notify or (lambda m, p: None)
        self.runner = JobRunner(self.notify, on_end=lambda job: self._runs.pop(job.path, None), code_check=self._code_check)
        self.jobs = self.runner.jobs
        self._runs: dict[Path, TrainingDynamics] = {}
        self._grown_checked: dict[Path, float] = {}  # when each open run was last checked for new epochs
        self._derived: dict[tuple, Any] = {}
        self._open_results: dict[tuple, VisResults] = {}
        self.set_roots(roots)

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

    def _check_not_locked(self, path: Path, method: str) -> None:
        """Refuse (BUSY) when another process (say ``ttvis visualize``) writes these results."""
        from ttvis.dynamics.lock import holder

        who = holder(path, method)
        if who is not None:
            raise ApiError(BUSY, f"{path}: {method} results are being written by pid {who.get('pid', '?')} "
                                 f"({who.get('command', 'another ttvis process')}); wait for it to finish or stop it")

    def _check_trust(self, path: Path, needs_code: bool) -> None:
        """Refuse (UNTRUSTED) a request that would import the run's ``model.py`` when the
        workspace is not trusted."""
        if needs_code and not self.trusted:
            raise ApiError(UNTRUSTED, f"{path}: this would import and run the run's model.py (your subject model's code), "
                                      "and the workspace is not trusted. Trust the workspace (VS Code: Manage Workspace Trust; "
                                      "browser: restart with `ttvis serve --trust`) and try again")

    def set_trust(self, trusted: bool) -> None:
        """Allow (or forbid) importing runs' ``model.py`` from now on, in new requests and in the
        jobs already running (each import asks :meth:`_code_check`)."""
        self.trusted = bool(trusted)

    def _code_check(self, path: Path) -> str | None:
        """The code gate of this server's requests and jobs (:func:`ttvis.dynamics.subject.code_gate`):
        None when the workspace is trusted now, else why ``path`` may not be imported."""
        if self.trusted:
            return None
        return ("the workspace is not trusted, so the run's code is not imported. Trust the workspace (VS Code: Manage "
                "Workspace Trust; browser: restart with `ttvis serve --trust`) and start again")

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

    # ---- methods ----------------------------------------------------------------
    def discover(self, params: dict) -> dict:
        """``ttvis/discover {roots?}`` -> ``{runs: [summary, ...]}`` below the roots (default: all roots)."""
        roots = params.get("roots") or [str(r) for r in self.roots]
        if not isinstance(roots, list):
            raise ApiError(INVALID_PARAMS, "params.roots: expected a list of folder paths")
        runs = []
        for root in roots:
            base = self._allowed(root)
            for p in find_runs([base]):
                try:
                    runs.append(self._summary(self._run(str(p), fresh=True)))
                except ApiError as exc:
                    runs.append({"name": p.name, "path": str(p), "error": exc.message})
        return {"runs": runs}

    def _summary(self, run: TrainingDynamics) -> dict:
        s = run.summary()
        s["methods"] = self._methods_state(run)
        return s

    def _methods_state(self, run: TrainingDynamics) -> dict:
        out: dict[str, Any] = {}
        vis = run.path / "visualize"
        # result folders, and the methods some process is writing now (a lock, perhaps before any folder)
        names = sorted({d.name if d.is_dir() else d.stem for d in vis.iterdir()
                        if (d.is_dir() and "." not in d.name) or (d.suffix == ".lock" and "." not in d.stem)}) if vis.is_dir() else []
        from ttvis.dynamics.history import generations
        from ttvis.dynamics.lock import holder

        for name in names:
            res = self._vis(run, name)
            ep = res.epochs()
            try:
                final = (res.eval().get("summary") or {}).get("final") or {}
            except DynamicsError:
                final = {}
            planned = res.planned_epochs()
            state = {"epochs": ep, "state": "trained" if ep else "not trained",
                     "npr": final.get("npr_train"), "ppr": final.get("ppr_train"),
                     "planned": len(planned) if planned else len(ep)}
            who = holder(run.path, name)
            if who is not None:
                state.update({"state": "training", "by": who.get("command"), "pid": who.get("pid")})
            state["history"] = [{k: g[k] for k in ("name", "path", "started", "epochs", "planned", "complete")}
                                for g in generations(run.path, name)]
            out[name] = state
        from ttvis.server.jobs import interrupted_jobs

        for _, name, req in interrupted_jobs([run.path]):  # a stopped server's job, not resumed (yet)
            out.setdefault(name, {"epochs": [], "state": "not trained", "npr": None, "ppr": None})
            out[name]["pendingJob"] = {
                "kind": "watch" if req.get("kind") == "watch" else "train", "epochs": req.get("epochs") or [],
                "note": str(run.path / "visualize" / f"{name}.job.json"),
                "resumes": "when the server starts or restarts" if self.trusted else "when the workspace is trusted"}
        job = self._job_for(run.path)
        if job:
            out.get(job.method, {}).pop("pendingJob", None)
            out.setdefault(job.method, {"epochs": [], "npr": None, "ppr": None})
            out[job.method].update({"state": "watching" if job.kind == "watch" else "training", "percentage": job.percentage,
                                    "job": job.id, "done": job.epoch, "total": job.total, "stage": job.stage})
        return out

    def describe(self, params: dict) -> dict:
        """``ttvis/describe {path}`` -> the run's summary plus each method's params and eval summary."""
        run = self._run(params.get("path"), fresh=True)
        s = self._summary(run)
        for name, state in s["methods"].items():
            res = self._vis(run, name)
            try:
                state["params"] = res.params()
                state["eval"] = res.eval().get("summary")
            except DynamicsError as exc:
                state["error"] = str(exc)
        from ttvis.render.palette import hex_colors

        s["colors"] = hex_colors(max(run.n_classes, 1))
        s["hasSprites"] = run.has_sprites
        lines, text_error = self._text(run)
        s["hasText"] = lines is not None
        if text_error:
            s["textError"] = text_error
        return s

    def epoch(self, params: dict) -> dict:
        """``ttvis/epoch {path, method, epoch}`` -> projection, predictions, labels, split, scale,
        background and metrics of one epoch (arrays as base64, see :mod:`ttvis.server.encoding`).
        Everything read from a file is kept encoded, keyed by that file's mtime, so a repeated
        fetch costs a few ``stat`` calls (a 50k-sample epoch is 1.7 MB of JSON)."""
        run = self._run(params.get("path"), params.get("epoch"))
        method = self._method(params.get("method", "DVI"))
        res = self._results(run, method)
        done = res.epochs()
        e = self._epoch_of(run, res, params.get("epoch"), done)
        try:
            # positions and their encoding under one stamp (a file replaced between two lookups
            # must not leave the old positions cached under the new file's stamp)
            xy, xy_wire = self._cached(("projb64", run.path, method, e, (res.projection_path(e),)),
                                       lambda: (lambda a: (a, encode_array(a)))(res.projection(e)))
            scale = self._cached(("scale", run.path, method, e, (res.scale_path(e),)), lambda: res.scale(e))
            metrics = self._cached(("eval", run.path, method, (res.eval_path,)), res.eval)["epochs"].get(str(e), {})
        except DynamicsError as exc:
            raise ApiError(BAD_RUN, str(exc)) from None
        pred = None
        if run.has_predictions:
            def wire() -> tuple[dict, dict]:
                pc = self._pred_conf(run, e)
                return encode_array(pc[0], "int32"), encode_array(pc[1], "float32")

            pred = self._cached(("predb64", run.path, e, tuple(run.prediction_files(e))), wire)
        static = self._cached(("static", run.path, ()), lambda: {
            "label": encode_array(run.labels, "int32"),
            "train": encode_array(run.split_mask(), "uint8"),
        })
        bg = self._cached(("bg", run.path, method, e, (res.background_path(e),)), lambda: encode_bytes(res.background_png(e)))
        return {
            "path": str(run.path), "method": method, "epoch": e, "epochs": done,
            "projection": xy_wire,
            "predicted": pred[0] if pred else None,
            "confidence": pred[1] if pred else None,
            "label": static["label"], "train": static["train"],
            "scale": scale.tolist() if scale is not None else _bounds(xy),
            "background": bg,
            "metrics": _jsonable(dict(metrics)),
        }

    def sample(self, params: dict) -> dict:
        """``ttvis/sample {path, index, method?}`` -> label, sprite or text, and per-epoch
        predicted class, confidence and 2-D position (its trajectory)."""
        run = self._run(params.get("path"))
        i = _index(params.get("index"), run.n_samples)
        try:
            sprite, sprite_error = encode_bytes(run.sprite_png(i)), None
        except DynamicsError as exc:  # a bad or out-of-run thumbnail: say so, never send it
            sprite, sprite_error = None, str(exc)
        text, text_error = self._text(run)  # a bad text file: no text, and why (never a failed request)
        out: dict[str, Any] = {
            "index": i, "label": int(run.labels[i]),
            "className": run.classes[run.labels[i]] if run.labels[i] >= 0 else None,
            "split": "train" if run.split_mask()[i] else "test",
            "sprite": sprite, "spriteError": sprite_error, "text": text[i] if text is not None else None, "textError": text_error,
            "epochs": list(run.epochs),
        }
        if run.has_predictions:
            pcs = [self._pred_conf(run, e) for e in run.epochs]
            out["predicted"] = [int(p[0][i]) for p in pcs]
            out["confidence"] = [float(p[1][i]) for p in pcs]
        method = params.get("method")
        if method:
            method = self._method(method)
            res = self._vis(run, method)
            done = res.epochs()
            pos = []
            for e in done:
                xy = self._cached(("proj", run.path, method, e, (res.projection_path(e),)), lambda e=e: res.projection(e))
                pos.append([float(v) for v in xy[i]])
            out["trajectory"] = {"epochs": done, "positions": pos}
        return out

    def neighbors(self, params: dict) -> dict:
        """``ttvis/neighbors {path, method, epoch, index, k?}`` -> k nearest neighbours of the
        sample in representation space and in 2-D at that epoch, and their overlap."""
        run = self._run(params.get("path"), params.get("epoch"))
        method = self._method(params.get("method", "DVI"))
        res = self._results(run, method)
        e = self._epoch_of(run, res, params.get("epoch"))
        i = _index(params.get("index"), run.n_samples)
        k = params.get("k", 15)
        if not isinstance(k, int) or not 1 <= k < run.n_samples:
            raise ApiError(INVALID_PARAMS, f"params.k: expected an integer in 1..{run.n_samples - 1}")
        x = run.representation(e)
        xy = self._cached(("proj", run.path, method, e, (res.projection_path(e),)), lambda: res.projection(e))
        high, low = _nearest(x, i, k), _nearest(xy, i, k)
        return {"index": i, "epoch": e, "k": k, "high": high.tolist(), "low": low.tolist(),
                "overlap": len(set(high.tolist()) & set(low.tolist())) / k}

    def metrics(self, params: dict) -> dict:
        """``ttvis/metrics {path, method}`` -> ``{method, k, epochs: [{epoch, npr_train, ...}], summary}``."""
        run = self._run(params.get("path"))
        method = self._method(params.get("method", "DVI"))
        res = self._results(run, method)
        try:
            ev = res.eval()
        except DynamicsError as exc:
            raise ApiError(BAD_RUN, str(exc)) from None
        rows = [{"epoch": int(e), **m} for e, m in sorted(ev.get("epochs", {}).items(), key=lambda kv: int(kv[0]))]
        return _jsonable({"method": method, "k": ev.get("k"), "epochs": rows, "summary": ev.get("summary")})

    def evaluate(self, params: dict) -> dict:
        """``ttvis/evaluate {path, method}`` -> recompute ``eval.json`` from the results on disk;
        returns the same as ``ttvis/metrics``."""
        from ttvis.pipeline import evaluate

        from ttvis.dynamics.lock import LockedError

        run = self._run(params.get("path"))
        method = self._method(params.get("method", "DVI"))
        self._results(run, method)
        if self._job_for(run.path):
            raise ApiError(BUSY, f"{run.path}: training is running; evaluate when it has finished")
        self._check_not_locked(run.path, method)
        self._check_trust(run.path, run.task == "classification" and run.model_source is not None)
        try:
            evaluate(run.path, method)
        except LockedError as exc:
            raise ApiError(BUSY, str(exc)) from None
        except DynamicsError as exc:
            raise ApiError(BAD_RUN, str(exc)) from None
        return self.metrics(params)

    # ---- per-sample training dynamics, events, search (debugging a run) --------------
    def _stats(self, run: TrainingDynamics) -> dict[str, np.ndarray]:
        from ttvis.dynamics.statistics import run_statistics

        files = tuple(f for e in run.epochs for f in run.prediction_files(e))
        try:
            return self._cached(("stats", run.path, files), lambda: run_statistics(run))
        except DynamicsError as exc:
            raise ApiError(BAD_RUN, str(exc)) from None

    def samples(self, params: dict) -> dict:
        """``ttvis/samples {path, sort?="aum", split?="train", top?=100}`` -> ``{rows: [{index, split, label,
        aum, confidence, variability, correctness, forgetting_events, first_learned_epoch, flips}],
        stats: {each statistic: wire array [N]}, epochs}``: the rows most suspicious first, and every
        sample's statistics (for the data map)."""
        from ttvis.dynamics.statistics import sample_table
        from ttvis.metrics.sample_dynamics import KEYS

        run = self._run(params.get("path"))
        top = params.get("top", 100)
        if not isinstance(top, int) or isinstance(top, bool) or top < 0:
            raise ApiError(INVALID_PARAMS, "params.top: expected a whole number >= 0 (0: all)")
        stats = self._stats(run)
        try:
            rows = sample_table(run, str(params.get("sort", "aum")), str(params.get("split", "train")), top, stats)
        except ValueError as exc:
            raise ApiError(INVALID_PARAMS, f"params.{exc}") from None
        wire = {k: encode_array(stats[k], "int32" if stats[k].dtype.kind == "i" else "float32") for k in KEYS}
        return {"rows": rows, "stats": wire, "epochs": stats["epochs"].tolist()}

    def _previous(self, res: VisResults, epoch: int) -> int | None:
        done = res.epochs()
        k = done.index(epoch)
        return done[k - 1] if k > 0 else None

    def events(self, params: dict) -> dict:
        """``ttvis/events {path, method, epoch, threshold?=0.3}`` -> what changed from the previous
        epoch with results to ``epoch``: ``{previous, epoch, flipped, confidence, moved_2d_only,
        moved_high_only: [indices], counts}`` (see :func:`ttvis.metrics.sample_dynamics.transition_events`)."""
        from ttvis.metrics.sample_dynamics import transition_events
        from ttvis.projection.parametric import normaliser

        run = self._run(params.get("path"), params.get("epoch"))
        method = self._method(params.get("method", "DVI"))
        res = self._results(run, method)
        e = self._epoch_of(run, res, params.get("epoch"))
        thr = params.get("threshold", 0.3)
        if not isinstance(thr, (int, float)) or isinstance(thr, bool) or not 0 <= thr <= 1:
            raise ApiError(INVALID_PARAMS, "params.threshold: expected a number in 0..1")
        prev = self._previous(res, e)
        if prev is None:
            return {"previous": None, "epoch": e, "flipped": [], "confidence": [], "moved_2d_only": [], "moved_high_only": [],
                    "counts": {}, "note": f"epoch {e} is the first with {method} results: no transition"}
        a, b = self._pred_conf(run, prev), self._pred_conf(run, e)
        try:
            xs = []
            for ep in (prev, e):
                x = run.representation(ep)
                mean, scale = normaliser(np.asarray(x[run.train_index], np.float32))
                xs.append((x - mean) / scale)
            mh = np.linalg.norm(xs[1] - xs[0], axis=1)
            ml = np.linalg.norm(res.projection(e) - res.projection(prev), axis=1)
        except DynamicsError as exc:
            raise ApiError(BAD_RUN, str(exc)) from None
        n = run.n_samples
        none = (np.zeros(n, np.int32), np.zeros(n, np.float32))
        (pp, cp), (pc, cc) = a or none, b or none
        ev = transition_events(pp, pc, cp, cc, mh, ml, float(thr))
        out = {k: v.tolist() for k, v in ev.items()}
        return {"previous": prev, "epoch": e, **out, "counts": {k: len(v) for k, v in out.items()}}

    def search(self, params: dict) -> dict:
        """``ttvis/search {path, query, method?, epoch?}`` -> ``{indices, count, query}``. The query is
        space-separated terms, all of which must hold: ``12``, ``10-50`` (indices), ``label:3`` or
        ``label:cat`` (class index or name), ``pred:5``, ``misclassified``, ``flipped`` (predicted class
        changed since the previous epoch with results), ``train``/``test``, and any other word is
        searched in the samples' text (text runs)."""
        run = self._run(params.get("path"))
        q = params.get("query")
        if not isinstance(q, str) or not q.strip():
            raise ApiError(INVALID_PARAMS, "params.query: expected search terms, e.g. 10-50, label:3, misclassified, flipped")
        epoch = params.get("epoch", run.epochs[-1])
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch not in run.epochs:
            raise ApiError(INVALID_PARAMS, f"params.epoch: expected a recorded epoch ({_ranges(run.epochs)})")
        keep = np.ones(run.n_samples, bool)
        pc = self._pred_conf(run, epoch)
        names = {c.lower(): i for i, c in enumerate(run.classes)}

        def cls(v: str) -> int:
            if v.lower() in names:
                return names[v.lower()]
            if v.isdigit() and int(v) < run.n_classes:
                return int(v)
            raise ApiError(INVALID_PARAMS, f"params.query: {v!r} is not a class (classes: {', '.join(run.classes[:20])})")

        words = []
        for term in q.split():
            t = term.lower()
            if re.fullmatch(r"\d+", t):
                m = np.zeros(run.n_samples, bool)
                if int(t) < run.n_samples:
                    m[int(t)] = True
            elif re.fullmatch(r"\d+-\d+", t):
                lo, hi = map(int, t.split("-"))
                m = (np.arange(run.n_samples) >= lo) & (np.arange(run.n_samples) <= hi)
            elif t.startswith("label:"):
                m = run.labels == cls(term[6:])
            elif t.startswith(("pred:", "predicted:")):
                if pc is None:
                    raise ApiError(INVALID_PARAMS, "params.query: this run has no predictions")
                m = pc[0] == cls(term.split(":", 1)[1])
            elif t in ("misclassified", "wrong"):
                m = (pc[0] != run.labels) if pc is not None else np.zeros(run.n_samples, bool)
            elif t in ("flipped", "changed"):
                k = run.epochs.index(epoch)
                before = self._pred_conf(run, run.epochs[k - 1]) if k > 0 else None
                m = (before[0] != pc[0]) if (before is not None and pc is not None) else np.zeros(run.n_samples, bool)
            elif t in ("train", "test"):
                m = run.split_mask() if t == "train" else ~run.split_mask()
            else:
                words.append(t)
                continue
            keep &= m
        if words:
            lines, text_error = self._text(run)
            if lines is None:
                raise ApiError(INVALID_PARAMS, f"params.query: {' '.join(words)!r}: not a search term (index, a-b, label:, pred:, "
                                               "misclassified, flipped, train, test), and this run has no text to search"
                                               + (f" ({text_error})" if text_error else ""))
            low = [s.lower() for s in lines]
            keep &= np.array([all(w in low[i] for w in words) if i < len(low) else False for i in range(run.n_samples)])
        idx = np.flatnonzero(keep)
        return {"indices": idx.tolist(), "count": int(idx.size), "query": q}

    def similar(self, params: dict) -> dict:
        """``ttvis/similar {path, epoch, index? | indices?, k?=10}`` -> ``{epoch, query: [indices], neighbours:
        [{index, distance}]}``: the samples nearest (Euclidean, representation space) to a sample or to a
        selection's mean at ``epoch``, nearest first, the query excluded; from the run's vector index
        (:mod:`ttvis.dynamics.vectors`; Milvus Lite, or ``vector_uri``)."""
        from ttvis.dynamics.vectors import VectorIndex

        run = self._run(params.get("path"), params.get("epoch"))
        e = params.get("epoch")
        if not isinstance(e, int) or isinstance(e, bool) or e not in run.epochs:
            raise ApiError(INVALID_PARAMS, f"params.epoch: expected a recorded epoch ({_ranges(run.epochs)})")
        q = params.get("indices", [params.get("index")] if "index" in params else None)
        if not isinstance(q, list) or not q or any(not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < run.n_samples for i in q):
            raise ApiError(INVALID_PARAMS, f"params.index / params.indices: expected sample indices in 0..{run.n_samples - 1}")
        k = params.get("k", 10)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= min(1000, run.n_samples - len(set(q))):
            raise ApiError(INVALID_PARAMS, f"params.k: expected 1..{min(1000, run.n_samples - len(set(q)))}")
        try:
            hits = VectorIndex(run, self.vector_uri).similar(e, q, k)
        except DynamicsError as exc:
            raise ApiError(BAD_RUN, str(exc)) from None
        except RuntimeError as exc:
            raise ApiError(BAD_RUN, str(exc)) from None
        return {"epoch": e, "query": q, "neighbours": hits}

    def methods(self, params: dict) -> dict:
        """``ttvis/methods`` -> ``{methods: [{name, description, paper, hasInverse, schema}], run: schema}``:
        every registered method with the JSON Schema of its parameters, and the JSON Schema
        of the run settings (seed, device, resolution, fit_on) that ``ttvis/train`` takes as ``run``."""
        from ttvis.projection.registry import methods
        from ttvis.projection.schema import RunParams, json_schema

        return {"methods": [cls.describe() for cls in methods().values()], "run": json_schema(RunParams)}

    # ---- training -----------------------------------------------------------------
    def train(self, params: dict, progress: ProgressSink | None = None) -> dict:
        """``ttvis/train {path, method, params?, run?, epochs?, restart?, ray?}`` -> ``{job, path, method, epochs}``
        at once; trains in the background (:class:`~ttvis.server.jobs.JobRunner`).

        ``params`` are the method's (its schema in ``ttvis/methods``), ``run`` the run settings;
        ``ray`` (true or an address) spreads the independent per-epoch work over a Ray cluster.
        The same request after a stop continues the stopped run (``restart: true`` starts over).
        One job per folder at a time; a folder another process writes is refused (BUSY).
        """
        from ttvis.pipeline import parse_epochs
        from ttvis.projection.registry import get_method
        from ttvis.projection.schema import ParamError, RunParams, validate

        try:
            run = self._run(params.get("path"), fresh=True)
            path, available = run.path, run.epochs
            needs_code = run.model_source is not None and (run.task == "classification" or run.summary()["needsPreprocess"])
        except ApiError as exc:
            # a run whose arrays `ttvis preprocess` can compute trains too: the job preprocesses first
            path = self._allowed(params.get("path"))
            available = _preprocessable_epochs(path)
            if exc.code != BAD_RUN or not available:
                raise
            needs_code = True
        method = self._method(params.get("method", "DVI"))
        values: dict[str, dict] = {}
        for key in ("params", "run"):
            v = params.get(key) or {}
            if not isinstance(v, dict):
                raise ApiError(INVALID_PARAMS, f"params.{key}: expected an object of {'method parameters' if key == 'params' else 'run settings'}")
            values[key] = v
        for key, cls in (("params", get_method(method).Params), ("run", RunParams)):
            try:
                validate(cls, values[key])
            except ParamError as exc:
                raise ApiError(INVALID_PARAMS, exc.message(f"params.{key}.{exc.field}")) from None
        try:
            chosen = parse_epochs(params.get("epochs"), available)
        except ValueError as exc:
            raise ApiError(INVALID_PARAMS, str(exc)) from None
        ray = params.get("ray")
        if ray is not None and not isinstance(ray, (bool, str)):
            raise ApiError(INVALID_PARAMS, "params.ray: expected true (a local Ray cluster) or a cluster address")
        self._check_trust(path, needs_code)
        with self.runner.lock:
            other = self._job_for(path)
            if other is not None:
                raise ApiError(BUSY, f"{path}: {other.method} training job {other.id} is already running on this folder; wait or cancel it")
            self._check_not_locked(path, method)
            job = self.runner.start(path, method, values["params"], values["run"], chosen, progress,
                                    restart=bool(params.get("restart")), ray=ray or None)
        return {"job": job.id, "path": str(path), "method": method, "epochs": chosen}

    def watch(self, params: dict, progress: ProgressSink | None = None) -> dict:
        """``ttvis/watch {path, method, params?, run?}`` -> ``{job, path, method}`` at once: follow the run
        while it is being recorded, projecting each new epoch with a per-epoch method as soon as it is
        complete (``ttvis/epochReady`` for each), until ``ttvis/cancel``. The folder may hold no epoch yet."""
        from ttvis.projection.registry import get_method
        from ttvis.projection.schema import ParamError, RunParams, validate

        path = self._allowed(params.get("path"))
        if not path.is_dir():
            raise ApiError(NOT_FOUND, f"{path}: no such folder")
        method = self._method(params.get("method", "DVI"))
        cls = get_method(method)
        if not cls.per_epoch:
            raise ApiError(INVALID_PARAMS, f"params.method: {method} is fitted on all epochs at once; following a run being "
                                           "recorded needs a per-epoch method")
        values = {k: params.get(k) or {} for k in ("params", "run")}
        for key, schema in (("params", cls.Params), ("run", RunParams)):
            if not isinstance(values[key], dict):
                raise ApiError(INVALID_PARAMS, f"params.{key}: expected an object")
            try:
                validate(schema, values[key])
            except ParamError as exc:
                raise ApiError(INVALID_PARAMS, exc.message(f"params.{key}.{exc.field}")) from None
        self._check_trust(path, any(path.glob("model.py")) or any(path.glob("*/model.py")))
        with self.runner.lock:
            other = self._job_for(path)
            if other is not None:
                raise ApiError(BUSY, f"{path}: {other.method} job {other.id} already runs on this folder; wait or cancel it")
            self._check_not_locked(path, method)
            job = self.runner.start(path, method, values["params"], values["run"], [], progress, kind="watch")
        return {"job": job.id, "path": str(path), "method": method}

    def cancel(self, params: dict) -> dict:
        """``ttvis/cancel {job}`` -> ``{job, status}``; finished epochs are kept."""
        jid = params.get("job")
        if not isinstance(jid, str):
            raise ApiError(INVALID_PARAMS, f"params.job: expected a job id string (from ttvis/train), found {jid!r}")
        job = self.jobs.get(jid)
        if job is None:
            raise ApiError(INVALID_PARAMS, f"unknown job {jid!r}; running: {[j.id for j in self.jobs.values() if j.status == 'running']}")
        job.cancel.set()
        return {"job": job.id, "status": "cancelling" if job.status == "running" else job.status}

    def resume_jobs(self) -> list[dict]:
        """Start again the jobs a server that stopped left unfinished under the roots (a training
        job continues after its last finished epoch, a watch follows again); each answers like
        ``ttvis/train``. Only in a trusted workspace: a job note is a file in the workspace, and
        an untrusted folder must not start work (the notes stay, are listed as ``pendingJob`` in
        ``ttvis/discover``/``describe``, and resume when trust is granted: call this again).
        Each resumed job is announced (``window/showMessage`` and the log) naming run and method.
        A note's ``ray`` is ignored: a resumed job uses this server's :attr:`ray` setting."""
        from ttvis.server.discover import find_runs
        from ttvis.server.jobs import interrupted_jobs

        found = interrupted_jobs(list(find_runs(self.roots)))
        if found and not self.trusted:
            names = ", ".join(f"{m} on {r.name}" for r, m, _ in found)
            log.info("not resuming %d unfinished job(s) (%s): the workspace is not trusted; they resume when it is",
                     len(found), names)
            return []
        started = []
        for run, method, req in found:
            kind = "watch" if req.get("kind") == "watch" else "train"
            q = {"path": str(run), "method": method, "params": req.get("params") or {}, "run": req.get("run") or {}}
            try:
                if kind == "watch":
                    r = self.watch(q)
                else:
                    r = self.train({**q, "epochs": req.get("epochs") or None, "ray": self.ray})
            except ApiError as exc:
                log.info("did not resume the %s job on %s: %s", method, run, exc.message)
                continue
            started.append(r)
            text = (f"ttvis: resuming the {method} {'watch' if kind == 'watch' else 'training'} of {run.name} ({run}) that a "
                    f"stopped server left unfinished (job {r['job']}; cancel it to stop)")
            log.info("%s", text)
            self.notify("window/showMessage", {"type": 3, "message": text})
        return started

    def stop_jobs(self, timeout: float = 1.5) -> int:
        """Cancel every running job and wait up to ``timeout`` s for them (see :meth:`JobRunner.stop_all`)."""
        return self.runner.stop_all(timeout)

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until a job ends (for tests and scripts)."""
        return self.runner.wait(job_id, timeout)


def _request(fn: Callable) -> Callable:
    """Wrap a ``ttvis/*`` method: every ``model.py`` import it makes asks the server's current
    trust (:func:`ttvis.dynamics.subject.code_gate`), a refused one answers UNTRUSTED, and any
    malformed run file that reaches it (:class:`DynamicsError`) answers BAD_RUN naming the file
    (never an internal error)."""
    from ttvis.dynamics.subject import UntrustedCodeError, code_gate

    @functools.wraps(fn)
    def request(self: TtvisApi, params: dict, *args: Any, **kwargs: Any) -> dict:
        try:
            with code_gate(self._code_check):
                return fn(self, params, *args, **kwargs)
        except UntrustedCodeError as exc:
            raise ApiError(UNTRUSTED, str(exc)) from None
        except DynamicsError as exc:
            raise ApiError(BAD_RUN, str(exc)) from None

    return request


for _name in ("discover", "describe", "epoch", "sample", "neighbors", "metrics", "evaluate", "samples", "events", "search",
              "similar", "train", "watch"):
    setattr(TtvisApi, _name, _request(getattr(TtvisApi, _name)))


# ---- helpers --------------------------------------------------------------------
def _preprocessable_epochs(p: Path) -> list[int]:
    """The recorded epochs of ``p`` when ``ttvis preprocess`` can compute all its missing
    arrays (model.py, every checkpoint and the inputs are there), else []."""
    from ttvis.dynamics.preprocess import pending

    try:
        found = pending(p)
    except DynamicsError:
        return []
    return found[0].epochs() if found else []


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


_jsonable = jsonable

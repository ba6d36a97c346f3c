"""Jobs and the trust gate: ``ttvis/train``, ``ttvis/watch``, ``ttvis/cancel``, ``ttvis/evaluate``,
resuming a stopped server's jobs, and the checks that refuse a request that would import a
run's ``model.py`` in an untrusted workspace (UNTRUSTED) or write results another process
writes (BUSY). A mixin of :class:`~ttvis.server.api.TtvisApi`."""

from __future__ import annotations

import logging
from pathlib import Path

from ttvis.dynamics.errors import DynamicsError
from ttvis.server.core import BAD_RUN, BUSY, INVALID_PARAMS, NOT_FOUND, UNTRUSTED, ApiCore, ApiError
from ttvis.server.jobs import Job, ProgressSink

log = logging.getLogger("ttvis.server")


class JobsMixin(ApiCore):
    """Training/watch jobs, ``ttvis/evaluate`` and the trust gate (see :class:`~ttvis.server.api.TtvisApi`).
    ``evaluate`` answers with ``self.metrics`` (:class:`~ttvis.server.views.ViewsMixin`)."""

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

"""The server's job runner: training jobs in background threads, their progress, cancellation.

A job runs :func:`ttvis.pipeline.visualize` and reports through a :class:`ProgressSink`
(LSP ``$/progress`` begin/report/end) and through notifications broadcast to every client:
``ttvis/trainProgress`` as each step starts, ``ttvis/epochReady`` as each epoch lands on
disk, ``ttvis/trainFinished`` at the end. One job per run folder at a time.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

log = logging.getLogger("ttvis.server")
Notify = Callable[[str, dict], None]


class ProgressSink(Protocol):
    """Where a job reports work-done progress (LSP ``$/progress`` begin/report/end)."""

    def begin(self, title: str, message: str) -> None:
        """Work starts (percentage 0)."""

    def report(self, percentage: int, message: str) -> None:
        """Work advanced to ``percentage`` (0..100)."""

    def end(self, message: str) -> None:
        """Work ended (done, cancelled or failed, said in ``message``)."""


@dataclass
class Job:
    """A background training job.

    Attributes:
        id: ``job-N``; path: the run; method: the method's name; status: running | done |
        cancelled | failed; epoch: epochs finished; total: epochs chosen; stage: the step
        now running; error: the failure's message.
    """

    id: str
    path: Path
    method: str
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    status: str = "running"
    epoch: int = 0
    total: int = 0
    error: str | None = None
    code: int | None = None  # the JSON-RPC error code of a failure (-32006: the workspace's code may not run)
    stage: str = "starting"
    kind: str = "train"  # train | watch (follow a run being recorded)

    @property
    def percentage(self) -> int:
        """Finished share of the job's epochs, 0..100."""
        return int(100 * self.epoch / self.total) if self.total else 0


class JobRunner:
    """Starts, tracks and stops training jobs.

    Args:
        notify: ``notify(method, params)`` broadcasts a notification to every client.
        on_end: called with each job when it ends (the API drops its cached view of the run).
        code_check: ``code_check(model_py) -> None | reason``, asked by every import of a run's
            ``model.py`` in a job's thread, at the moment of the import
            (:func:`ttvis.dynamics.subject.code_gate`): the server's current workspace trust.
    """

    def __init__(self, notify: Notify, on_end: Callable[[Job], None] | None = None,
                 code_check: Callable[[Path], str | None] | None = None):
        self.notify = notify
        self.on_end = on_end or (lambda job: None)
        self.code_check = code_check
        self.jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self.lock = threading.Lock()
        self.closing = False

    def running_for(self, path: Path) -> Job | None:
        """The running job on ``path``, if any."""
        return next((j for j in self.jobs.values() if j.path == path and j.status == "running"), None)

    def start(self, path: Path, method: str, params: dict, run: dict, epochs: list[int],
              progress: ProgressSink | None, restart: bool = False, kind: str = "train", ray: Any = None) -> Job:
        """Start a job (the caller checked that none runs on ``path``, under :attr:`lock`);
        ``kind="watch"`` follows the run as it is recorded until cancelled (``epochs`` is ignored).
        The job's note (``visualize/<METHOD>.job.json``) never holds ``ray``: a cluster address
        comes from the user (request, settings, command line), never from a file in the workspace."""
        job = Job(id=f"job-{next(self._ids)}", path=path, method=method, total=len(epochs), kind=kind)
        self.jobs[job.id] = job
        _write_note(path, method, {"kind": kind, "method": method, "params": params, "run": run, "epochs": epochs})
        job.thread = threading.Thread(target=self._run, args=(job, params, run, epochs, progress, restart, ray), name=job.id, daemon=True)
        job.thread.start()
        return job

    def _run(self, job: Job, params: dict, run: dict, epochs: list[int], progress: ProgressSink | None, restart: bool,
             ray: Any = None) -> None:
        from ttvis.dynamics.errors import DynamicsError
        from ttvis.dynamics.lock import LockedError
        from ttvis.dynamics.subject import UntrustedCodeError, code_gate
        from ttvis.pipeline import visualize, watch
        from ttvis.projection.base import Cancelled
        from ttvis.server.api import UNTRUSTED

        if progress:
            progress.begin(f"{'Following' if job.kind == 'watch' else 'Training'} {job.method} on {job.path.name}",
                           f"epoch 0/{job.total}" if job.kind == "train" else "waiting for epochs")
        where = {"path": str(job.path), "method": job.method, "job": job.id}

        def on_epoch(epoch: int, total: int, metrics: dict) -> None:
            job.epoch += 1
            if job.kind == "watch":
                job.total = max(job.total, total)
            if progress:
                progress.report(job.percentage, f"epoch {job.epoch}/{total} (E{epoch})")
            self.notify("ttvis/epochReady", {**where, "epoch": epoch, "done": job.epoch, "total": total,
                                             "metrics": jsonable({k: v for k, v in metrics.items() if k != "training"})})

        def on_stage(epoch: int, stage: str) -> None:
            job.stage = stage
            msg = f"epoch {min(job.epoch + 1, job.total)}/{job.total}" + (f" (E{epoch})" if epoch else "") + f": {stage}"
            if progress:
                progress.report(job.percentage, msg)
            self.notify("ttvis/trainProgress", {**where, "epoch": epoch, "done": job.epoch, "total": job.total,
                                                "stage": stage, "percentage": job.percentage, "message": msg})

        def on_message(text: str) -> None:
            log.info("%s: %s", job.id, text)

        t0 = time.perf_counter()
        gate = code_gate(self.code_check) if self.code_check is not None else contextlib.nullcontext()
        try:
            gate.__enter__()  # every model.py import in this thread asks the current trust
            if job.kind == "watch":
                watch(job.path, job.method, params, run, stop=job.cancel, on_epoch=on_epoch, on_message=on_message,
                      on_stage=on_stage)
                raise Cancelled()  # watching ends only when it is stopped
            from ttvis.parallel import executor

            ex = executor(ray)
            try:
                visualize(job.path, job.method, params, epochs, on_epoch=on_epoch, on_message=on_message, cancel=job.cancel,
                          on_stage=on_stage, run=run, restart=restart, executor=ex)
            finally:
                ex.close()
            job.epoch = job.total  # a resumed run reports only the epochs it added
            job.status, msg = "done", f"done: {job.total} epochs in {time.perf_counter() - t0:.0f} s"
        except Cancelled:
            job.status = "cancelled"
            msg = (f"stopped following after {job.epoch} new epoch(s)" if job.kind == "watch"
                   else f"cancelled after {job.epoch}/{job.total} epochs (finished epochs kept)")
        except UntrustedCodeError as exc:  # the workspace's code may not run (now): say so with its own code
            job.status, job.error, job.code = "failed", str(exc), UNTRUSTED
            msg = f"failed: {job.error}"
        except (DynamicsError, ValueError, LockedError) as exc:  # the user's to fix: the message says how
            job.status, job.error = "failed", str(exc)
            msg = f"failed: {job.error}"
        except Exception as exc:  # report, never kill the server
            log.exception("training job %s failed", job.id)
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
            msg = f"failed: {job.error}"
        finally:
            gate.__exit__(None, None, None)
        log.info("%s %s: %s", job.id, job.status, msg)
        if not self.closing:  # a job stopped by the server's shutdown keeps its note: the next server resumes it
            _note_path(job.path, job.method).unlink(missing_ok=True)
        self.on_end(job)
        if progress:
            progress.end(msg)
        self.notify("ttvis/trainFinished", {**where, "status": job.status, "epochs": job.epoch, "message": msg, "error": job.error,
                                               **({"code": job.code} if job.code is not None else {})})

    def stop_all(self, timeout: float = 1.5) -> int:
        """Cancel every running job and wait up to ``timeout`` seconds in all for them to end
        (finished epochs stay on disk). Returns how many were running."""
        running = [j for j in self.jobs.values() if j.status == "running"]
        self.closing = True
        for j in running:
            j.cancel.set()
        deadline = time.monotonic() + timeout
        for j in running:
            if j.thread:
                j.thread.join(max(0.0, deadline - time.monotonic()))
        return len(running)

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until a job ends (for tests and scripts)."""
        job = self.jobs[job_id]
        if job.thread:
            job.thread.join(timeout)
        return job


def _note_path(path: Path, method: str) -> Path:
    """``visualize/<METHOD>.job.json``: what a running job was asked to do, kept until it ends."""
    return path / "visualize" / f"{method}.job.json"


def _write_note(path: Path, method: str, request: dict) -> None:
    from ttvis.dynamics import atomic

    try:
        atomic.save_json(_note_path(path, method), request)
    except OSError:
        log.warning("%s: cannot write the job note; the job will not resume after a server restart", path)


def interrupted_jobs(paths: list[Path]) -> list[tuple[Path, str, dict]]:
    """The jobs a server that died (or was stopped) left unfinished under ``paths``: runs with a
    ``visualize/<METHOD>.job.json`` whose results nobody is writing now. ``(run, method, request)``."""
    import json

    from ttvis.dynamics.lock import holder

    out = []
    for run in paths:
        vis = run / "visualize"
        for note in sorted(vis.glob("*.job.json")) if vis.is_dir() else []:
            method = note.name[: -len(".job.json")]
            if holder(run, method) is not None:
                continue
            try:
                req = json.loads(note.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(req, dict):
                out.append((run, method, req))
    return out


def jsonable(obj: Any) -> Any:
    """Numpy scalars/arrays and non-finite floats as plain JSON values."""
    from ttvis.dynamics.atomic import _json_safe

    return _json_safe(obj)

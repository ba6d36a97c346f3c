"""The ``ttvis/*`` methods, independent of transport (DESIGN.md "Protocol").

Each method takes a plain-dict ``params`` and returns a JSON-ready dict, or raises
:class:`ApiError` with a message a user can act on. Training jobs run in the
:class:`~ttvis.server.jobs.JobRunner`; the methods and their parameter schemas come from
the registry (:mod:`ttvis.projection.registry`), so nothing here knows a method by name.

:class:`TtvisApi` is one object assembled from mixins, one module per job, all sharing the
state and checks of :class:`~ttvis.server.core.ApiCore` (roots and the path check, open runs
and results, the derived-array cache; the error codes and :class:`ApiError` live there too and
are re-exported here):

- :mod:`ttvis.server.runs` (:class:`RunsMixin`): ``discover``, ``describe``, ``methods`` and
  each run's per-method state;
- :mod:`ttvis.server.views` (:class:`ViewsMixin`): the per-epoch views ``epoch``, ``sample``,
  ``neighbors``, ``metrics``, ``events``, ``search``;
- :mod:`ttvis.server.sample_api` (:class:`SamplesMixin`): per-sample dynamics ``samples``, ``similar``;
- :mod:`ttvis.server.training` (:class:`JobsMixin`): ``train``, ``watch``, ``cancel``,
  ``evaluate``, resuming jobs, and the trust gate.

Mixins (not collaborating objects) because the methods share one state and call each other
through ``self`` (``evaluate`` answers with ``metrics``, ``resume_jobs`` calls ``train``/``watch``),
so each stays as it was. This module sets that state up (:meth:`TtvisApi.__init__`) and wraps
every request method in the trust/bad-file guard (:func:`_request`).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Callable

from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.folder import TrainingDynamics
from ttvis.dynamics.results import VisResults
from ttvis.server.core import (  # the error codes and limits are re-exported (__all__)
    BAD_RUN, BUSY, FORBIDDEN, INVALID_PARAMS, NO_RESULTS, NOT_FOUND, RECHECK_S, TEXT_LIMIT, UNTRUSTED, ApiCore, ApiError,
)
from ttvis.server.jobs import JobRunner, Notify
from ttvis.server.runs import RunsMixin
from ttvis.server.sample_api import SamplesMixin
from ttvis.server.training import JobsMixin
from ttvis.server.views import ViewsMixin

__all__ = ["TtvisApi", "ApiError", "INVALID_PARAMS", "NOT_FOUND", "FORBIDDEN", "NO_RESULTS", "BUSY", "BAD_RUN",
           "UNTRUSTED", "RECHECK_S", "TEXT_LIMIT"]


class TtvisApi(RunsMixin, ViewsMixin, SamplesMixin, JobsMixin, ApiCore):
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

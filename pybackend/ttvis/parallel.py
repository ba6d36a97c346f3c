"""Where independent work runs: in this process, or spread over a Ray cluster (``--ray [ADDRESS]``).

The pipeline hands independent per-epoch work (a method's per-epoch preparation: kNN graph,
fuzzy complex, boundary samples; territories and metrics of finished epochs; preprocessing
from checkpoints) and ``ttvis compare``'s methods to an :class:`Executor`. The local one runs
each task when its result is asked for, in order; :class:`RayExecutor` submits them to Ray
(``ray.remote``) so they run on the cluster's workers at once. Tasks are module-level
functions of plain arguments (paths, dicts, arrays): each worker opens the run itself. The
results are the same either way: every task is deterministic in its arguments.

Ray is optional (``pip install ttvis[ray]``); without it nothing here needs it.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol


class Task(Protocol):
    """A submitted task; ``result()`` blocks until it is done and returns (or raises) its outcome."""

    def result(self) -> Any:
        """The task's return value (its exception is raised here)."""


class _Deferred:
    """A local task: runs on first ``result()``."""

    def __init__(self, fn: Callable, args: tuple, kwargs: dict):
        self.fn, self.args, self.kwargs, self._done, self._value = fn, args, kwargs, False, None

    def result(self) -> Any:
        if not self._done:
            self._value, self._done = self.fn(*self.args, **self.kwargs), True
        return self._value


class Executor:
    """Runs tasks in this process, each when its result is asked for (the default).

    Attributes:
        parallelism: how many tasks may usefully be in flight at once (1 here).
    """

    parallelism = 1
    name = "local"

    def submit(self, fn: Callable, *args: Any, **kwargs: Any) -> Task:
        """Queue ``fn(*args, **kwargs)``; returns its :class:`Task`."""
        return _Deferred(fn, args, kwargs)

    def close(self) -> None:
        """Release the executor's resources."""


class _RayTask:
    def __init__(self, ref: Any):
        self.ref = ref

    def result(self) -> Any:
        import ray

        return ray.get(self.ref)


class RayExecutor(Executor):
    """Runs tasks on a Ray cluster: the one at ``address`` (``ray://host:10001`` or ``host:6379``),
    or, without one, a local cluster of ``num_cpus`` worker slots started for this process.

    Raises:
        ImportError: Ray is not installed (``pip install ttvis[ray]``).
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        try:
            import ray
        except ImportError:
            raise ImportError("--ray needs Ray: pip install 'ttvis[ray]' (or pip install ray)") from None
        if not ray.is_initialized():
            kw: dict[str, Any] = {"ignore_reinit_error": True, "include_dashboard": False, "log_to_driver": False,
                                  "logging_level": "ERROR"}
            if address:
                ray.init(address=address, **kw)
            else:
                ray.init(num_cpus=num_cpus, **kw)
            self._started = True
        else:
            self._started = False
        self._remote: dict[Callable, Any] = {}
        self.parallelism = max(1, int(ray.cluster_resources().get("CPU", 1)))

    def submit(self, fn: Callable, *args: Any, **kwargs: Any) -> Task:
        import ray

        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = ray.remote(num_cpus=1)(fn)
        return _RayTask(remote.remote(*args, **kwargs))

    def close(self) -> None:
        import ray

        if self._started and ray.is_initialized():
            ray.shutdown()


def executor(ray: str | bool | None = None, num_cpus: int | None = None) -> Executor:
    """The executor for a ``--ray`` option: None/False -> local; True or ``""`` -> a local Ray
    cluster; an address -> that cluster."""
    if ray is None or ray is False:
        return Executor()
    return RayExecutor(None if ray is True or ray == "" else str(ray), num_cpus)

"""A recorded run as a method sees it: arrays and a prediction head, no folders
(:class:`~ttvis.projection.base.EpochSource`).

The prediction head is built here, because building it reads the run: the recorded
subject model (``model.py`` + ``model/E.pth``, imported only for a run the user asked to
process) when there is one, else a logistic regression fit to the recorded predictions.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Iterator

import numpy as np

from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.folder import TrainingDynamics
from ttvis.projection.head import PredictionHead, fallback_head


def prediction_head(run: TrainingDynamics, epoch: int, device: str = "cpu") -> PredictionHead | None:
    """The prediction head for ``epoch``; None for a run without classes (representation task).

    Raises:
        DynamicsError: a recorded ``model.py`` / checkpoint that cannot be loaded.
    """
    from ttvis.dynamics.subject import load_subject_model

    if run.task != "classification":
        return None
    model = load_subject_model(run, epoch, device)
    if model is not None:
        return PredictionHead(model.prediction, run.n_classes, "subject model",
                              f"subject model {type(model).__name__} from model.py + model/{epoch}.pth", device)
    return fallback_head(run.representation(epoch), run.predicted_class(epoch), run.n_classes, device)


class RunSource:
    """:class:`~ttvis.projection.base.EpochSource` over a :class:`TrainingDynamics`.

    Args:
        run: the opened run.
        fit_on: ``"train"`` (the training samples) or ``"all"``.
        device: torch device of the prediction heads.
        on_message: hears, once per kind, which prediction head is used.
        executor: where a method's per-epoch preparation runs (:mod:`ttvis.parallel`); a
            parallel one runs epochs ahead on its workers, each opening the run itself.

    Raises:
        DynamicsError: ``fit_on="train"`` on a run whose split has no training sample.
    """

    def __init__(self, run: TrainingDynamics, fit_on: str = "train", device: str = "cpu",
                 on_message: Callable[[str], None] | None = None, executor: Any = None):
        self.run, self.fit_on, self.executor = run, fit_on, executor
        self.epochs = list(run.epochs)
        self.n_samples, self.dim = run.n_samples, run.dim
        self.n_classes = run.n_classes if run.task == "classification" else 0
        self.fit_index = run.train_index if fit_on == "train" else np.arange(run.n_samples, dtype=np.int64)
        if self.fit_index.size < 3:
            raise DynamicsError(run.path, "at least 3 training samples to fit on (fit_on=train)",
                                f"{self.fit_index.size}; record a train/test split or use fit_on=all")
        self.device = device
        self._say = on_message
        self._said: set[str] = set()
        self._head: tuple[int, PredictionHead | None] | None = None

    def representation(self, epoch: int) -> np.ndarray:
        """float32 ``[N, D]`` (read-only)."""
        return self.run.representation(epoch)

    def head(self, epoch: int) -> PredictionHead | None:
        """The prediction head of ``epoch`` (the last one is kept)."""
        if self._head is None or self._head[0] != epoch:
            h = prediction_head(self.run, epoch, self.device)
            self._head = (epoch, h)
            if h is not None and h.source not in self._said and self._say:
                self._said.add(h.source)
                self._say(f"prediction head: {h.description}")
        return self._head[1]

    def spec(self) -> dict[str, Any]:
        """What a worker needs to open the same source: run path, roots, fit_on."""
        return {"path": str(self.run.path), "roots": [str(r) for r in self.run.roots], "fit_on": self.fit_on}

    def prepared(self, method: Any, epochs: list[int], on_stage: Callable[[int, str], None] | None = None) -> Iterator[tuple[int, dict]]:
        """``(epoch, method.prepare(self, epoch))`` for each epoch, in order. With a parallel
        executor, up to its parallelism + 1 epochs are prepared ahead on its workers."""
        ex = self.executor
        if ex is None or ex.parallelism <= 1:
            for e in epochs:
                yield e, method.prepare(self, e, on_stage)
            return
        from ttvis.projection.schema import as_dict

        todo = iter(epochs)
        pending: deque = deque()

        def submit() -> None:
            e = next(todo, None)
            if e is not None:
                pending.append((e, ex.submit(prepare_remote, self.spec(), method.name, as_dict(method.params), method.seed, e)))

        for _ in range(ex.parallelism + 1):
            submit()
        while pending:
            e, task = pending.popleft()
            if on_stage:
                on_stage(e, f"preparing epochs on {ex.name} ({len(pending) + 1} in flight)")
            submit()
            yield e, task.result()


def open_source(spec: dict[str, Any], device: str = "cpu") -> RunSource:
    """The :class:`RunSource` a :meth:`RunSource.spec` describes (in a worker process)."""
    return RunSource(TrainingDynamics(spec["path"], roots=spec.get("roots", ())), spec.get("fit_on", "train"), device)


def prepare_remote(spec: dict[str, Any], method: str, params: dict[str, Any], seed: int, epoch: int) -> dict:
    """A worker's task: ``method.prepare`` of one epoch, on its own copy of the run (CPU)."""
    from ttvis.projection.registry import make_method

    return make_method(method, params, {"seed": seed}, "cpu").prepare(open_source(spec), epoch)

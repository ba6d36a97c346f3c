"""Product glue: run a visualization method over a recorded run and write every output.

``visualize`` (project + territories + metrics, epoch by epoch), ``evaluate``
(recompute ``eval.json`` from what is on disk) and ``render`` (PNG frames and a GIF).
They report through callbacks (``on_epoch(epoch, total, metrics)``,
``on_message(text)``) and stop when a ``threading.Event`` is set; they never print.
Front ends (CLI, server) map the callbacks to progress bars or notifications.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ttvis import __version__
from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.folder import TrainingDynamics
from ttvis.dynamics.lock import method_lock
from ttvis.dynamics.results import VisResults
from ttvis.dynamics.source import RunSource
from ttvis.metrics.report import K, epoch_metrics, run_temporal, summary, temporal_sample
from ttvis.parallel import Executor
from ttvis.projection.base import RUN_CONFIG_KEYS, EpochResult, Resume, VisMethod
from ttvis.projection.device import resolve_device
from ttvis.projection.registry import get_method, make_method, methods
from ttvis.projection.schema import RunParams, as_dict, validate
from ttvis.render.territory import paint_territory, territory_scale

OnEpoch = Callable[[int, int, dict], None]
OnMessage = Callable[[str], None]
OnStage = Callable[[int, str], None]


def parse_epochs(spec: str | list[int] | None, available: list[int]) -> list[int]:
    """Select epochs: None or ``"all"`` -> all; ``"3"``, ``"1,5,9"``, ``"2-10"``, ``"1-20:2"``
    (step) or a list of ints. The selection is never empty.

    Args:
        spec: the selection, as above.
        available: the recorded epochs, ascending.

    Returns:
        The chosen epochs, ascending, without repeats.

    Raises:
        ValueError: a malformed spec, an empty selection (``""``, ``[]``, a backwards range
            such as ``5-2``), a non-integer epoch, or an epoch not in ``available``.
    """
    form = "expected e.g. 5, 1,3,5, 2-10 or 1-20:2"
    if spec is None or spec == "all":
        return list(available)
    chosen: list[int] = []
    if isinstance(spec, str):
        if not spec.strip():
            raise ValueError(f"epochs: the selection is empty; {form} (or leave it out for all epochs)")
        for part in spec.replace(" ", "").split(","):
            try:
                rng, _, step = part.partition(":")
                lo, _, hi = rng.partition("-")
                a, b = int(lo), int(hi) if hi else int(lo)
                s = int(step) if step else 1
            except ValueError:
                raise ValueError(f"epochs: {form}, found {spec!r}") from None
            if b < a or s < 1:
                raise ValueError(f"epochs: {part!r} selects no epoch ({'a backwards range' if b < a else 'step must be >= 1'}); {form}")
            chosen += list(range(a, b + 1, s))
    elif isinstance(spec, (list, tuple)):
        if not spec:
            raise ValueError("epochs: an empty list selects no epoch; leave it out (or give \"all\") for all epochs")
        bad = [v for v in spec if not isinstance(v, int) or isinstance(v, bool)]
        if bad:
            raise ValueError(f"epochs: expected integer epochs, found {bad[0]!r}")
        chosen = [int(e) for e in spec]
    else:
        raise ValueError(f"epochs: {form} or a list of integers, found {type(spec).__name__}")
    missing = sorted(set(chosen) - set(available))
    if missing:
        span = f"{available[0]}..{available[-1]} ({len(available)} epochs)" if available else "none"
        raise ValueError(f"epochs {missing} are not recorded; available: {span}")
    return sorted(set(chosen))


def _config_params(run: TrainingDynamics, cls: type, on_message: OnMessage | None) -> tuple[dict, dict]:
    """The method's parameters and the run settings stored with the run (an original-layout
    ``config.json``'s block for the method), announced through ``on_message``."""
    block = run.source.vis_config(cls.name)
    if not block:
        return {}, {}
    params, notes = cls.params_from_config(block)
    vis = block.get("VISUALIZATION") if isinstance(block.get("VISUALIZATION"), dict) else {}
    run_params = {name: vis[key] for key, name in RUN_CONFIG_KEYS.items() if key in vis}
    where = run.source.info_path.name
    if (params or run_params) and on_message:
        on_message(f"parameters from {where}: " + ", ".join(f"{k}={v}" for k, v in {**params, **run_params}.items())
                   + " (options given here override them)")
    for n in notes:
        if on_message:
            on_message(f"{where}: {n}")
    return params, run_params


def watch(
    run_path: str | Path,
    method: str = "DVI",
    params: dict[str, Any] | None = None,
    run: dict[str, Any] | None = None,
    stop: threading.Event | None = None,
    interval: float = 2.0,
    idle: float | None = None,
    on_epoch: OnEpoch | None = None,
    on_message: OnMessage | None = None,
    on_stage: OnStage | None = None,
    until: Callable[[], bool] | None = None,
    settle: float = 30.0,
) -> dict[str, Any]:
    """Follow a run while it is being recorded: whenever new complete epochs appear, project them
    with a per-epoch method, continuing the results already on disk (:func:`visualize`'s
    growing-run resume).

    An epoch counts as complete when its representation (and, in a run with predictions, its
    prediction) files are all there and whole (``.npy`` header and length, as
    :meth:`TrainingDynamics.validate` checks): a recorder may write them in any order. An
    incomplete epoch is pending: it and the epochs after it wait, and ``on_message`` /
    ``on_stage`` say what for (``epoch 7: waiting for dataset/prediction/7.npy``); each look
    retries. One that stays broken with its files unchanged for ``settle`` seconds is reported
    as corrupt and left out (the later epochs go on; it is retried when its files change), and
    a file that fails while being projected is reported too: the watch keeps running.

    Args:
        run_path: the run folder (it may hold no epoch yet).
        method: a per-epoch method (``VisMethod.per_epoch``); params, run: as :func:`visualize`.
        stop: set it to stop watching (the epochs finished so far stay).
        interval: seconds between looks at the folder.
        idle: stop after this many seconds without a new epoch (None: only ``stop``/``until``).
        until: stop once it returns True and every epoch on disk is projected (e.g. the
            recorder has finished).
        settle: seconds an incomplete epoch's files may stay unchanged before it counts as corrupt.
        on_epoch, on_message, on_stage: as :func:`visualize`.

    Returns:
        The last ``eval.json`` contents (empty when no epoch was projected).

    Raises:
        ValueError: a method fitted on all epochs at once, or bad parameters;
        :class:`~ttvis.dynamics.subject.UntrustedCodeError`: the code gate refused to import
        the run's ``model.py``; :class:`~ttvis.dynamics.lock.LockedError`: another process writes
        these results.
    """
    cls = get_method(method)
    if not cls.per_epoch:
        raise ValueError(f"{cls.name} is fitted on all epochs at once; watching a run being recorded needs a per-epoch "
                         f"method ({', '.join(n for n, c in methods().items() if c.per_epoch)})")
    from ttvis.dynamics.subject import UntrustedCodeError

    stop = stop or threading.Event()
    say = on_message or (lambda m: None)
    root = Path(run_path).expanduser().resolve()
    evals: dict[str, Any] = {}
    seen: tuple = ()  # the complete epochs (and their files' versions) last projected or tried
    last_new = time.monotonic()
    broken: dict[int, tuple[tuple, float]] = {}  # incomplete epoch -> (its files' versions, unchanged since)
    told: dict[Any, str] = {}  # what was last said about each incomplete epoch (each news is said once)

    def stamp(tdyn: TrainingDynamics, e: int) -> tuple:
        files = [*tdyn.source.representation_parts(e), *tdyn.source.prediction_parts(e)]
        return tuple((st.st_mtime_ns, st.st_size) if (st := _stat(f)) else None for f in files)

    def _stat(f: Path) -> Any:
        try:
            return f.stat()
        except OSError:
            return None

    def problem(tdyn: TrainingDynamics, e: int) -> DynamicsError | None:
        """Why epoch ``e`` is not complete yet (None: it is)."""
        try:
            tdyn.validate([e], full=0)  # headers and lengths of its representation and prediction files
        except DynamicsError as exc:
            return exc
        pred = tdyn.source.prediction_parts(e)
        # a canonical run that records predictions (a dataset/prediction/ folder) whose first epochs lack them yet
        if not tdyn.has_predictions and tdyn.layout == "canonical" and (tdyn.path / "dataset" / "prediction").is_dir():
            missing = [f for f in pred if not f.is_file()]
            if missing:
                return DynamicsError(missing[0], f"float32 [N, C] class scores for epoch {e}", "no such file")
        return None

    def tell(key: Any, text: str) -> None:
        if told.get(key) != text:
            told[key] = text
            say(text)

    def waiting_for(exc: DynamicsError) -> str:
        try:
            rel = Path(exc.path).relative_to(root)
        except ValueError:
            rel = Path(exc.path)
        return f"waiting for {rel}" + ("" if exc.found == "no such file" else f" to be complete ({exc.found})")

    while not stop.is_set():
        pending = ""
        try:
            tdyn: TrainingDynamics | None = TrainingDynamics(run_path)
            on_disk = tdyn.epochs
        except DynamicsError as exc:  # nothing recorded yet, or the first epoch is being written
            tdyn, on_disk = None, []
            if Path(exc.path).is_file():
                pending = waiting_for(exc)
                tell("open", pending)
        ready: list[int] = []
        if tdyn is not None:
            done = set(VisResults(root, cls.name).epochs())
            now = time.monotonic()
            for e in on_disk:
                if e not in done and any(d > e for d in done):  # left out earlier, and later epochs went on without it
                    tell(e, f"epoch {e}: later epochs are projected without it, so it stays out of these results "
                            f"(`ttvis visualize {root} --method {cls.name} --restart` includes it)")
                    continue
                bad = None if e in done else problem(tdyn, e)
                if bad is None:
                    ready.append(e)
                    broken.pop(e, None)
                    continue
                st = stamp(tdyn, e)
                if e not in broken or broken[e][0] != st:
                    broken[e] = (st, now)  # changed since the last look: still being written
                if now - broken[e][1] >= settle:  # unchanged and still incomplete: a corrupt file
                    tell(e, f"epoch {e}: {bad} (unchanged for {now - broken[e][1]:.0f} s): left out; "
                            "the watch goes on without it")
                    continue
                pending = f"epoch {e}: {waiting_for(bad)}"
                tell(e, pending)
                break  # epochs are projected in order: the later ones wait for this one
        key = tuple((e, stamp(tdyn, e)) for e in ready) if tdyn is not None else ()
        if ready and key != seen:
            todo = [e for e in ready if e not in done]
            if todo:
                say(f"epoch(s) {', '.join(map(str, todo))} recorded: projecting")
                try:
                    evals = visualize(run_path, cls.name, params, ready, on_epoch=on_epoch, on_message=on_message,
                                      cancel=stop, on_stage=on_stage, run=run)
                except UntrustedCodeError:
                    raise
                except DynamicsError as exc:  # a file that fails only when read whole (NaN, cut short since)
                    say(f"{exc}; the watch goes on and retries when the run's files change")
            if [e for e, _ in key] != [e for e, _ in seen]:
                last_new = time.monotonic()
            seen = key
        elif until is not None and until() and not pending:
            break
        elif idle is not None and time.monotonic() - last_new > idle:
            say(f"no new epoch for {idle:.0f} s: stopped watching")
            break
        if on_stage:
            on_stage(0, pending or f"watching for epoch {on_disk[-1] + 1 if on_disk else 1}")
        stop.wait(interval)
    return evals


def _same_run(old: dict[str, Any] | None, record: dict[str, Any], per_epoch: bool) -> bool:
    """Whether results with ``params.json`` ``old`` were made by the run ``record`` describes: the
    same method, parameters, run settings and device, and the same epochs, or (a method whose
    epochs depend only on earlier ones, on a run that has grown) the old epochs followed by new ones."""
    if not old or any(old.get(k) != record.get(k) for k in ("method", "params", "run", "device")):
        return False
    before, now = old.get("epochs") or [], record["epochs"]
    return before == now or (per_epoch and len(before) < len(now) and now[: len(before)] == before)


def _resume_point(res: VisResults, vm: VisMethod, chosen: list[int]) -> Resume | None:
    """Where a matching earlier run stopped: its last finished epoch, when every chosen epoch
    before it is finished too (else None: start over)."""
    import torch

    done = set(res.epochs())
    k = 0
    while k < len(chosen) and chosen[k] in done:
        k += 1
    if k == 0:
        return None
    last = chosen[k - 1]
    path = res.model_path(last)
    try:
        state = torch.load(res._safe(path), map_location="cpu", weights_only=True) if path.exists() else {}
    except Exception as exc:
        raise DynamicsError(path, f"the {vm.name} state saved with epoch {last}", f"unreadable ({exc})") from None
    return Resume(last, state, res.projection(last))


def visualize(
    run_path: str | Path,
    method: str = "DVI",
    params: dict[str, Any] | None = None,
    epochs: str | list[int] | None = None,
    on_epoch: OnEpoch | None = None,
    on_message: OnMessage | None = None,
    cancel: threading.Event | None = None,
    on_stage: OnStage | None = None,
    run: dict[str, Any] | None = None,
    restart: bool = False,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Train ``method``'s vis model on a run and write ``visualize/<METHOD>/`` epoch by epoch.

    Each finished epoch's method state (``model/E.pth``), territory (``bgimg``, ``scale``),
    metrics (``eval.json``) and, last, projection land on disk atomically before ``on_epoch``
    is called; an epoch counts once its projection exists, so an interruption keeps every
    finished epoch complete. Everything is checked before earlier results are touched; a new
    run writes into ``<METHOD>.new`` and replaces the current results (which join
    ``<METHOD>.history``, :mod:`ttvis.dynamics.history`) only once its first epoch is complete. The same call after a stop (same method, parameters, run settings and
    epochs as ``params.json``) continues from the last finished epoch, leaving finished
    epochs' files untouched; ``restart=True`` starts over.

    Args:
        run_path: the training-dynamic folder.
        method: a registered method name (:mod:`ttvis.projection.registry`).
        params: the method's parameters (validated against its schema).
        epochs: which epochs (see :func:`parse_epochs`); default all.
        on_epoch: ``on_epoch(epoch, total, metrics)`` after each epoch.
        on_message: human-readable notes (which prediction head, resuming, moved results).
        cancel: set to stop; raises :class:`~ttvis.projection.base.Cancelled`.
        on_stage: ``on_stage(epoch, stage)`` as each step starts (epoch 0: before the first).
        run: run settings (:class:`~ttvis.projection.schema.RunParams`: seed, device,
            resolution, fit_on).
        restart: start over even when a matching stopped run could continue.
        executor: where independent per-epoch work runs (:mod:`ttvis.parallel`): the method's
            preparation of epochs ahead, and each finished epoch's territory and metrics; with
            Ray (``RayExecutor``) on the cluster's workers. The results are the same.

    Returns:
        The final ``eval.json`` contents.

    Raises:
        DynamicsError: a bad run folder; ValueError (ParamError): unknown method, parameter or
        epoch; LockedError: another process writes these results; Cancelled or
        KeyboardInterrupt: stopped (finished epochs stay on disk).
    """
    from ttvis.projection.device import job_determinism

    stage = on_stage or (lambda e, s: None)
    say = on_message or (lambda m: None)
    stage(0, "checking the run")
    _complete_arrays(run_path, on_message, cancel)
    tdyn = TrainingDynamics(run_path)
    skipped = [e for e in tdyn.recorded_epochs if e not in tdyn.epochs]
    if skipped:
        say(f"epoch(s) {', '.join(map(str, skipped))} have a checkpoint but no representations and are left out "
            f"(`ttvis preprocess` needs the model inputs, which this {tdyn.layout} run does not store)")
    cls = get_method(method)
    stored, stored_run = _config_params(tdyn, cls, on_message)
    rp = validate(RunParams, {**stored_run, **(run or {})})
    device = resolve_device(rp.device)
    vm = make_method(cls.name, {**stored, **(params or {})}, rp, device)
    chosen = parse_epochs(epochs, tdyn.epochs)
    tdyn.validate(chosen)  # every chosen epoch is checked before the earlier results are touched
    ex = executor or Executor()
    source = RunSource(tdyn, rp.fit_on, device, on_message, executor=ex)
    source.head(chosen[0])  # builds the subject model (imports model.py, loads the checkpoint) before anything moves
    record = {"method": vm.name, "params": as_dict(vm.params), "run": as_dict(rp), "epochs": chosen, "device": device,
              "ttvis": __version__, "path": str(tdyn.path), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with method_lock(tdyn.path, vm.name, command=f"{vm.name} training of {tdyn.name}"):
        from ttvis.dynamics.history import recover

        note = recover(tdyn.path, vm.name)  # what a new run stopped inside its first epoch left, before anything reads the results
        if note:
            say(note)
        res = VisResults(tdyn.path, vm.name, tdyn.n_samples)
        old = res.params()
        resume = None
        if _same_run(old, record, cls.per_epoch) and not restart:
            resume = _resume_point(res, vm, chosen)
            if resume is not None and resume.epoch == chosen[-1]:
                say(f"{vm.name} results for these parameters are complete in {res.dir} (restart to train again)")
                return res.eval()
            if resume is not None:
                grown = len(chosen) > len(old.get("epochs") or [])
                say(f"continuing {'with the new epochs' if grown else 'the stopped run'} after epoch {resume.epoch} "
                    f"({len(res.epochs())} of {len(chosen)} epochs done; their files are kept)")
        elif old and res.epochs() and not restart:
            say(f"parameters differ from {res.params_path}: starting a new run")
        evals: dict[str, Any] = res.eval() if resume is not None else {"method": vm.name, "k": K, **_inverse_note(cls), "epochs": {}}
        evals.pop("summary", None)
        if resume is not None:
            res.write_params({**old, "epochs": chosen, "resumed": [*old.get("resumed", []), time.strftime("%Y-%m-%dT%H:%M:%S")]})
        first_write = resume is None
        staged: list[bool] = []  # non-empty while a new run's first epoch is staged in <METHOD>.new
        t_start = t0 = time.perf_counter()
        pending: deque = deque()  # finished epochs whose territory and metrics are still being made

        def land(block: bool) -> None:
            """Write the oldest pending epochs whose work is done (all, when ``block``), in order."""
            while pending and (block or len(pending) >= ex.parallelism):  # local: at once
                ep, task, t_proj = pending.popleft()
                rgb, terr, m = task.result()
                if rgb is not None:
                    res.write_background(ep.epoch, rgb, terr)
                m = {**m, "training": dict(ep.stats), "seconds": {**m["seconds"], "projection": t_proj}}
                evals["epochs"][str(ep.epoch)] = m
                res.write_eval(evals)
                res.write_projection(ep.epoch, ep.positions)  # last: its presence marks a complete epoch
                if staged:  # the new run's first epoch is complete: only now does it replace the results
                    staged.clear()
                    moved = res.promote()
                    if moved:
                        say(f"earlier {vm.name} results kept in {moved}")
                if on_epoch:
                    on_epoch(ep.epoch, len(chosen), m)

        with job_determinism(device):
            for ep in vm.fit(source, chosen, resume=resume, cancel=cancel, on_stage=stage):
                t_proj = time.perf_counter() - t0
                if first_write:  # a new run is staged beside the results until its first epoch is complete
                    note = res.stage_new_run(record)
                    first_write = False
                    staged.append(True)
                    if note:
                        say(note)
                state = vm.epoch_state(ep)
                res.write_model(ep.epoch, state)
                scale = territory_scale(ep.positions)
                res.write_scale(ep.epoch, scale)
                if ex.parallelism > 1:
                    task = ex.submit(territory_task, source.spec(), vm.name, as_dict(vm.params), as_dict(rp), ep.epoch,
                                     state, np.asarray(ep.positions), scale)
                else:
                    task = ex.submit(territory_and_metrics, tdyn, source, ep, scale, rp.resolution, stage)
                pending.append((ep, task, t_proj))
                land(block=False)
                t0 = time.perf_counter()
            land(block=True)
        stage(chosen[-1], "temporal measures")
        _add_temporal(tdyn, res, evals, chosen)
        evals["seconds"] = evals.get("seconds", 0.0) + time.perf_counter() - t_start if resume else time.perf_counter() - t_start
        evals["peak_rss_mb"] = _peak_rss_mb()
        res.write_eval(evals)
    return evals


def territory_and_metrics(tdyn: TrainingDynamics, source: RunSource, ep: EpochResult, scale: np.ndarray, resolution: int,
                          stage: OnStage | None = None) -> tuple[np.ndarray | None, np.ndarray | None, dict[str, Any]]:
    """One finished epoch's territory (``rgb`` uint8 ``[R, R, 3]`` and its class grid, or Nones
    without an inverse map or classes) over ``scale``, and its metrics (with ``seconds``)."""
    head = source.head(ep.epoch)
    rgb = terr = None
    t1 = time.perf_counter()
    if head is not None and ep.inverse is not None:
        if stage:
            stage(ep.epoch, "territory")
        rgb, terr = paint_territory(ep.inverse.decode, head.probabilities, scale, resolution, tdyn.n_classes)
    t_terr = time.perf_counter() - t1
    if stage:
        stage(ep.epoch, "metrics")
    m = _metrics(tdyn, ep, head, terr, scale)
    m["seconds"] = {"territory": t_terr}
    return rgb, terr, m


def territory_task(spec: dict[str, Any], method: str, params: dict[str, Any], run: dict[str, Any], epoch: int,
                   state: dict[str, Any], positions: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None, dict]:
    """A worker's task (:mod:`ttvis.parallel`): rebuild a finished epoch from its saved state
    on the worker's own copy of the run, then :func:`territory_and_metrics` (on the CPU)."""
    from ttvis.dynamics.source import open_source

    source = open_source(spec)
    vm = make_method(method, params, {**run, "device": "cpu"}, "cpu")
    ep = vm.restore(state, source, epoch, positions)
    return territory_and_metrics(source.run, source, ep, scale, int(run.get("resolution", 256)))


def _metrics(tdyn: TrainingDynamics, ep: EpochResult, head: Any, terr: np.ndarray | None, scale: np.ndarray | None) -> dict[str, Any]:
    m = epoch_metrics(tdyn.representation(ep.epoch), ep, tdyn.train_index, tdyn.test_index,
                      probabilities=head.probabilities if head is not None else None,
                      predicted=tdyn.predicted_class(ep.epoch), labels=tdyn.labels, territory=terr, scale=scale)
    if head is not None:
        m["head"] = head.source
    return m


def _add_temporal(tdyn: TrainingDynamics, res: VisResults, evals: dict[str, Any], epochs: list[int]) -> None:
    """The run's temporal measures over ``epochs`` (positions read back from disk), into
    ``evals["temporal"]`` (the published ones on the RAW representations, DynaVis's, and the
    ``*_standardised`` variants from the same pass), ``evals["published"]`` (Vernier et al.'s,
    its ``stab_spearman`` the same number as ``temporal.stability``), each epoch's
    ``temporal_ranking``/``temporal_ranking_standardised`` and the summary. Only the scored
    samples' raw rows are held (float32); each chunk is standardised where it is used."""
    from ttvis.metrics.report import run_published
    from ttvis.projection.parametric import normaliser

    done = [e for e in epochs if str(e) in evals["epochs"]]
    sample = temporal_sample(tdyn.n_samples, epochs=len(done), dims=tdyn.dim)
    raw, means, scales = [], [], []
    for e in done:  # the standardised variants: each epoch minus its training samples' mean, / their root mean variance
        x = tdyn.representation(e)
        mean, scale = normaliser(np.asarray(x[tdyn.train_index], np.float32))
        raw.append(np.asarray(x[sample], np.float32))
        means.append(mean)
        scales.append(scale)
    low = [res.projection(e)[sample] for e in done]
    std = (np.stack(means), np.asarray(scales, np.float64)) if done else None
    evals["temporal"] = run_temporal(raw, low, done, tdyn.n_samples, standardise=std)
    evals["published"] = run_published(raw, low, tdyn.n_samples, stab_spearman=evals["temporal"]["stability"])
    for key, name in (("ranking_per_epoch", "temporal_ranking"), ("ranking_per_epoch_standardised", "temporal_ranking_standardised")):
        for e, v in evals["temporal"].get(key, {}).items():
            evals["epochs"][e][name] = v
    evals["summary"] = summary(evals)


def _inverse_note(cls: type[VisMethod]) -> dict[str, Any]:
    """``eval.json``'s word on the inverse map: ``{"inverse_map": bool}``, plus a note when absent."""
    if cls.has_inverse:
        return {"inverse_map": True}
    return {"inverse_map": False, "note": f"{cls.name} has no inverse map: no territories and no PPR"}


def _peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB (``getrusage``)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _complete_arrays(run_path: str | Path, on_message: OnMessage | None, cancel: threading.Event | None) -> None:
    """Run ``ttvis preprocess`` first when epochs lack arrays it can compute (the user asked
    to process this folder, so importing its ``model.py`` is expected)."""
    from ttvis.dynamics.preprocess import pending, preprocess

    path = Path(run_path).expanduser().resolve()
    found = pending(path) if path.is_dir() else None
    if found is None:
        return
    if on_message:
        on_message(f"computing representations/predictions of {len(found[1])} epoch(s) from the checkpoints (ttvis preprocess)")
    preprocess(path, cancel=cancel)


def load_epoch(tdyn: TrainingDynamics, source: RunSource, res: VisResults, epoch: int) -> EpochResult:
    """Rebuild a finished epoch (positions + the method's saved state) from disk.

    Raises:
        DynamicsError: missing or unreadable projection / state file.
    """
    import torch

    params = res.params() or {}
    vm = make_method(res.method, params.get("params", {}), {**params.get("run", {}), "device": "cpu"}, "cpu")
    xy = res.projection(epoch)
    path = res.model_path(epoch)
    try:
        state = torch.load(res._safe(path), map_location="cpu", weights_only=True) if path.exists() else {}
        return vm.restore(state, source, epoch, xy)
    except Exception as exc:
        raise DynamicsError(path, f"a {res.method} state saved by ttvis", f"unreadable ({exc})") from None


def _open_results(run_path: str | Path, method: str) -> tuple[TrainingDynamics, VisResults, list[int]]:
    """The run, its results for ``method`` and their complete epochs.

    Raises:
        DynamicsError: bad folder, or no results ("run `ttvis visualize` first").
    """
    tdyn = TrainingDynamics(run_path)
    name = get_method(method).name
    res = VisResults(tdyn.path, name, tdyn.n_samples)
    epochs = res.epochs()
    if not epochs:
        raise DynamicsError(res.dir / "projection", f"{name} results", "none: run `ttvis visualize` first")
    return tdyn, res, epochs


def _background_rgb(res: VisResults, epoch: int) -> np.ndarray | None:
    """The epoch's territory image as uint8 ``[R, R, 3]``, or None."""
    import io

    from PIL import Image

    png = res.background_png(epoch)
    return None if png is None else np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def evaluate(run_path: str | Path, method: str = "DVI", on_epoch: OnEpoch | None = None,
             on_message: OnMessage | None = None) -> dict[str, Any]:
    """Recompute ``eval.json`` for every epoch with results on disk, and return it.

    Territory agreement is measured on the stored class grid (``bgimg/E.npy``), so it is
    the number ``visualize`` wrote; training statistics and timings are kept.

    Raises:
        DynamicsError: bad run folder or results missing ("run training first");
        LockedError: another process writes these results.
    """
    tdyn, res, epochs = _open_results(run_path, method)
    name = res.method
    rp = (res.params() or {}).get("run", {})
    source = RunSource(tdyn, rp.get("fit_on", "train"), "cpu", on_message)
    with method_lock(tdyn.path, name, command=f"{name} evaluation of {tdyn.name}"):
        old = res.eval()
        evals: dict[str, Any] = {**{k: v for k, v in old.items() if k in ("seconds", "peak_rss_mb")},
                                 "method": name, "k": K, **_inverse_note(get_method(name)), "epochs": {}}
        for e in epochs:
            ep = load_epoch(tdyn, source, res, e)
            scale = res.scale(e)
            head = source.head(e)
            terr = None
            if scale is not None and head is not None and ep.inverse is not None:
                terr = res.territory_classes(e)
                if terr is None:  # results written before the class grid was stored: read the picture
                    from ttvis.render.territory import class_from_color

                    rgb = _background_rgb(res, e)
                    terr = None if rgb is None else class_from_color(rgb, tdyn.n_classes)
            m = _metrics(tdyn, ep, head, terr, scale)
            prev = old["epochs"].get(str(e), {})
            m["training"], m["seconds"] = prev.get("training", {}), prev.get("seconds", {})
            evals["epochs"][str(e)] = m
            if on_epoch:
                on_epoch(e, len(epochs), m)
        _add_temporal(tdyn, res, evals, epochs)
        res.write_eval(evals)
    return evals


def render(run_path: str | Path, method: str = "DVI", gif: bool = True, epochs: str | list[int] | None = None,
           on_epoch: OnEpoch | None = None, size_px: int = 720) -> dict[str, Any]:
    """Write ``visualize/<METHOD>/frames/E.png`` for each epoch with results, and optionally
    ``visualize/<METHOD>/<METHOD>.gif``.

    Returns:
        ``{"frames": [paths], "gif": path or None}``.

    Raises:
        DynamicsError: bad folder or results missing; ValueError: ``size_px`` outside
        64..4096 or a bad epoch selection; LockedError: another process writes the results.
    """
    from ttvis.dynamics import atomic
    from ttvis.render.frames import frames_to_gif, render_frame

    if not isinstance(size_px, int) or not 64 <= size_px <= 4096:
        raise ValueError(f"size: expected a frame size of 64..4096 pixels, found {size_px}")
    run, res, done = _open_results(run_path, method)
    name = res.method
    chosen = parse_epochs(epochs, done)
    evals = res.eval()["epochs"]
    frames, pngs = [], []
    with method_lock(run.path, name, command=f"{name} rendering of {run.name}"):
        for e in chosen:
            xy = res.projection(e)
            bg = _background_rgb(res, e)
            m = evals.get(str(e), {})

            def f(key: str) -> str:
                v = m.get(key)
                return f"{v:.2f}" if isinstance(v, (int, float)) else "-"

            sub = (f"NPR train {f('npr_train')} test {f('npr_test')} · PPR train {f('ppr_train')} · "
                   f"accuracy train {f('accuracy_train')} test {f('accuracy_test')}")
            data = render_frame(xy, run.labels, run.predicted_class(e), bg, res.scale(e), run.classes,
                                f"{run.name} · {name} · epoch {e}", sub, size_px)
            path = res.dir / "frames" / f"{e}.png"
            atomic.save_bytes(path, data)
            frames.append(str(path))
            pngs.append(data)
            if on_epoch:
                on_epoch(e, len(chosen), {"frame": str(path)})
        gif_path = None
        if gif:
            gif_path = res.dir / f"{name}.gif"
            atomic.save_bytes(gif_path, frames_to_gif(pngs))
    return {"frames": frames, "gif": str(gif_path) if gif_path else None}

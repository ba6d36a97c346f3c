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
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ttvis import __version__
from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.folder import TrainingDynamics
from ttvis.dynamics.lock import method_lock
from ttvis.dynamics.results import VisResults
from ttvis.metrics import faithfulness as fm
from ttvis.projection.dvi import EpochProjection
from ttvis.projection.head import PredictionHead, head_for_epoch
from ttvis.projection.params import params_to_dict
from ttvis.projection.registry import make_method
from ttvis.render.territory import paint_territory, position_to_pixel, territory_scale

OnEpoch = Callable[[int, int, dict], None]
OnMessage = Callable[[str], None]
OnStage = Callable[[int, str], None]
K = 15
_TEMPORAL_MAX = 3000  # samples scored by temporal ranking (a fixed random subset above this)

SUMMARY_KEYS = ["npr_train", "npr_test", "npr_boundary", "ppr_train", "ppr_test", "temporal_ranking",
                "trustworthiness", "continuity", "territory_agreement"]


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


def epoch_metrics(run: TrainingDynamics, ep: EpochProjection, territory_pred: np.ndarray | None = None,
                  scale: np.ndarray | None = None, k: int = K) -> dict[str, Any]:
    """Faithfulness metrics of one epoch (DESIGN.md definitions), a JSON-ready dict.

    Keys: npr_train (neighbours among training samples), npr_test (test samples' neighbours
    among all samples), npr_boundary (boundary samples' neighbours among training samples),
    ppr_train/ppr_test, trustworthiness/continuity (all samples), territory_agreement (share
    of samples whose background pixel shows their predicted class), accuracy_train/test of
    the subject model (from recorded predictions), plus the method's training statistics.
    """
    x, xy = run.representation(ep.epoch), ep.positions
    tr, te = run.train_index, run.test_index
    m: dict[str, Any] = {
        "npr_train": fm.neighbour_preserving_rate(x[tr], xy[tr], k),
        "npr_test": fm.neighbour_preserving_rate(x, xy, k, query=te) if te.size else None,
        "npr_boundary": fm.neighbour_preserving_rate_cross(ep.boundary, x[tr], ep.boundary_positions, xy[tr], k) if len(ep.boundary) else None,
        "trustworthiness": fm.trustworthiness(x, xy, k),
        "continuity": fm.continuity(x, xy, k),
    }
    head = ep.head
    if head is not None and ep.decode is not None:
        m["ppr_train"] = fm.prediction_preserving_rate(x[tr], ep.encode, ep.decode, head.probabilities)
        m["ppr_test"] = fm.prediction_preserving_rate(x[te], ep.encode, ep.decode, head.probabilities) if te.size else None
    predicted = run.predicted_class(ep.epoch)
    if predicted is None and head is not None:
        predicted = head.probabilities(x).argmax(1)
    if predicted is not None and (run.labels >= 0).any():
        m["accuracy_train"] = float((predicted[tr] == run.labels[tr]).mean())
        m["accuracy_test"] = float((predicted[te] == run.labels[te]).mean()) if te.size else None
    if territory_pred is not None and scale is not None and predicted is not None:
        r, c = position_to_pixel(xy, scale, territory_pred.shape[0])
        m["territory_agreement"] = float((territory_pred[r, c] == predicted).mean())
    m["training"] = dict(ep.stats)
    return m


def _temporal(run: TrainingDynamics, positions: dict[int, np.ndarray], seed: int = 0) -> dict[int, float]:
    epochs = sorted(positions)
    n = run.n_samples
    samples = np.arange(n) if n <= _TEMPORAL_MAX else np.sort(np.random.default_rng(seed).choice(n, _TEMPORAL_MAX, replace=False))
    highs = [run.representation(e)[samples] for e in epochs]
    lows = [positions[e][samples] for e in epochs]
    return {e: fm.temporal_ranking(highs, lows, i) for i, e in enumerate(epochs)}


def _summary(evals: dict[str, Any]) -> dict[str, Any]:
    ep = evals.get("epochs", {})
    if not ep:
        return {}
    last = max(ep, key=int)

    def mean(key: str) -> float | None:
        vals = [v[key] for v in ep.values() if isinstance(v.get(key), (int, float))]
        return float(np.mean(vals)) if vals else None

    return {"last_epoch": int(last), "final": {k: ep[last].get(k) for k in SUMMARY_KEYS},
            "mean": {k: mean(k) for k in SUMMARY_KEYS}}


def _heads(run: TrainingDynamics, device: str, on_message: OnMessage | None) -> Callable[[int], PredictionHead | None]:
    said = set()
    cache: dict[int, PredictionHead | None] = {}

    def get(e: int) -> PredictionHead | None:
        if e not in cache:
            cache.clear()
            cache[e] = head_for_epoch(run, e, device)
            h = cache[e]
            if h is not None and h.source not in said and on_message:
                said.add(h.source)
                on_message(f"prediction head: {h.description}")
        return cache[e]

    return get


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


def visualize(
    run_path: str | Path,
    method: str = "DVI",
    params: dict[str, Any] | None = None,
    epochs: str | list[int] | None = None,
    on_epoch: OnEpoch | None = None,
    on_message: OnMessage | None = None,
    cancel: threading.Event | None = None,
    on_stage: OnStage | None = None,
) -> dict[str, Any]:
    """Train ``method``'s vis model on a run and write ``visualize/<METHOD>/`` epoch by epoch.

    Each finished epoch's vis model, territory (``bgimg``, ``scale``), metrics
    (``eval.json``) and, last, projection land on disk atomically before ``on_epoch`` is
    called; an epoch is listed only once its projection exists, so an interruption
    keeps every finished epoch complete. Earlier results move to ``<METHOD>.previous``.

    Args:
        run_path: the training-dynamic folder.
        method: ``"DVI"`` (see :mod:`ttvis.projection.registry`).
        params: the method's parameters (validated against its dataclass).
        epochs: which epochs (see :func:`parse_epochs`); default all.
        on_epoch: ``on_epoch(epoch, total, metrics)`` after each epoch.
        on_message: human-readable notes (e.g. which prediction head is used).
        cancel: set to stop; raises :class:`~ttvis.projection.trainer.Cancelled`.
        on_stage: ``on_stage(epoch, stage)`` as each step starts (epoch 0: before the first
            epoch, e.g. "checking the run"); for progress displays.

    Returns:
        The final ``eval.json`` contents.

    Raises:
        DynamicsError: a bad run folder; ValueError: unknown method/parameter/epoch;
        Cancelled or KeyboardInterrupt: stopped (finished epochs stay on disk).
    """
    stage = on_stage or (lambda e, s: None)
    stage(0, "checking the run")
    _complete_arrays(run_path, on_message, cancel)
    run = TrainingDynamics(run_path)
    # everything is checked before the earlier results are touched
    run.validate()
    skipped = [e for e in run.recorded_epochs if e not in run.epochs]
    if skipped and on_message:
        on_message(f"epoch(s) {', '.join(map(str, skipped))} have a checkpoint but no representations and are left out "
                   f"(`ttvis preprocess` needs the model inputs, which this {run.layout} run does not store)")
    stored, notes = run.source.vis_params(method)
    if stored and on_message:
        on_message(f"parameters from {run.source.info_path.name}: " + ", ".join(f"{k}={v}" for k, v in stored.items())
                   + " (options given here override them)")
    for n in notes:
        if on_message:
            on_message(f"{run.source.info_path.name}: {n}")
    vm = make_method(method, {**stored, **(params or {})})
    chosen = parse_epochs(epochs, run.epochs)
    from ttvis.projection.device import resolve_device

    device = resolve_device(vm.params.device)
    heads = _heads(run, device, on_message)
    _check_heads(run, chosen, heads)
    p = params_to_dict(vm.params)
    record = {"method": vm.name, "params": p, "epochs": chosen, "ttvis": __version__, "device": device,
              "run": str(run.path), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with method_lock(run.path, vm.name, command=f"{vm.name} training of {run.name}"):
        res = VisResults(run.path, vm.name, run.n_samples)
        evals: dict[str, Any] = {"method": vm.name, "k": K, "epochs": {}}
        positions: dict[int, np.ndarray] = {}
        t_start = time.perf_counter()
        t0 = t_start
        for ep in vm.run(run, chosen, heads, cancel=cancel, on_stage=stage):
            t_proj = time.perf_counter() - t0
            if not positions:  # the first finished epoch: only now make room for the new results
                moved = res.begin_new_run(record)
                if moved and on_message:
                    on_message(f"earlier {vm.name} results moved to {moved}")
            res.write_model(ep.epoch, ep.state)
            scale = territory_scale(ep.positions)
            res.write_scale(ep.epoch, scale)
            terr = None
            t1 = time.perf_counter()
            if ep.head is not None and ep.decode is not None:
                stage(ep.epoch, "territory")
                rgb, terr = paint_territory(ep.decode, ep.head.probabilities, scale, p["resolution"], run.n_classes)
                res.write_background(ep.epoch, rgb, terr)
            t_terr = time.perf_counter() - t1
            stage(ep.epoch, "metrics")
            m = epoch_metrics(run, ep, terr, scale)
            m["seconds"] = {"projection": t_proj, "territory": t_terr}
            if ep.head is not None:
                m["head"] = ep.head.source
            positions[ep.epoch] = ep.positions
            evals["epochs"][str(ep.epoch)] = m
            res.write_eval(evals)
            res.write_projection(ep.epoch, ep.positions)  # last: its presence marks a complete epoch
            if on_epoch:
                on_epoch(ep.epoch, len(chosen), m)
            t0 = time.perf_counter()
        for e, v in _temporal(run, positions).items():
            evals["epochs"][str(e)]["temporal_ranking"] = v
        evals["summary"] = _summary(evals)
        evals["seconds"] = time.perf_counter() - t_start
        res.write_eval(evals)
    return evals


def _check_heads(run: TrainingDynamics, chosen: list[int], heads: Callable[[int], PredictionHead | None]) -> None:
    """Fail before any result is touched when the subject model cannot be built: it is
    built for the first chosen epoch (imports ``model.py``, loads that checkpoint).

    Raises:
        DynamicsError: ``model.py`` or the checkpoint broken (names the file).
    """
    heads(chosen[0])


def load_epoch(run: TrainingDynamics, res: VisResults, epoch: int, head: PredictionHead | None) -> EpochProjection:
    """Rebuild a finished epoch (positions + vis model) from disk.

    Raises:
        DynamicsError: missing or unreadable projection / vis model file.
    """
    import torch

    params = res.params() or {}
    vm = make_method(res.method, {**params.get("params", {}), "device": "cpu"})
    xy = res.projection(epoch)
    path = res.model_path(epoch)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        return vm.load_epoch(state, run, epoch, xy, head)
    except FileNotFoundError:
        raise DynamicsError(path, f"the {res.method} vis model of epoch {epoch}", "no such file: run training first") from None
    except Exception as exc:
        raise DynamicsError(path, f"a {res.method} vis model state saved by ttvis", f"unreadable ({exc})") from None


def _open_results(run_path: str | Path, method: str) -> tuple[TrainingDynamics, VisResults, list[int]]:
    """The run, its results for ``method`` and their complete epochs.

    Raises:
        DynamicsError: bad folder, or no results ("run `ttvis visualize` first").
    """
    from ttvis.projection.registry import get_method

    run = TrainingDynamics(run_path)
    name = get_method(method).name
    res = VisResults(run.path, name, run.n_samples)
    epochs = res.epochs()
    if not epochs:
        raise DynamicsError(res.dir / "projection", f"{name} results", "none: run `ttvis visualize` first")
    return run, res, epochs


def _background_rgb(res: VisResults, epoch: int) -> np.ndarray | None:
    """The epoch's territory image as uint8 ``[R, R, 3]``, or None."""
    import io

    from PIL import Image

    png = res.background_png(epoch)
    return None if png is None else np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def evaluate(run_path: str | Path, method: str = "DVI", on_epoch: OnEpoch | None = None,
             on_message: OnMessage | None = None) -> dict[str, Any]:
    """Recompute ``eval.json`` for every epoch with results on disk, and return it.

    Raises:
        DynamicsError: bad run folder or results missing ("run training first").
    """
    run, res, epochs = _open_results(run_path, method)
    name = res.method
    heads = _heads(run, "cpu", on_message)
    with method_lock(run.path, name, command=f"{name} evaluation of {run.name}"):
        old = res.eval()
        evals: dict[str, Any] = {"method": name, "k": K, "epochs": {}}
        positions = {}
        for e in epochs:
            ep = load_epoch(run, res, e, heads(e))
            scale = res.scale(e)
            terr = None
            if scale is not None and ep.head is not None:
                terr = res.territory_classes(e)
                if terr is None:  # results written before the class grid was stored: read the picture
                    from ttvis.render.territory import class_from_color

                    rgb = _background_rgb(res, e)
                    terr = None if rgb is None else class_from_color(rgb, run.n_classes)
            ep.stats = old["epochs"].get(str(e), {}).get("training", {})
            m = epoch_metrics(run, ep, terr, scale)
            positions[e] = ep.positions
            evals["epochs"][str(e)] = m
            if on_epoch:
                on_epoch(e, len(epochs), m)
        for e, v in _temporal(run, positions).items():
            evals["epochs"][str(e)]["temporal_ranking"] = v
        evals["summary"] = _summary(evals)
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

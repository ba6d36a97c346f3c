"""The ``ttvis`` command line: demo, visualize, eval, render, preprocess, evaluate-model, convert, import (and the servers).

Method hyper-parameters become options generated from the method's parameter
dataclass (``--n-neighbors``, ``--lambda1``, ...), so help, defaults and
validation never drift from the code.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from ttvis import __version__

EXIT_ERROR, EXIT_INTERRUPTED = 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse with the README's promise for bad input: one ``error:`` line, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print ``error: <message> (see `<prog> --help`)`` on stderr and exit with status 2."""
        print(f"error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, found {text!r}")


def _add_schema_options(g: argparse._ArgumentGroup, cls: type, prefix: str) -> None:
    """One option per field of a parameter schema (``--n-neighbors``, ...), validated later by
    the schema itself; the help gives the meaning, the default and the allowed range."""
    from ttvis.projection.schema import fields

    for f in fields(cls):
        default = ",".join(map(str, f["default"])) if isinstance(f["default"], list) else f["default"]
        extra = f"; {f['range']}" if f["range"] else ""
        text = f"{f['help']} (default: {default}{extra})".replace("%", "%%")
        kw: dict[str, Any] = {"dest": prefix + f["name"], "default": None, "help": text}
        if f["choices"]:
            kw["choices"] = f["choices"]
        elif f["kind"] in ("int", "float"):
            kw["type"], kw["metavar"] = {"int": int, "float": float}[f["kind"]], f["kind"].upper()
        elif f["kind"] == "bool":
            kw["type"], kw["metavar"] = _bool, "BOOL"
        elif f["kind"] == "list":
            kw["metavar"] = "N1,N2"
        g.add_argument(_option(f["name"]), **kw)


def _add_method_options(p: argparse.ArgumentParser, method: str, epochs: bool = True) -> None:
    """``--method``, ``--epochs``, the run settings and ``method``'s own parameters."""
    from ttvis.projection.registry import get_method, methods
    from ttvis.projection.schema import RunParams

    cls = get_method(method)
    names = ", ".join(methods())
    p.add_argument("--method", default=cls.name, help=f"visualization method (default: {cls.name}; available: {names}); "
                   "`--method NAME --help` lists that method's options")
    if epochs:
        p.add_argument("--epochs", default=None, metavar="SPEC", help="epochs to use: all (default), 5, 1,3,5, 2-10 or 1-20:2")
    _add_schema_options(p.add_argument_group("run settings (any method)"), RunParams, "run_")
    _add_schema_options(p.add_argument_group(f"{cls.name} parameters ({cls.summary}; {cls.paper})"), cls.Params, "param_")


def _values(args: argparse.Namespace, prefix: str) -> dict[str, Any]:
    return {k[len(prefix):]: v for k, v in vars(args).items() if k.startswith(prefix) and v is not None}


def _method_in(argv: Sequence[str]) -> str:
    """The ``--method`` given on the command line (to build that method's options), else the first registered."""
    from ttvis.projection.registry import get_method, methods

    for i, a in enumerate(argv):
        if a == "--method" and i + 1 < len(argv):
            name = argv[i + 1]
        elif a.startswith("--method="):
            name = a.split("=", 1)[1]
        else:
            continue
        try:
            return get_method(name).name
        except ValueError:
            return next(iter(methods()))  # the command's own check reports the unknown name
    return next(iter(methods()))


def _executor(args: argparse.Namespace):
    from ttvis.parallel import executor

    return executor(getattr(args, "ray", None))


def _run_visualize(path: str, method: str, params: dict, epochs: str | None, run: dict, restart: bool = False,
                   quiet: bool = False, ex=None) -> dict:
    from ttvis.console import Progress, note
    from ttvis.pipeline import visualize

    prog = Progress(f"{method} {Path(path).name}")
    try:
        return visualize(path, method, params, epochs, on_epoch=None if quiet else prog, on_message=note,
                         on_stage=prog.stage, run=run, restart=restart, executor=ex)
    finally:
        prog.close()
        if ex is not None:
            ex.close()


def _print_outputs(path: Path, method: str, evals: dict, render_out: dict | None = None) -> None:
    from ttvis.console import epoch_table, fmt
    from ttvis.projection.registry import get_method

    cls = get_method(method)
    d = path / "visualize" / cls.name
    print(epoch_table(evals, cls.has_inverse))
    s = evals.get("summary", {})
    if s:
        print(f"\nlast epoch {s['last_epoch']}: " + ", ".join(f"{k} {fmt(v)}" for k, v in s["final"].items() if v is not None))
    print(f"\noutputs in {d}/")
    print("  projection/E.npy   2-D positions [N, 2] per epoch")
    if any((d / "bgimg").glob("*.png")):
        print("  bgimg/E.png        territory backgrounds (bgimg/E.npy: their classes; scale/E.npy: x_min, y_min, x_max, y_max)")
    elif not cls.has_inverse:
        print(f"  (no territories: {cls.name} has no inverse map)")
    else:
        print("  (no territories: a representation-only run has no classes to paint)")
    print("  eval.json          the metrics above; params.json: the parameters used; model/E.pth: the method's state")
    if render_out:
        print("  frames/E.png       one frame per epoch")
        if render_out.get("gif"):
            print(f"  {Path(render_out['gif']).name:<18} the animation")


def _schema_error(exc: Exception) -> Exception:
    """A ParamError phrased with the CLI option's name."""
    from ttvis.projection.schema import ParamError

    if isinstance(exc, ParamError) and exc.known is None:
        return ValueError(exc.message(_option(exc.field)))
    return exc


# ---- commands ---------------------------------------------------------------
def cmd_visualize(args: argparse.Namespace) -> int:
    """`ttvis visualize PATH`: train the vis model, print the metrics table and output paths."""
    evals = _run_visualize(args.path, args.method, _values(args, "param_"), args.epochs, _values(args, "run_"),
                           args.restart, args.quiet, _executor(args))
    if not args.quiet:
        _print_outputs(Path(args.path).resolve(), args.method, evals)
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    """`ttvis watch PATH`: project each epoch of a run as it is recorded (Ctrl-C to stop)."""
    from ttvis.console import Progress, note
    from ttvis.pipeline import watch

    prog = Progress(f"{args.method} {Path(args.path).name} (live)")
    note(f"watching {Path(args.path).resolve()} for new epochs (Ctrl-C to stop)")
    try:
        evals = watch(args.path, args.method, _values(args, "param_"), _values(args, "run_"), interval=args.interval,
                      idle=args.idle, on_epoch=prog, on_message=note, on_stage=prog.stage)
    finally:
        prog.close()
    if evals:
        _print_outputs(Path(args.path).resolve(), args.method, evals)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """`ttvis eval PATH`: recompute eval.json from results on disk and print it."""
    from ttvis.console import Progress, epoch_table, note
    from ttvis.pipeline import evaluate
    from ttvis.projection.registry import get_method

    cls = get_method(args.method)
    prog = Progress("evaluating")
    try:
        evals = evaluate(args.path, cls.name, on_epoch=prog, on_message=note)
    finally:
        prog.close()
    if args.json:
        import json

        print(json.dumps(evals, indent=2))
    else:
        print(epoch_table(evals, cls.has_inverse))
        print(f"\nwritten: {Path(args.path).resolve() / 'visualize' / cls.name / 'eval.json'}")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    """`ttvis render PATH`: PNG frames (and with --gif an animation) from results on disk."""
    from ttvis.console import Progress
    from ttvis.pipeline import render

    prog = Progress("rendering frames", keys=())
    try:
        out = render(args.path, args.method, gif=args.gif, epochs=args.epochs, on_epoch=prog, size_px=args.size)
    finally:
        prog.close()
    print(f"{len(out['frames'])} frames in {Path(out['frames'][0]).parent}/")
    if out["gif"]:
        print(f"animation: {out['gif']}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """`ttvis compare PATH`: every chosen method side by side; writes visualize/compare.{md,json}."""
    from ttvis.compare import compare, dumps
    from ttvis.console import note

    names = [m.strip() for m in args.methods.split(",") if m.strip()]
    ex = _executor(args)
    try:
        out = compare(args.path, names, args.epochs, _values(args, "run_"), args.restart, on_message=note, executor=ex)
    finally:
        ex.close()
    print(dumps(out) if args.json else out["markdown"] + f"\nwritten: {', '.join(out['written'])}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """`ttvis demo`: record the digits (default) or Fashion-MNIST CNN run, visualize it, render frames and GIF."""
    import functools
    import time

    from tqdm import tqdm

    from ttvis.console import Progress
    from ttvis.pipeline import render

    out = Path(args.out or f"ttvis-demo/{args.dataset}").resolve()
    t0 = time.perf_counter()
    if args.dataset == "fashion-mnist":
        from ttvis.demo.fashion import data_dir, record_fashion_run

        data_dir()  # the package's files, before anything is written
        print(f"ttvis demo: a small CNN learns Fashion-MNIST ({args.limit or 70000:,} 28x28 images, 10 classes, "
              f"its own 6:1 train/test split{', a stratified subset' if args.limit else ''})")
        record_run = functools.partial(record_fashion_run, limit=args.limit)
    else:
        if args.limit is not None:
            raise ValueError("--limit: only for --dataset fashion-mnist (the digits demo always uses its 1,797 images)")
        from ttvis.demo.digits import record_digits_run

        print("ttvis demo: a small CNN learns scikit-learn's handwritten digits (1,797 8x8 images, 10 classes, 80/20 split)")
        record_run = record_digits_run
    bar = tqdm(total=args.epochs, desc="training + recording", unit="epoch", file=sys.stderr, dynamic_ncols=True)

    def on_train(e: int, total: int, m: dict) -> None:
        bar.set_postfix(train_acc=f"{m['train_acc']:.2f}", test_acc=f"{m['test_acc']:.2f}")
        bar.update(1)

    run = {"seed": args.seed, **({"device": args.device} if args.device else {})}
    if args.live:  # the model trains in a thread while the projection follows it, epoch by epoch
        import threading

        from ttvis.console import note
        from ttvis.pipeline import watch

        failed: list[BaseException] = []

        def record() -> None:
            try:
                record_run(out, epochs=args.epochs, seed=args.seed, on_epoch=on_train, noise=args.noise)
            except BaseException as exc:  # reported below
                failed.append(exc)

        if (out / "visualize" / args.method).exists():
            import shutil

            shutil.rmtree(out / "visualize" / args.method)  # a fresh demo run: no earlier live results to follow
        recorder = threading.Thread(target=record, name="recorder", daemon=True)
        recorder.start()
        prog = Progress(f"{args.method} (live)")
        try:
            evals = watch(out, args.method, {}, run, interval=0.5, until=lambda: not recorder.is_alive(),
                          on_epoch=prog, on_message=note, on_stage=prog.stage)
        finally:
            prog.close()
            bar.close()
        if failed:
            raise failed[0]
    else:
        try:
            record_run(out, epochs=args.epochs, seed=args.seed, on_epoch=on_train, noise=args.noise)
        finally:
            bar.close()
        evals = _run_visualize(str(out), args.method, {}, None, run, restart=True)
    prog = Progress("rendering frames", keys=())
    try:
        r = render(out, args.method, gif=True, on_epoch=prog)
    finally:
        prog.close()
    if args.docs:
        from ttvis.dynamics import atomic

        frame = Path(r["frames"][-1])
        atomic.save_bytes(Path(args.docs), frame.read_bytes())
        print(f"docs: copied {frame} to {args.docs}")
    print(f"\nrecorded run: {out}  (dataset/, model/, model.py, index.json)\n")
    _print_outputs(out, args.method, evals, r)
    print(f"\ndone in {time.perf_counter() - t0:.0f} s. Animation: {r['gif']}\n"
          f"Backend for the editor/browser views: `ttvis serve {out}` (see README, 'The backend server').")
    return 0


def cmd_samples(args: argparse.Namespace) -> int:
    """`ttvis samples PATH`: per-sample training dynamics (AUM, cartography, forgetting), most suspicious first."""
    import json

    from ttvis.console import fixed_width, fmt
    from ttvis.dynamics import TrainingDynamics
    from ttvis.dynamics.statistics import sample_table

    rows = sample_table(TrainingDynamics(args.path), args.sort, args.split, args.top)
    if args.json:
        print(json.dumps(rows, indent=1))
    elif args.csv:
        import csv

        w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["index"])
        w.writeheader()
        w.writerows(rows)
    else:
        keys = ["index", "split", "label", "prediction", "aum", "confidence", "variability", "correctness",
                "forgetting_events", "first_learned_epoch", "flips"]

        def cell(r: dict, k: str) -> str:  # a class by its name where the run has names
            if k in ("label", "prediction"):
                return "–" if r[k] is None else str(r[f"{k}_name"] if r[f"{k}_name"] is not None else r[k])
            return fmt(r[k])

        head = [k if k != "prediction" or not rows or rows[0]["prediction_epoch"] is None else f"prediction (E{rows[0]['prediction_epoch']})"
                for k in keys]
        print(fixed_width([head] + [[cell(r, k) for k in keys] for r in rows]))
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    """`ttvis similar PATH --epoch E --index I`: the nearest samples in representation space (a vector index)."""
    import json

    from ttvis.console import fixed_width, fmt, note
    from ttvis.dynamics.vectors import similar_samples

    idx = [int(v) for v in str(args.index).replace(",", " ").split()]
    hits = similar_samples(args.path, args.epoch, idx, args.k, args.vector_uri, args.index_type, on_message=note, labels=True)
    if args.json:  # index, distance, label, label_name, prediction, prediction_name (None where the run has none)
        print(json.dumps(hits))
    else:
        def cls(h: dict, key: str) -> str:
            return "–" if h[key] is None else str(h[f"{key}_name"] if h[f"{key}_name"] is not None else h[key])

        print(fixed_width([["index", "distance", "label", "prediction"]]
                          + [[str(h["index"]), fmt(h["distance"]), cls(h, "label"), cls(h, "prediction")] for h in hits]))
    return 0


def cmd_preprocess(args: argparse.Namespace) -> int:
    """`ttvis preprocess PATH`: compute missing representations/predictions from the checkpoints."""
    from ttvis.dynamics.layouts import open_layout
    from ttvis.dynamics.preprocess import plan, preprocess

    path = Path(args.path).expanduser().resolve()
    todo = plan(open_layout(path), args.force) if path.is_dir() else None
    if todo == []:
        print(f"{path}: nothing to compute; every epoch has its representations and predictions (use --force to recompute)")
        return 0
    from ttvis.console import Progress

    prog = Progress("preprocessing", keys=())
    try:
        ex = _executor(args)
        try:
            out = preprocess(path, force=args.force, device=args.device, batch_size=args.batch_size, on_epoch=prog, executor=ex)
        finally:
            ex.close()
    finally:
        prog.close()
    print(f"{path} ({out['layout']} layout): computed {len(out['epochs'])} epoch(s) of {out['samples']} samples on {out['device']}")
    return 0


def cmd_evaluate_model(args: argparse.Namespace) -> int:
    """`ttvis evaluate-model PATH`: per-epoch accuracy and loss of the subject model."""
    import json

    from ttvis.console import fixed_width, fmt
    from ttvis.metrics.subject_model import evaluate_subject_model

    out = evaluate_subject_model(args.path)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    rows = [["epoch", "train acc", "test acc", "train loss", "test loss"]]
    for e in out["train_acc"]:
        rows.append([e] + [fmt(out[k][e]) for k in ("train_acc", "test_acc", "train_loss", "test_loss")])
    print(fixed_width(rows))
    print(f"\nwritten: {Path(args.path).expanduser().resolve() / 'subject_model_eval.json'}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    """`ttvis convert PATH --to OUT`: write a run of any layout in the canonical layout."""
    from ttvis.dynamics.convert import convert

    from ttvis.console import Progress

    prog = Progress("converting", keys=())
    try:
        out = convert(args.path, args.to, on_epoch=prog)
    finally:
        prog.close()
    print(f"wrote {out['path']}: {len(out['epochs'])} epochs, {out['samples']} samples (canonical layout, from {out['from']})")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """`ttvis import vernier SOURCE OUT`: a published benchmark's files as a canonical run folder."""
    from ttvis.console import Progress
    from ttvis.dynamics.importers import import_vernier

    prog = Progress("importing", keys=())
    try:
        out = import_vernier(args.source, args.out, dataset=args.dataset, on_step=prog)
    finally:
        prog.close()
    kind = "class probabilities (prediction = their log)" if out["probabilities"] else "no predictions"
    print(f"wrote {out['path']}: {out['dataset']}, {len(out['epochs'])} epochs, {out['samples']} samples x {out['dims']} dims, "
          f"{len(out['classes'])} classes, {kind}; no model (visualize fits a logistic-regression head)")
    return 0


def cmd_server(args: argparse.Namespace) -> int:
    """`ttvis server`: JSON-RPC on stdio for the VS Code extension (blocks until the client exits)."""
    from ttvis.server.lsp import run_stdio

    run_stdio(roots=args.roots, trust=args.trust)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """`ttvis serve`: websocket API + page on 127.0.0.1 (blocks until Ctrl-C)."""
    from ttvis.server.web import serve

    serve(args.paths or [os.getcwd()], port=args.port, host="127.0.0.1", open_browser=args.open, trust=args.trust)
    return 0


def build_parser(method: str | None = None) -> argparse.ArgumentParser:
    """The argparse parser of the ``ttvis`` command (all subcommands); ``visualize``, ``demo``
    and ``compare`` carry the options of ``method`` (default: the first registered method)."""
    from ttvis.projection.registry import get_method, methods

    method = method or next(iter(methods()))
    names = ", ".join(methods())
    p = _Parser(
        prog="ttvis",
        description=f"Time-Travelling Visualizer: project a recorded training run to 2-D per epoch ({names}), "
        "paint the model's decision territories and measure how faithful the picture is.",
        epilog="A run folder holds dataset/representation/E.npy, dataset/prediction/E.npy, dataset/label/labels.npy, "
        "index.json and optionally model.py + model/E.pth; record one with ttvis.Recorder. The original project's "
        "layouts (Model/Epoch_E/ with config.json; epochs/epoch_E/) are read as they are. See README.md.",
    )
    p.add_argument("--version", action="version", version=f"ttvis {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    first = get_method(method).name
    d = sub.add_parser("demo", help=f"train a CNN on the bundled digits (or Fashion-MNIST), record it, visualize it ({first}), render frames + GIF")
    d.add_argument("--dataset", choices=["digits", "fashion-mnist"], default="digits",
                   help="digits: scikit-learn's 1,797 8x8 digits (default, quick); fashion-mnist: 70,000 28x28 images from "
                   "Debian's package (apt-get install dataset-fashion-mnist), a CNN with a 256-d penultimate layer")
    d.add_argument("--limit", type=int, default=None, metavar="N",
                   help="fashion-mnist only: a stratified, seeded subset of N images from both splits (default: all 70,000)")
    d.add_argument("--out", default=None, help="run folder to write (default: ttvis-demo/DATASET)")
    d.add_argument("--epochs", type=int, default=20, help="training epochs of the CNN (default: 20)")
    d.add_argument("--method", default=first, help=f"visualization method (default: {first}; available: {names})")
    d.add_argument("--seed", type=int, default=0, help="seed for the split, the CNN and the projection (default: 0)")
    d.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None, help="torch device (default: auto)")
    d.add_argument("--docs", metavar="PNG", default=None, help="also copy the last frame there (how docs/demo-epoch20.png is made)")
    d.add_argument("--live", action="store_true", help="project each epoch while the model is still training (a per-epoch "
                   "method follows the run as it is recorded, as `ttvis watch` does)")
    d.add_argument("--noise", type=float, default=0.0, metavar="SHARE",
                   help="flip this share of the training labels before training (e.g. 0.1); dataset/noise.json records which")
    d.set_defaults(func=cmd_demo)

    v = sub.add_parser("visualize", help="train a vis method on a run; writes visualize/<METHOD>/ (projection, bgimg, scale, "
                       "eval.json); run again after a stop to continue")
    v.add_argument("path", help="the training-dynamic folder")
    _add_method_options(v, method)
    v.add_argument("--restart", action="store_true", help="start over even when a stopped run with the same parameters "
                   "could continue (earlier results are kept in visualize/<METHOD>.history/)")
    v.add_argument("--quiet", action="store_true", help="no progress bar and no table (for scripts)")
    _add_ray_option(v, "each epoch's kNN graph, complex and boundary samples ahead, and finished epochs' territories and metrics")
    v.set_defaults(func=cmd_visualize)

    wa = sub.add_parser("watch", help="follow a run while it is being recorded: project each new epoch as soon as it is "
                        "complete (a per-epoch method), continuing the results on disk")
    wa.add_argument("path", help="the training-dynamic folder (it may be empty still)")
    _add_method_options(wa, method if get_method(method).per_epoch else "DVI", epochs=False)
    wa.add_argument("--interval", type=float, default=2.0, help="seconds between looks at the folder (default: 2)")
    wa.add_argument("--idle", type=float, default=None, metavar="SECONDS", help="stop after this long without a new epoch "
                    "(default: watch until Ctrl-C)")
    wa.set_defaults(func=cmd_watch)

    c = sub.add_parser("compare", help="every method side by side on a run: time, memory, faithfulness; writes "
                       "visualize/compare.md and compare.json (matching results are reused)")
    c.add_argument("path", help="the training-dynamic folder")
    c.add_argument("--methods", default=",".join(m for m, cls in methods().items() if cls.__module__.startswith("ttvis.")),
                   help=f"comma-separated methods (default: every built-in one: {names})")
    c.add_argument("--epochs", default=None, metavar="SPEC", help="epochs to use: all (default), 5, 1,3,5, 2-10 or 1-20:2")
    _add_schema_options(c.add_argument_group("run settings (every method)"), _run_params(), "run_")
    c.add_argument("--restart", action="store_true", help="retrain every method even when matching results exist")
    c.add_argument("--json", action="store_true", help="print compare.json instead of the table")
    _add_ray_option(c, "the methods, side by side")
    c.set_defaults(func=cmd_compare)

    sm = sub.add_parser("samples", help="per-sample training dynamics from predictions and labels: AUM, confidence, "
                        "variability, correctness, forgetting events, first learned epoch, flips; most suspicious first")
    sm.add_argument("path", help="the training-dynamic folder")
    sm.add_argument("--sort", default="aum", choices=["aum", "confidence", "variability", "correctness", "forgetting", "flips", "learned"],
                    help="ranking: lowest AUM/confidence/correctness, or highest variability/forgetting/flips, or latest "
                    "learned first (default: aum)")
    sm.add_argument("--split", default="train", choices=["train", "test", "all"], help="which samples (default: train)")
    sm.add_argument("--top", type=int, default=20, help="how many rows (default: 20; 0: all)")
    out = sm.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="a JSON list of objects (index, split, label, aum, confidence, "
                     "variability, correctness, forgetting_events, first_learned_epoch, flips)")
    out.add_argument("--csv", action="store_true", help="CSV with the same columns")
    sm.set_defaults(func=cmd_samples)

    si = sub.add_parser("similar", help="the samples nearest to a sample (or a selection's mean) in representation space at "
                        "an epoch, from a vector index built once per epoch (Milvus Lite, or a Milvus server)")
    si.add_argument("path", help="the training-dynamic folder")
    si.add_argument("--epoch", type=int, required=True, help="the epoch")
    si.add_argument("--index", required=True, metavar="I[,J,...]", help="a sample index, or several (their mean is the query)")
    si.add_argument("--k", type=int, default=10, help="how many neighbours (default: 10)")
    si.add_argument("--vector-uri", default=None, metavar="URI", help="a Milvus server, e.g. http://localhost:19530 "
                    "(default: Milvus Lite in RUN/visualize/vectors.db)")
    si.add_argument("--index-type", default="auto", choices=["auto", "FLAT", "HNSW", "IVF_FLAT"],
                    help="auto (default): FLAT (exact) below 20,000 samples, HNSW above")
    si.add_argument("--json", action="store_true", help="a JSON list of {index, distance}, nearest first")
    si.set_defaults(func=cmd_similar)

    e = sub.add_parser("eval", help="(re)compute visualize/<METHOD>/eval.json from existing results and print it")
    e.add_argument("path", help="the training-dynamic folder")
    e.add_argument("--method", default=first, help=f"visualization method (default: {first}; available: {names})")
    e.add_argument("--json", action="store_true", help="print the whole eval.json instead of a table")
    e.set_defaults(func=cmd_eval)

    r = sub.add_parser("render", help="PNG frames (and a GIF) from existing results")
    r.add_argument("path", help="the training-dynamic folder")
    r.add_argument("--method", default=first, help=f"visualization method (default: {first}; available: {names})")
    r.add_argument("--epochs", default=None, metavar="SPEC", help="epochs to render (default: all with results)")
    r.add_argument("--gif", action="store_true", help="also write visualize/<METHOD>/<METHOD>.gif")
    r.add_argument("--size", type=int, default=720, help="frame width and height in pixels (default: 720)")
    r.set_defaults(func=cmd_render)

    pp = sub.add_parser("preprocess", help="compute missing per-epoch representations and predictions from the checkpoints "
                        "(model.py feature/prediction), batched, on the GPU when available")
    pp.add_argument("path", help="the run folder (canonical, per-epoch or original layout)")
    pp.add_argument("--force", action="store_true", help="recompute every epoch, not only what is missing")
    pp.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="torch device (default: auto)")
    pp.add_argument("--batch-size", type=int, default=512, help="samples per forward pass (default: 512)")
    _add_ray_option(pp, "several epochs at once")
    pp.set_defaults(func=cmd_preprocess)

    em = sub.add_parser("evaluate-model", help="train/test accuracy and loss of the subject model per epoch; "
                        "writes subject_model_eval.json")
    em.add_argument("path", help="the run folder")
    em.add_argument("--json", action="store_true", help="print the JSON instead of a table")
    em.set_defaults(func=cmd_evaluate_model)

    cv = sub.add_parser("convert", help="write a run of any supported layout in the canonical layout")
    cv.add_argument("path", help="the run folder (per-epoch or original layout)")
    cv.add_argument("--to", required=True, metavar="OUT", help="the new folder (must not exist or be empty)")
    cv.set_defaults(func=cmd_convert)

    im = sub.add_parser("import", help="write a published benchmark's files as a canonical run folder")
    ims = im.add_subparsers(dest="format", metavar="FORMAT", required=True)
    iv = ims.add_parser("vernier", help="Vernier et al. (EuroVis 2020) datasets: <name>-<t>.csv per step (id,f0,...); "
                        "step t becomes epoch t+1, ids <class>-<n> give the labels; read from the zip where it lies")
    iv.add_argument("source", help="the dataset's zip (e.g. cifar10cnn.zip) or a folder holding it or its CSVs")
    iv.add_argument("out", help="the new run folder (must not exist or be empty)")
    iv.add_argument("--dataset", default=None, metavar="NAME", help="which dataset, when the source holds several")
    iv.set_defaults(func=cmd_import)

    s = sub.add_parser("server", help="JSON-RPC server on stdin/stdout (LSP framing) for the VS Code extension")
    s.add_argument("--roots", nargs="*", default=None, help="folders the server may read (default: the client's workspace folders)")
    s.add_argument("--trust", action="store_true", help="allow importing runs' model.py from the start (default: the client "
                   "says, through initializationOptions.trusted; VS Code passes its workspace trust)")
    s.set_defaults(func=cmd_server)

    w = sub.add_parser("serve", help="the same API over websockets on 127.0.0.1, plus the web page")
    w.add_argument("paths", nargs="*", help="folders to serve (default: the current folder)")
    w.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    w.add_argument("--open", action="store_true", help="open the page in a browser")
    w.add_argument("--trust", action="store_true", default=None,
                   help="allow training/evaluating runs whose model.py must be imported (runs their code); "
                   "default: ask on the terminal, or refuse when stdin is not a terminal")
    w.set_defaults(func=cmd_serve)
    return p


def _add_ray_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--ray", nargs="?", const=True, default=None, metavar="ADDRESS",
                   help=f"run {what} on a Ray cluster: the one at ADDRESS (e.g. ray://head:10001), or a local one "
                   "without it (needs `pip install ttvis[ray]`; the results are the same)")


def _run_params() -> type:
    from ttvis.projection.schema import RunParams

    return RunParams


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ttvis`` console script; returns the exit status
    (0 ok, 2 bad input with one ``error:`` line, 130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from ttvis.dynamics.errors import DynamicsError
    from ttvis.dynamics.lock import LockedError

    try:
        parser = build_parser(_method_in(argv))
    except (ValueError, ImportError) as exc:  # a plugin that fails to load
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return _interrupted(args)
    except Exception as exc:
        # Ctrl-C inside native code can surface as another error raised from the KeyboardInterrupt
        # (numba: "SystemError: CPUDispatcher(...) returned a result with an exception set")
        if _caused_by_interrupt(exc):
            return _interrupted(args)
        if isinstance(exc, (DynamicsError, ValueError, FileNotFoundError, LockedError, RuntimeError)):
            print(f"error: {_schema_error(exc)}", file=sys.stderr)
            return EXIT_ERROR
        raise


def _caused_by_interrupt(exc: BaseException) -> bool:
    """True when ``exc`` was raised while a KeyboardInterrupt was being handled (its cause/context chain)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _interrupted(args: argparse.Namespace) -> int:
    path = getattr(args, "path", None) or getattr(args, "out", None)
    print(f"\ninterrupted: every finished epoch's outputs in {path} are complete and readable", file=sys.stderr)
    return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

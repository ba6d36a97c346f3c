"""The ``ttvis`` command line: demo, visualize, eval, render, preprocess, evaluate-model, convert (and the servers).

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
TABLE_COLUMNS = [
    ("epoch", "epoch"), ("acc tr", "accuracy_train"), ("acc te", "accuracy_test"), ("NPR tr", "npr_train"),
    ("NPR te", "npr_test"), ("NPR bnd", "npr_boundary"), ("PPR tr", "ppr_train"), ("PPR te", "ppr_test"),
    ("temporal", "temporal_ranking"), ("trust", "trustworthiness"), ("territory", "territory_agreement"),
]


class _Parser(argparse.ArgumentParser):
    """argparse with the README's promise for bad input: one ``error:`` line, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print ``error: <message> (see `<prog> --help`)`` on stderr and exit with status 2."""
        print(f"error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_method_options(p: argparse.ArgumentParser) -> None:
    from ttvis.projection.params import DVIParams, params_schema

    p.add_argument("--method", default="DVI", help="visualization method (default: DVI; available: DVI)")
    p.add_argument("--epochs", default=None, metavar="SPEC", help="epochs to use: all (default), 5, 1,3,5, 2-10 or 1-20:2")
    g = p.add_argument_group("DVI parameters (defaults from the literature / tuned on the digits demo)")
    for f in params_schema(DVIParams):
        kw: dict[str, Any] = {"dest": "param_" + f["name"], "default": None,
                              "help": f"{f['help']} (default: {f['default'] if not isinstance(f['default'], list) else ','.join(map(str, f['default']))})"}
        if f.get("choices"):
            kw["choices"] = f["choices"]
        if f["type"] in ("int", "float"):
            kw["type"] = {"int": int, "float": float}[f["type"]]
            kw["metavar"] = f["type"].upper()
        elif f["type"] == "list":
            kw["metavar"] = "W1,W2"
        g.add_argument(_option(f["name"]), **kw)


def _params_from_args(args: argparse.Namespace) -> dict[str, Any]:
    return {k[len("param_"):]: v for k, v in vars(args).items() if k.startswith("param_") and v is not None}


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else ("-" if v is None else str(v))


def format_table(evals: dict[str, Any]) -> str:
    """A fixed-width table of the per-epoch metrics in ``eval.json`` plus a mean row."""
    rows = [[h for h, _ in TABLE_COLUMNS]]
    for e, m in sorted(evals.get("epochs", {}).items(), key=lambda kv: int(kv[0])):
        rows.append([e] + [_fmt(m.get(k)) for _, k in TABLE_COLUMNS[1:]])
    mean = evals.get("summary", {}).get("mean", {})
    if mean:
        rows.append(["mean"] + [_fmt(mean.get(k)) if k in mean else "" for _, k in TABLE_COLUMNS[1:]])
    return _fixed_width(rows)


def _fixed_width(rows: list[list[str]]) -> str:
    """Right-aligned columns, a dashed rule under the header row."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


class _Progress:
    """tqdm bar driven by a pipeline's ``on_epoch`` callback."""

    def __init__(self, desc: str, keys: Sequence[str] = ("npr_train", "ppr_train")):
        self.desc, self.keys, self.bar = desc, keys, None

    def __call__(self, epoch: int, total: int, metrics: dict) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.desc, unit="epoch", dynamic_ncols=True, file=sys.stderr)
        post = {"epoch": epoch, **{k.replace("_train", "").upper(): f"{metrics[k]:.2f}" for k in self.keys if isinstance(metrics.get(k), float)}}
        self.bar.set_postfix(post)
        self.bar.update(1)

    def close(self) -> None:
        """Close the bar if one was opened."""
        if self.bar is not None:
            self.bar.close()


def _note(msg: str) -> None:
    print(f"note: {msg}", file=sys.stderr)


def _run_visualize(path: str, method: str, params: dict, epochs: str | None) -> dict:
    from ttvis.pipeline import visualize

    prog = _Progress(f"{method} {Path(path).name}")
    try:
        return visualize(path, method, params, epochs, on_epoch=prog, on_message=_note)
    finally:
        prog.close()


def _print_outputs(path: Path, method: str, evals: dict, render_out: dict | None = None) -> None:
    d = path / "visualize" / method
    print(format_table(evals))
    s = evals.get("summary", {})
    if s:
        print(f"\nlast epoch {s['last_epoch']}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in s["final"].items() if v is not None))
    print(f"\noutputs in {d}/")
    print("  projection/E.npy   2-D positions [N, 2] per epoch")
    if any((d / "bgimg").glob("*.png")):
        print("  bgimg/E.png        territory backgrounds (scale/E.npy: their x_min, y_min, x_max, y_max)")
    else:
        print("  (no territories: a representation-only run has no classes to paint)")
    print("  eval.json          the metrics above; params.json: the parameters used; model/E.pth: the vis model")
    if render_out:
        print("  frames/E.png       one frame per epoch")
        if render_out.get("gif"):
            print(f"  {Path(render_out['gif']).name:<18} the animation")


# ---- commands ---------------------------------------------------------------
def cmd_visualize(args: argparse.Namespace) -> int:
    """`ttvis visualize PATH`: train the vis model, print the metrics table and output paths."""
    evals = _run_visualize(args.path, args.method, _params_from_args(args), args.epochs)
    from ttvis.projection.registry import get_method

    _print_outputs(Path(args.path).resolve(), get_method(args.method).name, evals)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """`ttvis eval PATH`: recompute eval.json from results on disk and print it."""
    from ttvis.pipeline import evaluate
    from ttvis.projection.registry import get_method

    prog = _Progress("evaluating")
    try:
        evals = evaluate(args.path, args.method, on_epoch=prog, on_message=_note)
    finally:
        prog.close()
    if args.json:
        import json

        print(json.dumps(evals, indent=2))
    else:
        print(format_table(evals))
        print(f"\nwritten: {Path(args.path).resolve() / 'visualize' / get_method(args.method).name / 'eval.json'}")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    """`ttvis render PATH`: PNG frames (and with --gif an animation) from results on disk."""
    from ttvis.pipeline import render

    prog = _Progress("rendering frames", keys=())
    try:
        out = render(args.path, args.method, gif=args.gif, epochs=args.epochs, on_epoch=prog, size_px=args.size)
    finally:
        prog.close()
    print(f"{len(out['frames'])} frames in {Path(out['frames'][0]).parent}/")
    if out["gif"]:
        print(f"animation: {out['gif']}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """`ttvis demo`: record the digits CNN run, visualize it with DVI, render frames and GIF."""
    import time

    from tqdm import tqdm

    from ttvis.demo.digits import record_digits_run
    from ttvis.pipeline import render

    out = Path(args.out).resolve()
    t0 = time.perf_counter()
    print("ttvis demo: a small CNN learns scikit-learn's handwritten digits (1,797 8x8 images, 10 classes, 80/20 split)")
    bar = tqdm(total=args.epochs, desc="training + recording", unit="epoch", file=sys.stderr, dynamic_ncols=True)

    def on_train(e: int, total: int, m: dict) -> None:
        bar.set_postfix(train_acc=f"{m['train_acc']:.2f}", test_acc=f"{m['test_acc']:.2f}")
        bar.update(1)

    try:
        record_digits_run(out, epochs=args.epochs, seed=args.seed, on_epoch=on_train)
    finally:
        bar.close()
    params = _params_from_args(args)
    params.setdefault("seed", args.seed)
    evals = _run_visualize(str(out), args.method, params, None)
    prog = _Progress("rendering frames", keys=())
    try:
        r = render(out, args.method, gif=True, on_epoch=prog)
    finally:
        prog.close()
    print(f"\nrecorded run: {out}  (dataset/, model/, model.py, index.json)\n")
    _print_outputs(out, args.method, evals, r)
    print(f"\ndone in {time.perf_counter() - t0:.0f} s. Animation: {r['gif']}\n"
          f"Backend for the editor/browser views: `ttvis serve {out}` (see README, 'The backend server').")
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
    prog = _Progress("preprocessing", keys=())
    try:
        out = preprocess(path, force=args.force, device=args.device, batch_size=args.batch_size, on_epoch=prog)
    finally:
        prog.close()
    print(f"{path} ({out['layout']} layout): computed {len(out['epochs'])} epoch(s) of {out['samples']} samples on {out['device']}")
    return 0


def cmd_evaluate_model(args: argparse.Namespace) -> int:
    """`ttvis evaluate-model PATH`: per-epoch accuracy and loss of the subject model."""
    import json

    from ttvis.metrics.subject_model import evaluate_subject_model

    out = evaluate_subject_model(args.path)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    rows = [["epoch", "train acc", "test acc", "train loss", "test loss"]]
    for e in out["train_acc"]:
        rows.append([e] + [_fmt(out[k][e]) for k in ("train_acc", "test_acc", "train_loss", "test_loss")])
    print(_fixed_width(rows))
    print(f"\nwritten: {Path(args.path).expanduser().resolve() / 'subject_model_eval.json'}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    """`ttvis convert PATH --to OUT`: write a run of any layout in the canonical layout."""
    from ttvis.dynamics.convert import convert

    prog = _Progress("converting", keys=())
    try:
        out = convert(args.path, args.to, on_epoch=prog)
    finally:
        prog.close()
    print(f"wrote {out['path']}: {len(out['epochs'])} epochs, {out['samples']} samples (canonical layout, from {out['from']})")
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


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``ttvis`` command (all subcommands)."""
    p = _Parser(
        prog="ttvis",
        description="Time-Travelling Visualizer: project a recorded training run to 2-D per epoch (DVI), "
        "paint the model's decision territories and measure how faithful the picture is.",
        epilog="A run folder holds dataset/representation/E.npy, dataset/prediction/E.npy, dataset/label/labels.npy, "
        "index.json and optionally model.py + model/E.pth; record one with ttvis.Recorder. The original project's "
        "layouts (Model/Epoch_E/ with config.json; epochs/epoch_E/) are read as they are. See README.md.",
    )
    p.add_argument("--version", action="version", version=f"ttvis {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser("demo", help="train a CNN on the bundled digits, record it, visualize with DVI, render frames + GIF")
    d.add_argument("--out", default="ttvis-demo/digits", help="run folder to write (default: ttvis-demo/digits)")
    d.add_argument("--epochs", type=int, default=20, help="training epochs of the CNN (default: 20)")
    d.add_argument("--method", default="DVI", help="visualization method (default: DVI)")
    d.add_argument("--seed", type=int, default=0, help="seed for the split, the CNN and the projection (default: 0)")
    d.add_argument("--device", dest="param_device", choices=["auto", "cpu", "cuda"], default=None, help="torch device (default: auto)")
    d.set_defaults(func=cmd_demo)

    v = sub.add_parser("visualize", help="train the vis model on a run; writes visualize/<METHOD>/ (projection, bgimg, scale, eval.json)")
    v.add_argument("path", help="the training-dynamic folder")
    _add_method_options(v)
    v.set_defaults(func=cmd_visualize)

    e = sub.add_parser("eval", help="(re)compute visualize/<METHOD>/eval.json from existing results and print it")
    e.add_argument("path", help="the training-dynamic folder")
    e.add_argument("--method", default="DVI", help="visualization method (default: DVI)")
    e.add_argument("--json", action="store_true", help="print the whole eval.json instead of a table")
    e.set_defaults(func=cmd_eval)

    r = sub.add_parser("render", help="PNG frames (and a GIF) from existing results")
    r.add_argument("path", help="the training-dynamic folder")
    r.add_argument("--method", default="DVI", help="visualization method (default: DVI)")
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ttvis`` console script; returns the exit status
    (0 ok, 2 bad input with one ``error:`` line, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    from ttvis.dynamics.errors import DynamicsError
    from ttvis.dynamics.lock import LockedError

    try:
        return int(args.func(args) or 0)
    except (DynamicsError, ValueError, FileNotFoundError, LockedError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        path = getattr(args, "path", None) or getattr(args, "out", None)
        print(f"\ninterrupted: every finished epoch's outputs in {path} are complete and readable", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

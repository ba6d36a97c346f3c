"""The per-epoch views of a run: ``ttvis/epoch``, ``ttvis/sample``, ``ttvis/neighbors``,
``ttvis/metrics``, ``ttvis/events`` and ``ttvis/search``. A mixin of :class:`~ttvis.server.api.TtvisApi`."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.results import VisResults
from ttvis.server.core import BAD_RUN, INVALID_PARAMS, ApiCore, ApiError, _bounds, _index, _nearest, _ranges
from ttvis.server.encoding import encode_array, encode_bytes
from ttvis.server.jobs import jsonable as _jsonable


class ViewsMixin(ApiCore):
    """The per-epoch ``ttvis/*`` views (see :class:`~ttvis.server.api.TtvisApi`)."""

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
        ``label:cat`` (class index or name), ``pred:5``, ``misclassified``, ``changed`` (or its old name ``flipped``: predicted class
        changed since the previous epoch with results), ``train``/``test``, and any other word is
        searched in the samples' text (text runs)."""
        run = self._run(params.get("path"))
        q = params.get("query")
        if not isinstance(q, str) or not q.strip():
            raise ApiError(INVALID_PARAMS, "params.query: expected search terms, e.g. 10-50, label:3, misclassified, changed")
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
                                               "misclassified, changed, train, test), and this run has no text to search"
                                               + (f" ({text_error})" if text_error else ""))
            low = [s.lower() for s in lines]
            keep &= np.array([all(w in low[i] for w in words) if i < len(low) else False for i in range(run.n_samples)])
        idx = np.flatnonzero(keep)
        return {"indices": idx.tolist(), "count": int(idx.size), "query": q}

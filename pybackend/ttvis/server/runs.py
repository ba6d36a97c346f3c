"""Run discovery and description: ``ttvis/discover``, ``ttvis/describe``, ``ttvis/methods``, and
each run's per-method state (trained epochs, a writer's lock, history, a pending or running job).
A mixin of :class:`~ttvis.server.api.TtvisApi`."""

from __future__ import annotations

from typing import Any

from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.folder import TrainingDynamics
from ttvis.server.core import INVALID_PARAMS, ApiCore, ApiError
from ttvis.server.discover import find_runs


class RunsMixin(ApiCore):
    """``ttvis/discover``, ``ttvis/describe`` and ``ttvis/methods`` (see :class:`~ttvis.server.api.TtvisApi`)."""

    def discover(self, params: dict) -> dict:
        """``ttvis/discover {roots?}`` -> ``{runs: [summary, ...]}`` below the roots (default: all roots)."""
        roots = params.get("roots") or [str(r) for r in self.roots]
        if not isinstance(roots, list):
            raise ApiError(INVALID_PARAMS, "params.roots: expected a list of folder paths")
        runs = []
        for root in roots:
            base = self._allowed(root)
            for p in find_runs([base]):
                try:
                    runs.append(self._summary(self._run(str(p), fresh=True)))
                except ApiError as exc:
                    runs.append({"name": p.name, "path": str(p), "error": exc.message})
        return {"runs": runs}

    def _summary(self, run: TrainingDynamics) -> dict:
        s = run.summary()
        s["methods"] = self._methods_state(run)
        return s

    def _methods_state(self, run: TrainingDynamics) -> dict:
        out: dict[str, Any] = {}
        vis = run.path / "visualize"
        # result folders, and the methods some process is writing now (a lock, perhaps before any folder)
        names = sorted({d.name if d.is_dir() else d.stem for d in vis.iterdir()
                        if (d.is_dir() and "." not in d.name) or (d.suffix == ".lock" and "." not in d.stem)}) if vis.is_dir() else []
        from ttvis.dynamics.history import generations
        from ttvis.dynamics.lock import holder

        for name in names:
            res = self._vis(run, name)
            ep = res.epochs()
            try:
                summary = res.eval().get("summary") or {}
            except DynamicsError:
                summary = {}
            final = summary.get("final") or {}
            planned = res.planned_epochs()
            state = {"epochs": ep, "state": "trained" if ep else "not trained",
                     "npr": final.get("npr_train"), "ppr": final.get("ppr_train"),
                     "planned": len(planned) if planned else len(ep), "temporal": summary.get("temporal")}
            who = holder(run.path, name)
            if who is not None:
                state.update({"state": "training", "by": who.get("command"), "pid": who.get("pid")})
            state["history"] = [{k: g[k] for k in ("name", "path", "started", "epochs", "planned", "complete")}
                                for g in generations(run.path, name)]
            out[name] = state
        from ttvis.server.jobs import interrupted_jobs

        for _, name, req in interrupted_jobs([run.path]):  # a stopped server's job, not resumed (yet)
            out.setdefault(name, {"epochs": [], "state": "not trained", "npr": None, "ppr": None})
            out[name]["pendingJob"] = {
                "kind": "watch" if req.get("kind") == "watch" else "train", "epochs": req.get("epochs") or [],
                "note": str(run.path / "visualize" / f"{name}.job.json"),
                "resumes": "when the server starts or restarts" if self.trusted else "when the workspace is trusted"}
        job = self._job_for(run.path)
        if job:
            out.get(job.method, {}).pop("pendingJob", None)
            out.setdefault(job.method, {"epochs": [], "npr": None, "ppr": None})
            out[job.method].update({"state": "watching" if job.kind == "watch" else "training", "percentage": job.percentage,
                                    "job": job.id, "done": job.epoch, "total": job.total, "stage": job.stage})
        return out

    def describe(self, params: dict) -> dict:
        """``ttvis/describe {path}`` -> the run's summary plus each method's params and eval summary."""
        run = self._run(params.get("path"), fresh=True)
        s = self._summary(run)
        for name, state in s["methods"].items():
            res = self._vis(run, name)
            try:
                state["params"] = res.params()
                state["eval"] = res.eval().get("summary")
            except DynamicsError as exc:
                state["error"] = str(exc)
        from ttvis.render.palette import hex_colors

        s["colors"] = hex_colors(max(run.n_classes, 1))
        s["hasSprites"] = run.has_sprites
        lines, text_error = self._text(run)
        s["hasText"] = lines is not None
        if text_error:
            s["textError"] = text_error
        return s

    def methods(self, params: dict) -> dict:
        """``ttvis/methods`` -> ``{methods: [{name, description, paper, hasInverse, schema}], run: schema}``:
        every registered method with the JSON Schema of its parameters, and the JSON Schema
        of the run settings (seed, device, resolution, fit_on) that ``ttvis/train`` takes as ``run``."""
        from ttvis.projection.registry import methods
        from ttvis.projection.schema import RunParams, json_schema

        return {"methods": [cls.describe() for cls in methods().values()], "run": json_schema(RunParams)}

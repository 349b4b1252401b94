"""tuner from Python (a notebook, a script): the same engine as `python -m tuner.sweep`, a Run to read.

    import tuner
    run = tuner.run("examples/own_model.py", time_budget=240)        # or tuner.run(Sweep(...))
    run.trials, run.history                                           # pandas: trials.csv, history.csv
    run.best                                                          # configuration, val metric mean ± std, test
    model = run.model()                                               # the chosen weights in your architecture
    run.report()                                                      # report.html
    run.pareto                                                        # objectives=[...]: the Pareto front
    tuner.load_run("runs/own_model-20261206-101500")                  # the same Run for a finished folder

A Sweep defined in a script (`python my_sweep.py` calling tuner.run) is recorded as that script: the run folder's
sweep.py is the script, so `python -m tuner.sweep --resume RUN_DIR` and `tuner rerun` work (guard the call with
`if __name__ == "__main__":`). One defined in a notebook has no file: continue it from the notebook with
`tuner.run(sweep, resume=RUN_DIR)`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.analysis.load import RunData
from tuner.analysis.load import load_run as read_run
from tuner.errors import UserError
from tuner.runfolder import SWEEP_FILE
from tuner.sweep.codedirs import use_code
from tuner.train import usercode

if TYPE_CHECKING:
    from tuner.sweep.spec import Sweep
# tuner.load_run reads a run folder without torch or Ray (as tuner.analysis does); tuner.run and Run.model() import
# the engine and the training core when called

NOTEBOOK_SWEEP = '''# This sweep was defined in Python without a file (a notebook) and run with tuner.run(sweep).
# Continue it from the same notebook: tuner.run(sweep, resume="RUN_DIR").
raise RuntimeError("this sweep was started with tuner.run() from a notebook; resume it there: "
                   "tuner.run(sweep, resume=RUN_DIR)")
'''
OPTION_FIELDS = {"num_samples": "num_samples", "max_epochs": "max_epochs", "data": "data", "gpus_per_trial": "gpu",
                 "cpus_per_trial": "cpu", "seed": "search_seed", "time_budget": "time_budget_s"}


@dataclass
class Best:
    """The chosen configuration (best.json): `searched` values, the validation metric (the chosen trial's, and the
    configuration's mean ± std over its seeds) and the single test evaluation. `best["test_acc"]` reads best.json."""

    trial_id: str
    searched: dict[str, Any]
    config: dict[str, Any]
    metric: str
    value: float  # the chosen trial's validation metric at its best epoch
    mean: float  # the configuration's mean over its seeds
    std: float
    seeds: int
    test_acc: float
    test_loss: float
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, best: dict[str, Any]) -> Best:
        seeds = best.get("seeds") or {}
        metric = best.get("metric", "val_acc")
        return cls(best["trial_id"], dict(best.get("searched") or {}), dict(best.get("config") or {}), metric,
                   float(best[metric]), float(seeds.get("mean", best[metric])), float(seeds.get("std", 0.0) or 0.0),
                   int(seeds.get("n", 1)), float(best["test_acc"]), float(best["test_loss"]), best)

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def __contains__(self, key: str) -> bool:
        return key in self.raw

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    def __str__(self) -> str:
        searched = ", ".join(f"{k}={_fmt(v)}" for k, v in self.searched.items())
        spread = f" ± {_fmt_metric(self.std, self.metric)} over {self.seeds} seeds" if self.seeds > 1 else ""
        return (f"{searched}: {self.metric} {_fmt_metric(self.mean, self.metric)}{spread}; "
                f"test_acc {self.test_acc:.2%} (trial {self.trial_id})")


class Run:
    """A run folder read (tuner.analysis.load_run's RunData: `.spec`, `.info`, `.missing`, ... are its), with the
    chosen model and the report a call away."""

    def __init__(self, run_dir: str | Path):
        self.data: RunData = read_run(run_dir)
        self.run_dir = self.data.run_dir

    def __getattr__(self, name: str) -> Any:
        if name == "data":
            raise AttributeError(name)
        return getattr(self.data, name)

    def __repr__(self) -> str:
        best = self.best
        return f"Run({str(self.run_dir)!r}: {len(self.trials)} trials" + (f"; chosen {best})" if best else ")")

    @property
    def trials(self) -> Any:
        return self.data.trials

    @property
    def history(self) -> Any:
        return self.data.history

    @property
    def best(self) -> Best | None:
        return Best.from_json(self.data.best) if self.data.best else None

    @property
    def pareto(self) -> Any:
        """A multi-objective sweep's configurations (pandas, rule order): the mean of each objective, `pareto` (not
        dominated) and `chosen`; `run.pareto[run.pareto["pareto"]]` is the front. Empty for one objective."""
        return self.data.pareto

    def model(self, device: str = "cpu") -> Any:
        """The chosen configuration's architecture with its tested weights (best_model.pt), in eval mode. It takes
        images normalised as in training: (x / 255 - mean) / std with `normalization()`'s per-channel values."""
        import torch

        from tuner.runfolder import MODEL_FILE
        from tuner.train import models
        from tuner.train.config import TrainConfig
        from tuner.train.evaluation import load_file

        best = self.data.best
        if not best:
            raise UserError(f"{self.run_dir}: no configuration was chosen yet (no best.json)")
        use_code(self.run_dir)
        usercode.load_sweep_module(self.run_dir / SWEEP_FILE, best["config"].get("model"))
        cfg = TrainConfig.from_dict(best["config"])
        shape = tuple(best.get("image_shape") or self._image_shape())
        model = models.build(cfg.replace(model_args={**cfg.model_args, "weights": None}) if "weights" in cfg.model_args
                             else cfg, shape, len(best["classes"]))
        model.load_state_dict(load_file(self.run_dir / best.get("model_file", MODEL_FILE)))
        return model.to(torch.device(device)).eval()

    def normalization(self) -> tuple[list[float], list[float]]:
        """The chosen trial's per-channel (mean, std), in [0, 1] units, from its checkpoint."""
        from tuner.runfolder import STATE_FILE
        from tuner.train.evaluation import load_file

        checkpoint = (self.data.best or {}).get("checkpoint")
        if not checkpoint or not (Path(checkpoint) / STATE_FILE).exists():
            raise UserError(f"{self.run_dir}: the chosen trial's checkpoint {checkpoint} is not here")
        state = load_file(Path(checkpoint) / STATE_FILE)
        return list(state["normalizer"]["mean"]), list(state["normalizer"]["std"])

    def report(self, data_dir: str | None = None) -> Path:
        """Write (or rewrite) RUN_DIR/report.html; returns its path."""
        from tuner.analysis import write_report

        return write_report(self.data, data_dir=data_dir)

    def _image_shape(self) -> tuple[int, int, int]:
        from tuner.train import datasets

        use_code(self.run_dir)
        usercode.load_sweep_module(self.run_dir / SWEEP_FILE, self.data.sweep.get("data"))
        return datasets.load_sized(self.data.sweep.get("data", "mnist"), int(self.data.sweep.get("subset") or 0),
                                   fetch=False).image_shape


def load_run(run_dir: str | Path) -> Run:
    """A run folder (finished, running or killed) as a Run."""
    return Run(run_dir)


def run(sweep: Sweep | str | Path, *, results: str | None = None, data_dir: str | None = None,
        set: dict[str, Any] | None = None, smoke: bool = False, report: bool = True, address: str | None = None,
        dashboard: bool = False, mlflow: str | None = None, warm_start: list[str] | None = None, plan: bool = True,
        resume: str | Path | None = None, **fields: Any) -> Run:
    """Run a sweep (a Sweep or a sweep file's path) as `python -m tuner.sweep` does; returns its Run.

    `set` takes what --set takes ({"lr": 0.01} fixes a hyperparameter, {"search": "random"} a Sweep field); the
    command line's options are keywords: num_samples, max_epochs, data, gpus_per_trial, cpus_per_trial, seed,
    time_budget (seconds). `resume=RUN_DIR` continues a killed or interrupted run (with `sweep` None: the run's own
    sweep.py; a notebook's sweep: the same Sweep object again); num_samples then grows it. Bad input raises
    tuner.UserError with the message the command line prints.
    """
    from tuner.sweep import cli, engine

    unknown = sorted(set_ for set_ in fields if set_ not in OPTION_FIELDS)
    if unknown:
        raise UserError(f"tuner.run: unknown option {unknown[0]!r}; options: {', '.join(OPTION_FIELDS)}, results, "
                        "data_dir, set, smoke, report, address, dashboard, mlflow, warm_start, plan, resume")
    options = engine.RunOptions(results=results, data_dir=data_dir, address=address, dashboard=dashboard,
                                mlflow=mlflow, warm_start=list(warm_start or []), plan=plan)
    finish_args = argparse.Namespace(no_report=not report, data_dir=data_dir)
    if resume is not None:
        if set or smoke or any(k != "num_samples" for k in fields) or warm_start or results:
            raise UserError("tuner.run(resume=...) finishes a run as it was written: only num_samples may grow it")
        given = _as_sweep(sweep)[0] if sweep is not None else None
        run_dir, resumed, rounds = cli.resume_setup(str(resume), options, fields.get("num_samples"), given)
        return _finish(lambda: engine.resume(run_dir, resumed, options, rounds), finish_args, options, resumed.metric)
    if sweep is None:
        raise UserError("tuner.run needs a Sweep or a sweep file's path (or resume=RUN_DIR)")
    changes: dict[str, Any] = {"set": {k: _text(v) for k, v in (set or {}).items()}, "smoke": bool(smoke)}
    changes["set"].update({OPTION_FIELDS[k]: _text(v) for k, v in fields.items() if v is not None})
    options.cli = changes
    loaded, path = _as_sweep(sweep)
    loaded = cli.apply_changes(loaded, changes, str(path))
    if not plan and not loaded.time_budget_s:
        raise UserError("plan=False applies to a time budget: give time_budget too")
    return _finish(lambda: engine.run(loaded, path, options), finish_args, options, loaded.metric)


def _finish(start: Any, args: argparse.Namespace, options: Any, metric: str) -> Run:
    from tuner.sweep import cli, engine, lifecycle

    lifecycle.INTERRUPTS.clear()  # a signal noted by an earlier call is not this run's
    try:
        run_dir, written = start()
    except engine.SweepInterrupted as exc:
        cli.interrupted(exc, options)
        return Run(exc.run_dir)
    cli.finish(run_dir, written, args, options, metric)
    if not written["run"].get("trials"):
        raise UserError(f"the sweep ended ({written['run'].get('ended_by')}) before any trial reported a result; "
                        f"its run folder is {run_dir}")
    return Run(run_dir)


def _as_sweep(sweep: Sweep | str | Path) -> tuple[Sweep, Path]:
    """The Sweep and the file the run folder records as its sweep.py: a sweep file as given; a Sweep object's script
    (run as __main__), whose functions are then the sweep file's; a notebook's: a file that says how to resume."""
    from tuner.sweep import codedirs, owncode
    from tuner.sweep.load import load as load_sweep_file
    from tuner.sweep.spec import Sweep

    if isinstance(sweep, (str, Path)):
        return load_sweep_file(sweep), Path(sweep)
    if not isinstance(sweep, Sweep):
        raise UserError(f"tuner.run takes a Sweep or a sweep file's path, got a {type(sweep).__name__}")
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    if script and Path(script).suffix == ".py" and Path(script).is_file() \
            and any(value is sweep for value in vars(main).values()):  # a script that defines this sweep
        sys.modules[usercode.SWEEP_MODULE] = main  # "tuner_sweep_file:my_net", as when --resume loads the copy
        path = Path(script)
    else:
        path = Path(tempfile.mkdtemp(prefix="tuner-sweep-")) / SWEEP_FILE
        path.write_text(NOTEBOOK_SWEEP)
    import dataclasses

    code = codedirs.resolve(sweep.code, path.parent if script else Path.cwd())
    codedirs.importable(code)
    sweep = owncode.normalize(dataclasses.replace(sweep, name=sweep.name or (path.stem if script else "sweep"),
                                                  code=[str(p) for p in code]))
    return sweep, path


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _fmt_metric(value: float, metric: str) -> str:
    return f"{value:.2%}" if metric.endswith("acc") else f"{value:.4f}"

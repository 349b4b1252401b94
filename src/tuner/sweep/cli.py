"""Run a hyperparameter sweep:  tuner sweep sweeps/mnist_mlp.py [options]  (or python -m tuner.sweep ...)

Loads and validates the sweep file (bad input stops here with `error: ...`, exit 2, before
Ray starts), runs it with Ray Tune, writes the run folder, prints the ranking and the chosen
configuration's test accuracy (evaluated once, after selection on validation).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from tuner import runfolder, runspec
from tuner.analysis.text import chosen_text, pareto_table, ranking_table
from tuner.errors import UserError, run_cli
from tuner.runfolder import SWEEP_FILE, expand_paired
from tuner.search import space as space_lib
from tuner.sweep import budget, codedirs, engine, lifecycle, owncode, progress, rundir, storage
from tuner.sweep.load import apply_overrides, load, smoke
from tuner.sweep.spec import Sweep
from tuner.sweep.validate import check_with_data, validate
from tuner.sweep.writer import searched_keys
from tuner.train.config import parse_assignments


EXAMPLES = """examples:
  tuner sweep sweeps/mnist_mlp.py                          the main sweep (python -m tuner.sweep is the same)
  tuner sweep sweeps/mnist_mlp.py --smoke                  2 trials x 1 epoch: does the sweep file run?
  tuner sweep sweeps/mnist_mlp.py --dry-run                what would run; starts nothing
  tuner sweep sweeps/cifar_cnn.py --time-budget 240        the best model four minutes buy
  tuner sweep sweeps/cifar_cnn.py --set trial_scheduler=asha --set grace_period=2   stop weak trials early
  tuner sweep sweeps/cifar_cnn.py --data imagefolder:/path/to/images@32             your own images
  tuner sweep sweeps/mnist_mlp.py --set optimizer=adam --set lr=0.001             fix two, search the rest
  tuner sweep sweeps/cifar_cnn.py --set search=optuna-tpe --num-samples 20        Optuna's own TPE, 20 trials
  tuner sweep --resume runs/mnist_mlp-20261130-081500      continue a killed or interrupted sweep
  tuner sweep --resume runs/mnist_mlp-20261130-081500 --num-samples 24             grow it to 24 trials
then: tuner analysis RUN_DIR --open   (the ranking, the chosen configuration and report.html)
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tuner sweep", description=__doc__, epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sweep_file", nargs="?", help="a Python file defining `sweep = Sweep(...)` (omit with --resume)")
    p.add_argument("--num-samples", type=int, help="trials to draw (random/optuna; a grid runs each point once per "
                                                   "seed)")
    p.add_argument("--max-epochs", type=int, help="epochs per trial at most")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a Sweep field (search=random, trial_scheduler=none, gpu=0.5, ...) or fix a "
                        "hyperparameter (lr=0.01 removes lr from the search space); repeatable")
    p.add_argument("--data", metavar="SPEC", help="data set: mnist, fashion_mnist, cifar10, imagefolder:PATH, "
                                                  "synthetic[:CxHxW]")
    p.add_argument("--data-dir", help="data root (default $TUNER_DATA, else ~/.cache/tuner)")
    p.add_argument("--results", metavar="DIR|URI",
                   help="run folder to write (default runs/<sweep>-<YYYYmmdd-HHMMSS>), or shared storage such as "
                        "s3://bucket/runs/NAME: Ray keeps checkpoints there, the run folder is copied there at the end")
    p.add_argument("--address", help="join a Ray cluster: auto (on a cluster node) or ray://HOST:10001")
    p.add_argument("--gpus-per-trial", type=float, help="GPUs per trial; 0.25 packs four trials on a GPU")
    p.add_argument("--cpus-per-trial", type=float, help="CPUs per trial")
    p.add_argument("--smoke", action="store_true", help="2 trials x 1 epoch on a small subset: does it run?")
    p.add_argument("--resume", metavar="RUN_DIR|URI", help="continue a killed sweep from its run folder (or URI)")
    p.add_argument("--code", action="append", default=[], metavar="DIR",
                   help="a local package (folder with __init__.py) the sweep imports: shipped to every Ray worker, "
                        "copied into the run folder; repeatable (Sweep field: code=[...])")
    p.add_argument("--dry-run", action="store_true", help="print the resolved sweep and sample configs; run nothing")
    p.add_argument("--seed", type=int, help="seed of the search algorithm (which configurations are drawn)")
    p.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help="wall-clock budget for the whole sweep (search and confirm phase, from the command's start); "
                        "the best found by then is still tested")
    p.add_argument("--no-plan", action="store_true",
                   help="with --time-budget: run the sweep as written and stop it when the budget ends, instead of "
                        "sizing it to the budget first (docs/budget.md)")
    p.add_argument("--dashboard-host", default="127.0.0.1",
                   help="address the Ray dashboard binds to (default 127.0.0.1: this machine only)")
    p.add_argument("--no-dashboard", action="store_true", help="start the local Ray without its dashboard")
    p.add_argument("--no-report", action="store_true", help="skip writing RUN_DIR/report.html at the end")
    p.add_argument("--mlflow", nargs="?", const="default", metavar="URI",
                   help="log every trial as an MLflow run under one parent run: to a tracking server "
                        "(http://HOST:PORT) or, without URI, to sqlite:///RUN_DIR/mlflow.db")
    p.add_argument("--warm-start", action="append", default=[], metavar="RUN_DIR",
                   help="give an Optuna search the trials of an earlier run whose configurations fit this sweep's "
                        "space (same data and model), before its first trial; repeatable")
    return p


RESUME_FLAGS = ("num_samples", "data_dir", "address", "dashboard_host", "no_dashboard", "no_report")  # the others
#   would change a sweep that has run: --resume finishes it as written (or grows it with --num-samples)


def changes_from(args: argparse.Namespace) -> dict[str, Any]:
    """The command line's changes to the sweep, as saved in spec.json (and re-applied by --resume)."""
    changes: dict[str, Any] = {"set": parse_assignments(args.set)}
    for flag, key in (("num_samples", "num_samples"), ("max_epochs", "max_epochs"), ("data", "data"),
                      ("gpus_per_trial", "gpu"), ("cpus_per_trial", "cpu"), ("seed", "search_seed"),
                      ("time_budget", "time_budget_s")):
        value = getattr(args, flag)
        if value is not None:
            changes["set"][key] = str(value)
    changes["smoke"] = bool(args.smoke)
    return changes


def apply_changes(sweep: Sweep, changes: dict[str, Any], where: str) -> Sweep:
    sweep = apply_overrides(sweep, changes.get("set", {}))
    if changes.get("smoke"):
        sweep = smoke(sweep)
    validate(sweep, where=where)
    return sweep


def dry_run(sweep: Sweep, options: engine.RunOptions, where: str) -> None:
    dataset = engine.load_data(sweep, options.data_dir)
    checked = check_with_data(sweep, dataset, where)
    sweep, _ = budget.plan_budget(sweep, dataset, options.deadline(sweep), bool(options.address), options.plan)
    for key, value in sweep.to_json().items():
        if key == "space" and isinstance(value, dict):
            print("space:")
            for name, domain in value.items():
                print(f"  {name:<16} {domain}")
        else:
            print(f"{key + ':':<18}{json.dumps(value, default=str)}")
    print(f"trials to start: {sweep.expected_trials()} (search {sweep.search}, trial scheduler "
          f"{sweep.trial_scheduler}, up to {sweep.max_epochs} epochs each)")
    print(f"checked: {checked} configurations build for {dataset.name}'s "
          f"{'x'.join(map(str, dataset.image_shape))} images")
    for model, changes in owncode.model_changes(sweep, dataset.image_shape, dataset.num_classes).items():
        print(f"model {model} changed to fit the data: {'; '.join(changes)}")
    kind = "grid points" if sweep.search == "grid" else "configurations (start points, then draws; TPE adapts)" \
        if sweep.search == "optuna" else "sample configurations"
    print(f"first {kind}:")
    samples = [expand_paired(config) for config in [*space_lib.start_points(sweep),
                                                     *space_lib.sample_configs(sweep, 5)][:5]]
    names = searched_keys(sweep, samples)
    for config in samples:
        searched = {k: v for k, v in config.items() if k in names}
        print("  " + ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(searched.items())))


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def report(run_dir: Path, written: dict[str, Any], metric: str) -> None:
    info = written["run"]
    print(f"\n{info['trials']} trials, {info['trial_epochs']} trial-epochs in {info['wall_time_s']:.0f} s "
          f"({', '.join(f'{v} {k}' for k, v in sorted(info['trials_by_status'].items()))})")
    if info["ended_by"] == "time_budget":
        print("the time budget ended the sweep: " + ("the best configuration found by then was chosen and tested"
                                                      if written["best"] else "no trial had a usable result by then"))
    print(ranking_table(written["trials"], metric))
    front = pareto_table(written["trials"], runspec.read_spec(run_dir).objectives)
    if front:
        print("\n" + front)
    if info.get("smoke"):
        print("SMOKE TEST: a check that the sweep file runs (2 trials x 1 epoch on a small subset), not a result")
    print("\n" + chosen_text(written["best"], metric) if written["best"] else chosen_text(None, metric))
    print(f"run folder: {run_dir}")


def _check_resume_flags(args: argparse.Namespace) -> None:
    defaults = parser().parse_args([])
    given = [f"--{k.replace('_', '-')}" for k, v in vars(args).items()
             if k not in (*RESUME_FLAGS, "resume", "sweep_file") and v != getattr(defaults, k)]
    if given:
        raise UserError(f"{', '.join(given)} cannot change a sweep that has run: --resume finishes it as written "
                        "(--num-samples N grows it to N trials)")


def interrupted(exc: engine.SweepInterrupted, options: engine.RunOptions, chosen: bool = False) -> int:
    """The run folder of an interrupted sweep, copied to its URI if it has one, and the --resume line naming what
    --resume takes (the URI, else the folder). `chosen`: the signal came after the choice and its test (while the
    report or the copy was written), which the run folder keeps."""
    info = exc.written.get("run") or {}
    counts = ", ".join(f"{v} {k}" for k, v in sorted(info.get("trials_by_status", {}).items()))
    where = str(exc.run_dir)
    if storage.is_uri(options.results):
        storage.upload(exc.run_dir, options.results)
        where = options.results
    kept = "the choice and its one test evaluation are kept; --resume writes the report and the copy again" \
        if chosen else "nothing was chosen or tested"
    print(f"\ninterrupted ({exc.signal_name}): the run folder keeps every finished epoch ({counts or 'no trials'}); "
          f"{kept}. Continue with: python -m tuner.sweep --resume {where}", flush=True)
    return 130


def note_signals() -> Any:
    """From here to the command's exit, Ctrl-C and SIGTERM raise KeyboardInterrupt (Tune's own handler takes over
    while a phase runs) and are noted by name for the interrupted run's line. Returns the previous handlers."""
    def on_signal(number: int, frame: Any) -> None:
        lifecycle.INTERRUPTS["last"] = signal.Signals(number).name
        raise KeyboardInterrupt

    lifecycle.INTERRUPTS.clear()
    if threading.current_thread() is not threading.main_thread():
        return None
    if not getattr(sys.unraisablehook, "quiet_interrupts", False):
        sys.unraisablehook = _quiet_interrupts(sys.unraisablehook)
    return signal.signal(signal.SIGINT, on_signal), signal.signal(signal.SIGTERM, on_signal)


def _quiet_interrupts(hook: Any) -> Any:
    """Python's hook for exceptions it cannot raise (inside a __del__ or weakref callback), without the traceback of
    a KeyboardInterrupt: that interrupt is noted (lifecycle.signalled) and handled where the run is finished."""
    def quiet(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            hook(unraisable)

    quiet.quiet_interrupts = True
    return quiet


def write_analysis(run_dir: Path, data_dir: str | None) -> None:
    """The HTML report; a failure here must not lose the sweep, so it is reported and the run stands."""
    from tuner.analysis import load_run, write_report

    try:
        path = write_report(load_run(run_dir), data_dir=data_dir)
    except Exception as exc:  # the run folder is complete; the report can be redone with tuner.analysis
        print(f"warning: the report failed ({type(exc).__name__}: {exc}); retry: python -m tuner.analysis {run_dir}",
              file=sys.stderr)
        return
    print(f"report: {path}")


def finish(run_dir: Path, written: dict[str, Any], args: argparse.Namespace, options: engine.RunOptions,
           metric: str) -> int:
    """The ranking, the report and the copy to the URI; Ctrl-C or SIGTERM here marks the run interrupted (what was
    chosen and tested stays in the run folder: --resume keeps its one test evaluation, writes the rest again)."""
    try:
        report(run_dir, written, metric)
        if not args.no_report:
            write_analysis(run_dir, args.data_dir)
        if storage.is_uri(options.results):
            print(f"copying the run folder to {options.results}", flush=True)
            storage.upload(run_dir, options.results)
            print(f"run folder copied to {options.results}", flush=True)
        if lifecycle.signalled():  # its KeyboardInterrupt was lost in a __del__ or weakref callback
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        info = {**written["run"], "ended_by": "interrupted"}
        runfolder.write_json(run_dir / runfolder.RUN_FILE, info)
        return interrupted(engine.SweepInterrupted(run_dir, {"run": info}, lifecycle.interrupt_signal()), options,
                           chosen=bool(written.get("best")))
    return 0


def resume_setup(location: str, options: engine.RunOptions, num_samples: int | None = None,
                 sweep: Sweep | None = None) -> tuple[Path, Sweep, list[int] | None]:
    """--resume LOCATION: the run folder, its sweep as it ran (RUN_DIR/sweep.py, or `sweep` given from Python, with
    the command line's changes and the time budget's plan re-applied) and its rounds; `options` take the run's own
    command-line changes, MLflow run and storage."""
    run_dir, saved = rundir.open_run(location)
    sweep = apply_changes(sweep if sweep is not None else load(run_dir / SWEEP_FILE, run_dir=run_dir), saved.cli,
                          location)
    sweep = dataclasses.replace(sweep, name=saved.name or sweep.name,
                                code=[str(p) for p in codedirs.use_code(run_dir)])  # the run folder's copies
    if saved.plan:  # the time budget's plan, as the first run made it
        sweep = budget.apply(sweep, budget.Plan.from_json(saved.plan), saved.sweep.get("cpu", sweep.cpu))
    rounds = engine.grow(run_dir, saved, sweep, num_samples) if num_samples is not None else saved.rounds
    options.cli = saved.cli
    progress.start(options.started, smoke=bool(saved.cli.get("smoke")))
    options.tracking = saved.mlflow
    options.results = location if storage.is_uri(location) else None
    return run_dir, sweep, rounds


def main(argv: list[str] | None = None) -> int:
    previous = note_signals()
    try:
        return _main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous[0])
            signal.signal(signal.SIGTERM, previous[1])


def _main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    options = engine.RunOptions(results=args.results, data_dir=args.data_dir, address=args.address,
                                dashboard=not args.no_dashboard, dashboard_host=args.dashboard_host,
                                mlflow=args.mlflow, warm_start=args.warm_start, plan=not args.no_plan)
    progress.start(options.started, smoke=args.smoke)  # one clock for every line of this command
    if args.resume:
        if args.sweep_file:
            raise UserError("give either a sweep file or --resume RUN_DIR, not both")
        _check_resume_flags(args)
        run_dir, sweep, rounds = resume_setup(args.resume, options, args.num_samples)
        try:
            run_dir, written = engine.resume(run_dir, sweep, options, rounds)
        except engine.SweepInterrupted as exc:
            return interrupted(exc, options)
        return finish(run_dir, written, args, options, sweep.metric)
    if not args.sweep_file:
        raise UserError("give a sweep file (e.g. sweeps/mnist_mlp.py) or --resume RUN_DIR")
    path = Path(args.sweep_file)
    options.cli = changes_from(args)
    sweep = apply_changes(load(path, code=args.code), options.cli, str(path))
    if args.no_plan and not sweep.time_budget_s:
        raise UserError("--no-plan applies to a time budget: give --time-budget SECONDS (or time_budget_s) too")
    if args.dry_run:
        dry_run(sweep, options, str(path))
        return 0
    try:
        run_dir, written = engine.run(sweep, path, options)
    except engine.SweepInterrupted as exc:
        return interrupted(exc, options)
    return finish(run_dir, written, args, options, sweep.metric)


if __name__ == "__main__":
    sys.exit(run_cli(main))

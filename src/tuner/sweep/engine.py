"""Run a Sweep with Ray Tune: a new run folder, its phases (each round's search, then the confirm phase), --resume
and grow (--resume --num-samples), the run folder written at the end.

The library behind `python -m tuner.sweep`. The Tune objects of each phase are built in tuner.sweep.tuners, the
run folder is written by tuner.sweep.writer, the Ray session started by tuner.sweep.ray_session.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any


from tuner import runfolder, runspec, search
from tuner.errors import UserError
from tuner.integrations import mlflow_tracking as tracking
from tuner.runfolder import RAY_FOLDER, SPEC_FILE, SWEEP_FILE
from tuner.runspec import RunSpec
from tuner.search import warm as warm_lib
from tuner.search.optuna_search import fail_abandoned, study_name
from tuner.search.optuna_search import study_storage as journal_storage
from tuner.sweep import budget, codedirs, owncode, storage, tuners, writer
from tuner.sweep.lifecycle import MirrorFiles, TrialEnds, interrupt_signal, signalled
from tuner.sweep.prune import prune_ended
from tuner.sweep.rundir import check_results_location, experiment_path, new_run_dir
from tuner.sweep.ray_session import check_resources, dashboard_hint, fit_to_local_resources, start_ray
from tuner.sweep.spec import Sweep
from tuner.sweep.validate import check_with_data
from tuner.train import datasets
from tuner.train.data import Dataset

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: Ray stays quiet, ProgressLine reports
# Tune snapshots its experiment state whenever a trial has checkpointed num_to_keep times; with an epoch-long
# checkpoint cadence on a local disk that costs milliseconds, so its "may become a bottleneck" warning is noise.
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
SNAPSHOT_ENV = "TUNE_GLOBAL_CHECKPOINT_S"  # Ray Tune's period between snapshots of its experiment state
_SNAPSHOT_SET = os.environ.get(SNAPSHOT_ENV)  # what the user set, if anything


def snapshot_cadence(sweep: Sweep) -> None:
    """A driver killed at any moment resumes every trial from the checkpoint it last reported (no epoch run twice):
    Ray Tune snapshots its experiment at once whenever a trial has checkpointed num_to_keep times, so with
    checkpoint_keep 1 (every report) its own period (10 s or more) is enough; with more kept checkpoints a snapshot
    at every step of its controller keeps the window to one step. Ray copies each snapshot to the run folder in a
    background thread: a snapshot left behind a trial's newest checkpoint is mended on --resume
    (tuner.sweep.lifecycle.CheckpointsOnDisk). Trials told to the Optuna study after the last snapshot are reconciled
    on --resume (tuner.search.optuna_search)."""
    if _SNAPSHOT_SET is None:
        kept = search.population.checkpoints_to_keep(sweep)  # what Tune is told to keep (more under PBT)
        os.environ[SNAPSHOT_ENV] = "auto" if kept == 1 else "0"
SMOKE_TEST_IMAGES = 500


@dataclass
class RunOptions:
    results: str | None = None  # the run folder, or a URI (s3://...) for Ray's storage_path; default runs/<name>-<ts>
    data_dir: str | None = None
    address: str | None = None  # None: start a local Ray; "auto" or "ray://host:10001": join a cluster
    dashboard: bool = True
    dashboard_host: str = "127.0.0.1"
    device: str = "auto"  # where the driver evaluates the chosen model on the test set
    cli: dict[str, Any] = field(default_factory=dict)  # how the sweep was changed on the command line
    started: float = field(default_factory=time.time)  # when the command started: the time budget counts from here
    mlflow: str | None = None  # --mlflow: "default" (SQLite in the run folder) or a tracking URI; None: off
    tracking: dict[str, str] | None = None  # the sweep's MLflow parent run (spec.json keeps it for --resume)
    warm_start: list[str] = field(default_factory=list)  # --warm-start RUN_DIR ...: earlier runs the search learns from
    plan: bool = True  # with a time budget: size the sweep to it (tuner.plan); False: as written, stopped at the end

    def deadline(self, sweep: Sweep) -> float | None:
        return self.started + sweep.time_budget_s if sweep.time_budget_s else None


class SweepInterrupted(Exception):
    """Ctrl-C or SIGTERM stopped the sweep; the run folder holds everything finished, nothing was tested."""

    def __init__(self, run_dir: Path, written: dict[str, Any], signal_name: str):
        super().__init__(signal_name)
        self.run_dir, self.written, self.signal_name = run_dir, written, signal_name


def load_data(sweep: Sweep, data_dir: str | None) -> Dataset:
    return datasets.load_sized(sweep.data, sweep.subset, data_dir, SMOKE_TEST_IMAGES)


def seconds_left(deadline: float | None) -> float | None:
    """What a time budget leaves for the next phase's Tuner, at least a second; None without a budget."""
    return None if deadline is None else max(deadline - time.time(), 1)


# ---------------------------------------------------------------- running


def environment() -> dict[str, Any]:
    """Git commit, package versions and the command, saved with every run so any trial can be re-run."""
    versions = {}
    for package in ("torch", "torchvision", "ray", "optuna", "pandas", "numpy", "matplotlib"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                                cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"git_commit": commit, "versions": versions, "python": platform.python_version(),
            "host": platform.node(), "command": " ".join(sys.argv)}


def prepare(sweep: Sweep, sweep_path: Path, options: RunOptions, planned: budget.Plan | None = None) -> Path:
    run_dir = new_run_dir(sweep.name, options.results)
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sweep_path, run_dir / SWEEP_FILE)
    code = codedirs.copy(run_dir, [Path(p) for p in sweep.code])
    resolved = {"sweep": sweep.to_json(), "fixed_config": sweep.fixed_config(), "code": code,
                "searched": sorted(sweep.searched_names()), "cli": options.cli,
                "expected_trials": sweep.expected_trials(), "environment": environment(),
                "plan": planned.to_json() if planned else None}
    runfolder.write_json(run_dir / SPEC_FILE, resolved)
    if storage.is_uri(options.results):
        storage.upload(run_dir, options.results, [SWEEP_FILE, SPEC_FILE, *([runfolder.CODE_FOLDER] if code else [])])
    return run_dir


def execute(sweep: Sweep, run_dir: Path, dataset: Dataset, options: RunOptions, tuner: Any,
            resumed: bool = False, rounds: list[int] | None = None) -> dict[str, Any]:
    """Run (or finish) each round's search, then the confirm phase if the sweep asks for one and the search
    completed; write the run folder. Raises SweepInterrupted after Ctrl-C or SIGTERM, once what finished is
    written. `rounds`: trials drawn in all after each round (spec.json "rounds"; more than one after a grow)."""
    started = time.time()
    deadline = options.deadline(sweep)
    rounds = rounds or [sweep.samples]
    snapshot_cadence(sweep)
    print(f"run folder: {run_dir}", flush=True)
    grids, ends = [], {}
    signal_name = None
    try:
        for number in range(1, len(rounds) + 1):
            if number > 1:
                tuner = next_round_tuner(sweep, run_dir, dataset, options, rounds, number, deadline)
            ended_by = _fit(tuner, runfolder.round_label("search", number), grids, ends, deadline)
            if ended_by == "completed":
                ended_by = confirm_round(sweep, run_dir, dataset, options, grids, ends, deadline, number,
                                         last=number == len(rounds))
            if ended_by != "completed":
                break
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM outside Tune's own handling: between phases, while one starts
        ended_by, signal_name = "interrupted", interrupt_signal()
    if ended_by != "interrupted" and signalled():  # its KeyboardInterrupt was lost (lifecycle.signalled)
        ended_by, signal_name = "interrupted", interrupt_signal()
    signal_name = signal_name or next((e.signal for e in ends.values() if e.signal), None)
    info = {"started": datetime.fromtimestamp(started).isoformat(timespec="seconds"),
            "finished": None, "wall_time_s": None, "ended_by": ended_by, "resumed": resumed,
            "ray_address": options.address or "local", "expected_trials": sweep.expected_trials(),
            "phases": [phase for phase, _ in grids], "rounds": rounds, "smoke": bool(options.cli.get("smoke"))}
    previous = _previous_wall_time(run_dir) if resumed else 0.0
    try:
        info = _timed(info, started, previous)
        written = writer.write(run_dir, sweep, grids, dataset, info, options.device, ends) if grids else \
            interrupted_run(run_dir, started, resumed, info)
    except KeyboardInterrupt:  # during the test evaluation: what is written stays, nothing counts as chosen
        interrupted_run(run_dir, started, resumed, info)
    if options.tracking:
        tracking.finish(options.tracking, written["trials"], written["history"], written["best"], ended_by)
    if ended_by == "interrupted":
        raise SweepInterrupted(run_dir, written, signal_name or "SIGINT")
    return written


def interrupted_run(run_dir: Path, started: float, resumed: bool, info: dict[str, Any] | None = None) -> dict:
    """Ctrl-C or SIGTERM outside a phase: run.json says interrupted (what finished before stays), and
    SweepInterrupted carries the run folder to the command line."""
    previous = _previous_wall_time(run_dir) if resumed else 0.0
    base = {"started": datetime.fromtimestamp(started).isoformat(timespec="seconds"), "resumed": resumed,
            "phases": []}
    info = _timed({**base, **(info or {}), "ended_by": "interrupted"}, started, previous)
    runfolder.write_json(run_dir / runfolder.RUN_FILE, info)
    raise SweepInterrupted(run_dir, {"run": info, "best": None, "trials": None}, interrupt_signal())


def confirm_round(sweep: Sweep, run_dir: Path, dataset: Dataset, options: RunOptions,
                  grids: list[tuple[str, Any]], ends: dict[str, TrialEnds], deadline: float | None, number: int,
                  last: bool) -> str:
    """A round's confirm phase: finished again if it ran before, started only for the last round (it confirms the
    best of every round's search)."""
    folder = runfolder.round_folders(number)[1]
    storage_path = experiment_path(run_dir, options.results)
    if not sweep.needs_confirm or not (storage.restorable(storage_path, folder) or last):
        return "completed"
    left = None if deadline is None else deadline - time.time()
    if left is not None and left < 1:
        print("the time budget left no time for the confirm phase: the choice is among unconfirmed "
              "configurations", flush=True)
        return "time_budget"
    confirm = tuners.confirm_tuner(sweep, dataset, storage_path, grids, left,
                                   tracking_callbacks(options, "confirm", run_dir), folder)
    label = runfolder.round_label("confirm", number)
    return "completed" if confirm is None else _fit(confirm, label, grids, ends, deadline)


def next_round_tuner(sweep: Sweep, run_dir: Path, dataset: Dataset, options: RunOptions,
                     rounds: list[int], number: int, deadline: float | None) -> Any:
    """A grown sweep's search round: restored if it started before, else new, with the Optuna study intact."""
    folder = runfolder.round_folders(number)[0]
    storage_path = experiment_path(run_dir, options.results)
    more = tuners.round_sweep(sweep, rounds, number)
    study = study_storage(sweep, run_dir)
    if storage.restorable(storage_path, folder):
        return tuners.restored_tuner(more, dataset, storage_path, folder, study)
    if len(runspec.read_spec(run_dir).rounds or []) < number:  # recorded once the round starts, not before
        _add_to_spec(run_dir, {"rounds": rounds[:number]}, options.results)
    print(f"round {number}: {more.samples} more trials ({rounds[number - 1]} in all), search seed "
          f"{more.search_seed}", flush=True)
    return search_tuner(more, dataset, run_dir, seconds_left(deadline), options, study, folder)


def search_tuner(sweep: Sweep, dataset: Dataset, run_dir: Path, budget_s: float | None, options: RunOptions,
                 study: Any, folder: str = RAY_FOLDER) -> Any:
    """A search phase's new Tuner; trials a killed driver left RUNNING in the study are failed first (no search
    will tell them, and the constant liar would count them as pending forever)."""
    if study is not None:
        fail_abandoned(study, study_name(sweep))
    storage_path = experiment_path(run_dir, options.results)
    return tuners.build_tuner(sweep, dataset, storage_path, budget_s, tracking_callbacks(options, "search", run_dir),
                              study, folder)


def tracking_callbacks(options: RunOptions, phase: str, run_dir: Path | None = None) -> list[Any]:
    """MLflow's callback with --mlflow; at a URI, the run folder's study mirrored there at every Tune snapshot."""
    callbacks = [tracking.MLflowTrials(**options.tracking, phase=phase)] if options.tracking else []
    if run_dir is not None and storage.is_uri(options.results):
        callbacks.append(MirrorFiles(str(run_dir), options.results, (runfolder.STUDY_FILE,)))
    return callbacks


def study_storage(sweep: Sweep, run_dir: Path) -> Any:
    """An Optuna search's study, and a budgeted search's study per rung, live in the run folder (optuna-dashboard
    reads them; --resume and a warm start continue them)."""
    return journal_storage(run_dir) if sweep.search in search.OPTUNA_SEARCHES | search.BUDGETED_SEARCHES else None


def start_tracking(sweep: Sweep, run_dir: Path, options: RunOptions) -> None:
    """--mlflow: the sweep's parent run, recorded in spec.json so that --resume logs into the same runs."""
    if not options.mlflow:
        return
    uri = tracking.mlflow_uri(options.mlflow, run_dir)
    options.tracking = tracking.start_parent(uri, sweep.name, sweep.name, run_dir, sweep.fixed_config())
    _add_to_spec(run_dir, {"mlflow": options.tracking}, options.results)
    print(f"MLflow: {uri} (experiment {sweep.name!r}); open it with mlflow ui --backend-store-uri {uri}"
          if uri.startswith("sqlite") else f"MLflow: {uri} (experiment {sweep.name!r})", flush=True)


def _add_to_spec(run_dir: Path, entries: dict[str, Any], results: str | None = None) -> None:
    resolved = runfolder.read_json(run_dir / SPEC_FILE) or {}
    runfolder.write_json(run_dir / SPEC_FILE, {**resolved, **entries})
    if storage.is_uri(results):  # at once, as at the start: a --resume elsewhere reads it there
        storage.upload(run_dir, results, [SPEC_FILE])


def _fit(tuner: Any, phase: str, grids: list[tuple[str, Any]], ends: dict[str, TrialEnds],
         deadline: float | None) -> str:
    """tuner.fit() with Ctrl-C and SIGTERM turned into Tune's graceful stop; returns what ended the phase."""
    saved = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        grid = tuner.fit()
    finally:
        signal.signal(signal.SIGINT, saved[0])
        signal.signal(signal.SIGTERM, saved[1])
    grids.append((phase, grid))
    ends[phase] = TrialEnds.current
    prune_ended(grid, ends[phase])
    if ends[phase].signal:
        return "interrupted"
    print(f"{phase} phase ended: {len(grid)} trials", flush=True)
    if deadline is not None and time.time() >= deadline:
        return "time_budget"
    return "completed"


def _timed(info: dict[str, Any], started: float, previous: float) -> dict[str, Any]:
    wall = time.time() - started
    return {**info, "finished": datetime.now().isoformat(timespec="seconds"), "wall_time_s": round(wall, 2),
            "total_wall_time_s": round(previous + wall, 2)}


def _previous_wall_time(run_dir: Path) -> float:
    try:
        return float((runfolder.read_json(run_dir / runfolder.RUN_FILE) or {}).get("total_wall_time_s", 0))
    except (UserError, ValueError):
        return 0.0


def run(sweep: Sweep, sweep_path: Path, options: RunOptions) -> tuple[Path, dict[str, Any]]:
    """Start a new sweep: data loaded and every configuration checked, run folder, Ray, Tune; returns (run folder,
    written results)."""
    check_results_location(options.results)
    warm = warm_lib.collect(sweep, warm_lib.check_runs(options.warm_start)) if options.warm_start else None
    dataset = load_data(sweep, options.data_dir)
    check_with_data(sweep, dataset, str(sweep_path))
    training_path = budget.choose_paths(sweep, dataset, bool(options.address))
    sweep, planned = budget.plan_budget(sweep, dataset, options.deadline(sweep), bool(options.address), options.plan)
    if options.mlflow:
        tracking.check_reachable(options.mlflow)
    run_dir = prepare(sweep, sweep_path, options, planned)
    changes = owncode.model_changes(sweep, dataset.image_shape, dataset.num_classes)  # a library model fitted
    _add_to_spec(run_dir, {"training_path": training_path, **({"model_changes": changes} if changes else {})},
                 options.results)
    try:
        return run_prepared(sweep, run_dir, dataset, options, warm)
    except KeyboardInterrupt:  # before the search phase ran: the run folder is resumable (--resume starts it)
        interrupted_run(run_dir, options.started, resumed=False)


def run_prepared(sweep: Sweep, run_dir: Path, dataset: Dataset, options: RunOptions,
                 warm: warm_lib.WarmStart | None) -> tuple[Path, dict[str, Any]]:
    study = study_storage(sweep, run_dir)
    if warm is not None:
        warm_lib.give(sweep, study, warm)
        _add_to_spec(run_dir, {"warm_start": warm.to_json(options.warm_start)}, options.results)
    try:
        print(dashboard_hint(start_ray(options.address, options.dashboard, options.dashboard_host,
                                       run_dir / runfolder.RAY_LOG, codedirs.use_code(run_dir))), flush=True)
        check_resources(sweep, bool(options.address), options.address)
        start_tracking(sweep, run_dir, options)
    except UserError:  # nothing ran yet: leave no half-made run folder behind (its --results can be used again)
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    storage_path = experiment_path(run_dir, options.results)
    if options.address:
        storage.check_visible_from_every_node(storage_path, "--results" if options.results else "the run folder")
    sweep = fit_to_local_resources(sweep, bool(options.address))
    deadline = options.deadline(sweep)
    tuner = search_tuner(sweep, dataset, run_dir, seconds_left(deadline), options, study)
    if study is not None:
        print(f"Optuna study: {run_dir / runfolder.STUDY_FILE} (optuna-dashboard {run_dir / runfolder.STUDY_FILE})",
              flush=True)
    return run_dir, execute(sweep, run_dir, dataset, options, tuner)


def resume(run_dir: Path, sweep: Sweep, options: RunOptions, rounds: list[int] | None = None) -> tuple[Path,
                                                                                                   dict[str, Any]]:
    """Continue a killed or interrupted sweep with Tuner.restore: finished trials stay, unfinished ones restart
    from their checkpoints. With more `rounds` than before (--resume RUN_DIR --num-samples N) the finished sweep
    grows: a new search round draws the trials it adds, then the confirm phase and the test evaluation run again."""
    try:
        return run_dir, resume_phases(run_dir, sweep, options, rounds)
    except KeyboardInterrupt:
        interrupted_run(run_dir, options.started, resumed=True)


def resume_phases(run_dir: Path, sweep: Sweep, options: RunOptions, rounds: list[int] | None) -> dict[str, Any]:
    dataset = load_data(sweep, options.data_dir)
    print(dashboard_hint(start_ray(options.address, options.dashboard, options.dashboard_host,
                                   run_dir / runfolder.RAY_LOG, codedirs.use_code(run_dir))), flush=True)
    check_resources(sweep, bool(options.address), options.address)
    storage_path = experiment_path(run_dir, options.results)
    if options.address:
        storage.check_visible_from_every_node(storage_path, "the run's storage")
    sweep = fit_to_local_resources(sweep, bool(options.address))
    if options.tracking:
        tracking.reopen(options.tracking)
    study = study_storage(sweep, run_dir)
    if storage.restorable(storage_path, RAY_FOLDER):
        tuner = tuners.restored_tuner(sweep, dataset, storage_path, RAY_FOLDER, study)
    else:  # killed before Ray Tune recorded the search phase: it starts again
        tuner = search_tuner(sweep, dataset, run_dir, seconds_left(options.deadline(sweep)), options, study)
    return execute(sweep, run_dir, dataset, options, tuner, resumed=True, rounds=rounds)


def grow(run_dir: Path, saved: RunSpec, sweep: Sweep, num_samples: int) -> list[int]:
    """`--resume RUN_DIR --num-samples N`: the rounds after adding one that draws up to N trials in all; spec.json
    records it when it starts (a later --resume finishes it; a grow that fails before leaves the sweep as it was)."""
    if sweep.search == "grid":
        raise UserError("--num-samples with --resume grows a random or Optuna search; a grid's trials are its points "
                        "(write a sweep file with more points or seeds)")
    rounds = list(saved.rounds or [sweep.samples])
    if num_samples <= rounds[-1]:
        raise UserError(f"--num-samples {num_samples}: the sweep has drawn {rounds[-1]} trials already; give more to "
                        "grow it")
    return [*rounds, num_samples]

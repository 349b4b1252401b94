"""Run a Sweep with Ray Tune: build the Tuner from the spec, run or resume it, write the run folder.

The library behind `python -m tuner.sweep`. Ray and Optuna objects are used as they are:
Tuner, OptunaSearch, BasicVariantGenerator, ASHAScheduler/HyperBandScheduler/MedianStoppingRule,
with_parameters/with_resources, FailureConfig, CheckpointConfig.
"""

from __future__ import annotations

import json
import math
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

import pandas as pd

from tuner import data as data_lib
from tuner import plan as plan_lib
from tuner import probe as probe_lib
from tuner import results, search, spec, storage, tracking
from tuner import warm as warm_lib
from tuner.config import TrainConfig, expand_paired
from tuner.errors import UserError
from tuner.lifecycle import TrialEnds
from tuner.progress import ProgressLine
from tuner.spec import Sweep

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: Ray stays quiet, ProgressLine reports
# Tune snapshots its experiment state whenever a trial has checkpointed num_to_keep times; with an epoch-long
# checkpoint cadence on a local disk that costs milliseconds, so its "may become a bottleneck" warning is noise.
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
RAY_FOLDER = "ray"
CONFIRM_FOLDER = "ray_confirm"
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


def new_run_dir(sweep: Sweep, options: RunOptions) -> Path:
    if storage.is_uri(options.results):
        if storage.exists(options.results):
            raise UserError(f"--results {options.results} exists; resume it with --resume {options.results}")
        run_dir = storage.staging_dir(options.results)
        if run_dir.exists() and any(run_dir.iterdir()):
            raise UserError(f"{run_dir} (the local copy of --results {options.results}) exists and is not empty")
        return run_dir
    if options.results:
        run_dir = Path(options.results)
        if run_dir.exists() and any(run_dir.iterdir()):
            raise UserError(f"--results {run_dir} exists and is not empty; resume it with --resume {run_dir}")
        return run_dir
    return Path("runs") / f"{sweep.name}-{datetime.now():%Y%m%d-%H%M%S}"


def open_run(location: str) -> tuple[Path, dict[str, Any]]:
    """A run --resume can continue (a folder, or a URI whose small files are fetched into runs/<name>):
    it has spec.json, sweep.py and Ray's experiment state. Returns the local folder and spec.json."""
    run_dir = storage.download_run(location) if storage.is_uri(location) else Path(location)
    missing = [p.name for p in (run_dir / "spec.json", run_dir / "sweep.py") if not p.exists()]
    if not storage.exists(experiment_path(run_dir, location), RAY_FOLDER):
        missing.append(RAY_FOLDER)
    if missing:
        raise UserError(f"--resume {location} is not a tuner run folder (missing: {', '.join(missing)})")
    try:
        return run_dir, json.loads((run_dir / "spec.json").read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"--resume {location}: spec.json is not valid JSON ({exc})") from None


def experiment_path(run_dir: Path, results: str | None) -> str:
    """Where Ray Tune keeps the experiment and checkpoints: the --results URI, else the run folder."""
    return results if storage.is_uri(results) else str(run_dir.resolve())


def load_data(sweep: Sweep, data_dir: str | None) -> data_lib.Dataset:
    return data_lib.load_sized(sweep.data, sweep.subset, data_dir, SMOKE_TEST_IMAGES)


def param_space(sweep: Sweep) -> dict[str, Any]:
    from ray import tune

    fixed = sweep.fixed_config()
    searched = dict(sweep.space) if isinstance(sweep.space, dict) else {}
    grid_seeds = sweep.search == "grid" and len(sweep.seeds) > 1
    seeds = tune.grid_search(list(sweep.seeds)) if grid_seeds else sweep.seeds[0]  # others: confirm phase
    return {**fixed, **searched, "seed": seeds}


def trainable(sweep: Sweep, dataset: data_lib.Dataset) -> Any:
    from ray import tune

    from tuner.trainable import run_trial

    resources = {"cpu": sweep.cpu, "gpu": sweep.gpu}
    return tune.with_resources(tune.with_parameters(run_trial, data=dataset), resources)


def build_tuner(sweep: Sweep, dataset: data_lib.Dataset, storage_path: str, budget_s: float | None = None,
                callbacks: list[Any] | None = None, study: Any = None, folder: str = RAY_FOLDER) -> Any:
    """The search phase: the sweep's space, search algorithm and trial scheduler (tuner.search's registries);
    an Optuna search keeps its study in `study` (a persistent storage) when given."""
    from ray import tune

    metric, mode = search.objectives(sweep)
    multi = bool(sweep.objectives)
    tune_config = tune.TuneConfig(
        metric=None if multi else metric, mode=None if multi else mode,
        search_alg=search.search_algorithm(sweep, study), scheduler=search.trial_scheduler(sweep),
        num_samples=sweep.samples,
        max_concurrent_trials=(sweep.max_concurrent or None) if sweep.search in search.OPTUNA_SEARCHES else None,
        time_budget_s=budget_s, reuse_actors=True, trial_dirname_creator=results.trial_dirname)
    search_epochs = plan_lib.expected_trial_epochs(sweep) - plan_lib.confirm_trial_epochs(sweep)
    return tune.Tuner(trainable(sweep, dataset), param_space=param_space(sweep), tune_config=tune_config,
                      run_config=run_config(sweep, storage_path, folder, expected_trials(sweep), search_epochs,
                                            callbacks))


def run_config(sweep: Sweep, storage_path: str, name: str, total: int, expected_epochs: float | None = None,
               callbacks: list[Any] | None = None) -> Any:
    from ray import tune

    return tune.RunConfig(
        name=name, storage_path=storage_path, verbose=0,
        callbacks=[ProgressLine(sweep.metric, sweep.direction, total, sweep.max_epochs,
                                expected_epochs=expected_epochs), TrialEnds(), *(callbacks or [])],
        failure_config=tune.FailureConfig(max_failures=sweep.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=sweep.checkpoint_keep))


def needs_confirm(sweep: Sweep) -> bool:
    return sweep.search != "grid" and len(sweep.seeds) > 1 and sweep.confirm_top > 0


def restored_tuner(sweep: Sweep, dataset: data_lib.Dataset, storage_path: str, folder: str) -> Any:
    """A Tune experiment that started before: finished trials stay, unfinished ones continue from their
    checkpoints, errored ones stay errored (their retries were spent)."""
    from ray import tune

    return tune.Tuner.restore(f"{storage_path}/{folder}", trainable=trainable(sweep, dataset),
                              resume_unfinished=True, resume_errored=False, restart_errored=False)


def seconds_left(deadline: float | None) -> float | None:
    """What a time budget leaves for the next phase's Tuner, at least a second; None without a budget."""
    return None if deadline is None else max(deadline - time.time(), 1)


def confirm_tuner(sweep: Sweep, dataset: data_lib.Dataset, storage_path: str, grids: list[tuple[str, Any]],
                  budget_s: float | None = None, callbacks: list[Any] | None = None,
                  folder: str = CONFIRM_FOLDER) -> Any | None:
    """The confirm phase: the search's best configurations (tuner.select), full length, on every seed they have not
    run on yet (results.confirm_pairs)."""
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    if storage.exists(storage_path, folder):
        return restored_tuner(sweep, dataset, storage_path, folder)
    pairs = results.confirm_pairs(grids, sweep, sweep.confirm_top)
    if not pairs:
        return None
    configs = {json.dumps({k: v for k, v in p.items() if k != "seed"}, sort_keys=True, default=str) for p in pairs}
    print(f"confirm phase: the best {len(configs)} configurations again on seeds "
          f"{sorted({p['seed'] for p in pairs})} ({len(pairs)} trials)", flush=True)
    tune_config = tune.TuneConfig(
        metric=sweep.metric, mode=sweep.direction, num_samples=1, reuse_actors=True, time_budget_s=budget_s,
        search_alg=BasicVariantGenerator(max_concurrent=sweep.max_concurrent),
        trial_dirname_creator=results.trial_dirname)
    return tune.Tuner(trainable(sweep, dataset), param_space={"confirm": tune.grid_search(pairs)},
                      tune_config=tune_config,
                      run_config=run_config(sweep, storage_path, folder, len(pairs), len(pairs) * sweep.max_epochs,
                                            callbacks))


def round_folders(number: int) -> tuple[str, str]:
    """Ray's experiment folders of a sweep's round (1: the sweep as written; 2, ...: each --resume --num-samples)."""
    return (RAY_FOLDER, CONFIRM_FOLDER) if number == 1 else (f"{RAY_FOLDER}_{number}", f"{CONFIRM_FOLDER}_{number}")


def round_label(phase: str, number: int) -> str:
    return phase if number == 1 else f"{phase}{results.ROUND_MARK}{number}"


def round_sweep(sweep: Sweep, rounds: list[int], number: int) -> Sweep:
    """A later round draws the trials it adds, from a search seed of its own; start points ran in round 1."""
    import dataclasses

    return dataclasses.replace(sweep, num_samples=rounds[number - 1] - rounds[number - 2],
                               search_seed=sweep.search_seed + number - 1, start=[])


def expected_trials(sweep: Sweep) -> int:
    """Trials Tune will start: grid points (seeds included) x num_samples (1 for grid search)."""
    points = math.prod(len(v) for v in spec.grid_values(param_space(sweep)).values())
    return points * sweep.samples


# ---------------------------------------------------------------- Ray


def start_ray(options: RunOptions) -> str | None:
    """Join --address, or start a local Ray with its dashboard on dashboard_host; returns the dashboard URL."""
    import ray

    if ray.is_initialized():
        return None
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": True, "logging_level": "warning"}
    if options.address:
        context = ray.init(address=options.address, **kwargs)
    else:
        # address="local": a fresh embedded Ray, never a cluster someone else started on this machine
        context = ray.init(address="local", include_dashboard=options.dashboard, dashboard_host=options.dashboard_host,
                           **kwargs)
    url = getattr(context, "dashboard_url", None)
    return f"http://{url}" if url and not url.startswith("http") else url


def dashboard_hint(url: str | None) -> str:
    if not url:
        return "Ray dashboard: off (--no-dashboard or not available)"
    token = Path.home() / ".ray" / "auth_token"
    auth = (f"; it asks for a token: paste the output of `ray get-auth-token` (the file {token})"
            if os.environ.get("RAY_AUTH_MODE", "token") != "disabled" else "")
    return f"Ray dashboard: {url} (live trials, CPU/GPU use, logs){auth}"


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


def prepare(sweep: Sweep, sweep_path: Path, options: RunOptions, planned: plan_lib.Plan | None = None) -> Path:
    run_dir = new_run_dir(sweep, options)
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sweep_path, run_dir / "sweep.py")
    resolved = {"sweep": sweep.to_json(), "fixed_config": sweep.fixed_config(), "cli": options.cli,
                "expected_trials": expected_trials(sweep), "environment": environment(),
                "plan": planned.to_json() if planned else None}
    (run_dir / "spec.json").write_text(json.dumps(resolved, indent=2, default=str))
    if storage.is_uri(options.results):
        storage.upload(run_dir, options.results, ["sweep.py", "spec.json"])
    return run_dir


def execute(sweep: Sweep, run_dir: Path, dataset: data_lib.Dataset, options: RunOptions, tuner: Any,
            resumed: bool = False, rounds: list[int] | None = None) -> dict[str, Any]:
    """Run (or finish) each round's search, then the confirm phase if the sweep asks for one and the search
    completed; write the run folder. Raises SweepInterrupted after Ctrl-C or SIGTERM, once what finished is
    written. `rounds`: trials drawn in all after each round (spec.json "rounds"; more than one after a grow)."""
    started = time.time()
    deadline = options.deadline(sweep)
    rounds = rounds or [sweep.samples]
    print(f"run folder: {run_dir}", flush=True)
    grids, ends = [], {}
    for number in range(1, len(rounds) + 1):
        if number > 1:
            tuner = next_round_tuner(sweep, run_dir, dataset, options, rounds, number, deadline)
        ended_by = _fit(tuner, round_label("search", number), grids, ends, deadline)
        if ended_by == "completed":
            ended_by = confirm_round(sweep, run_dir, dataset, options, grids, ends, deadline, number,
                                     last=number == len(rounds))
        if ended_by != "completed":
            break
    signal_name = next((e.signal for e in ends.values() if e.signal), None)
    info = {"started": datetime.fromtimestamp(started).isoformat(timespec="seconds"),
            "finished": None, "wall_time_s": None, "ended_by": ended_by, "resumed": resumed,
            "ray_address": options.address or "local", "expected_trials": expected_trials(sweep),
            "phases": [phase for phase, _ in grids], "rounds": rounds}
    previous = _previous_wall_time(run_dir) if resumed else 0.0
    try:
        info = _timed(info, started, previous)
        written = results.write(run_dir, sweep, grids, dataset, info, options.device, ends)
    except KeyboardInterrupt:  # during the test evaluation: what is written stays, nothing counts as chosen
        info = _timed({**info, "ended_by": "interrupted"}, started, previous)
        (run_dir / "run.json").write_text(json.dumps(info, indent=2, default=str))
        raise SweepInterrupted(run_dir, {"run": info, "best": None, "trials": None}, "SIGINT") from None
    if options.tracking:
        tracking.finish(options.tracking, written["trials"], pd.read_csv(run_dir / "history.csv"), written["best"],
                        ended_by)
    if ended_by == "interrupted":
        raise SweepInterrupted(run_dir, written, signal_name or "SIGINT")
    return written


def confirm_round(sweep: Sweep, run_dir: Path, dataset: data_lib.Dataset, options: RunOptions,
                  grids: list[tuple[str, Any]], ends: dict[str, TrialEnds], deadline: float | None, number: int,
                  last: bool) -> str:
    """A round's confirm phase: finished again if it ran before, started only for the last round (it confirms the
    best of every round's search)."""
    folder = round_folders(number)[1]
    storage_path = experiment_path(run_dir, options.results)
    if not needs_confirm(sweep) or not (last or storage.exists(storage_path, folder)):
        return "completed"
    left = None if deadline is None else deadline - time.time()
    if left is not None and left < 1:
        print("the time budget left no time for the confirm phase: the choice is among unconfirmed "
              "configurations", flush=True)
        return "time_budget"
    confirm = confirm_tuner(sweep, dataset, storage_path, grids, left, tracking_callbacks(options, "confirm"),
                            folder)
    return "completed" if confirm is None else _fit(confirm, round_label("confirm", number), grids, ends, deadline)


def next_round_tuner(sweep: Sweep, run_dir: Path, dataset: data_lib.Dataset, options: RunOptions,
                     rounds: list[int], number: int, deadline: float | None) -> Any:
    """A grown sweep's search round: restored if it started before, else new, with the Optuna study (the run
    folder's journal: every earlier trial) intact."""
    folder = round_folders(number)[0]
    storage_path = experiment_path(run_dir, options.results)
    if storage.exists(storage_path, folder):
        return restored_tuner(sweep, dataset, storage_path, folder)
    more = round_sweep(sweep, rounds, number)
    print(f"round {number}: {more.samples} more trials ({rounds[number - 1]} in all), search seed "
          f"{more.search_seed}", flush=True)
    return build_tuner(more, dataset, storage_path, seconds_left(deadline),
                       tracking_callbacks(options, "search"), study_storage(sweep, run_dir), folder)


def tracking_callbacks(options: RunOptions, phase: str) -> list[Any]:
    return [tracking.MLflowTrials(**options.tracking, phase=phase)] if options.tracking else []


def study_storage(sweep: Sweep, run_dir: Path) -> Any:
    """An Optuna search's study lives in the run folder (optuna-dashboard reads it; --resume continues it)."""
    return tracking.study_storage(run_dir) if sweep.search in search.OPTUNA_SEARCHES else None


def start_tracking(sweep: Sweep, run_dir: Path, options: RunOptions) -> None:
    """--mlflow: the sweep's parent run, recorded in spec.json so that --resume logs into the same runs."""
    if not options.mlflow:
        return
    uri = tracking.mlflow_uri(options.mlflow, run_dir)
    options.tracking = tracking.start_parent(uri, sweep.name, sweep.name, run_dir, sweep.fixed_config())
    _add_to_spec(run_dir, {"mlflow": options.tracking})
    print(f"MLflow: {uri} (experiment {sweep.name!r}); open it with mlflow ui --backend-store-uri {uri}"
          if uri.startswith("sqlite") else f"MLflow: {uri} (experiment {sweep.name!r})", flush=True)


def _add_to_spec(run_dir: Path, entries: dict[str, Any]) -> None:
    resolved = json.loads((run_dir / "spec.json").read_text())
    (run_dir / "spec.json").write_text(json.dumps({**resolved, **entries}, indent=2, default=str))


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
    if ends[phase].signal:
        return "interrupted"
    if deadline is not None and time.time() >= deadline:
        return "time_budget"
    return "completed"


def _timed(info: dict[str, Any], started: float, previous: float) -> dict[str, Any]:
    wall = time.time() - started
    return {**info, "finished": datetime.now().isoformat(timespec="seconds"), "wall_time_s": round(wall, 2),
            "total_wall_time_s": round(previous + wall, 2)}


def _previous_wall_time(run_dir: Path) -> float:
    try:
        return float(json.loads((run_dir / "run.json").read_text()).get("total_wall_time_s", 0))
    except (OSError, ValueError):
        return 0.0


def first_config(sweep: Sweep) -> dict[str, Any]:
    """The configuration that runs first: the first start point, else the search's first draw."""
    first = sweep.start[0] if sweep.start else spec.sample_configs(sweep, 1)[0]
    return {**sweep.fixed_config(), **expand_paired(first)}


def local_slots(sweep: Sweep, cpus: int) -> int:
    """Trials at once on this machine: its GPUs over the GPU share per trial, else its CPUs over the CPUs per trial."""
    import torch

    if sweep.gpu > 0 and torch.cuda.is_available():
        return max(1, int(torch.cuda.device_count() / sweep.gpu))
    return max(1, int(cpus // max(sweep.cpu, 1)))


def plan_budget(sweep: Sweep, dataset: data_lib.Dataset, options: RunOptions) -> tuple[Sweep, plan_lib.Plan | None]:
    """With a time budget on this machine: time one epoch of the first configuration here, then size the sweep to
    what the budget left buys (tuner.plan). On a cluster the trials' machines are not this one: the budget then
    only ends the sweep."""
    import torch

    if not sweep.time_budget_s or not options.plan:
        estimate(sweep, dataset, options)
        return sweep, None
    if options.address:
        print("time budget on a cluster: it ends the sweep, but is not planned for (the trials' machines are not "
              "this one)", flush=True)
        return sweep, None
    cpus = os.cpu_count() or 1
    device = "cuda" if sweep.gpu > 0 and torch.cuda.is_available() else "cpu"
    measured = probe_lib.measure(TrainConfig.from_dict(first_config(sweep)), dataset, threads=cpus, device=device)
    left = options.deadline(sweep) - time.time()
    planned = plan_lib.make(sweep, measured, left, local_slots(sweep, cpus), sweep.time_budget_s - left)
    print(f"measured here: {measured.describe()}\nplan: {planned.describe()}", flush=True)
    return plan_lib.apply(sweep, planned, cpus), planned


def estimate(sweep: Sweep, dataset: data_lib.Dataset, options: RunOptions) -> float:
    """Print how long the sweep should take here: its expected trial-epochs (grid size, the trial scheduler's
    rungs, the confirm phase) x one epoch of its first configuration, timed now on a trial's threads. Returns
    the expected trial-epochs."""
    import torch

    total = plan_lib.expected_trial_epochs(sweep)
    if options.address:
        print(f"expected about {total:.0f} trial-epochs (their time on the cluster's machines is not estimated here)",
              flush=True)
        return total
    cpus = os.cpu_count() or 1
    on_gpu = sweep.gpu > 0 and torch.cuda.is_available()
    slots = local_slots(sweep, cpus)
    threads = max(1, int(cpus // slots)) if not on_gpu else max(1, int(sweep.cpu))
    measured = probe_lib.measure(TrainConfig.from_dict(first_config(sweep)), dataset, threads=threads,
                                 device="cuda" if on_gpu else "cpu")
    seconds = total * measured.epoch_s / slots + plan_lib.OVERHEAD_S
    print(f"estimated {probe_lib.estimate_text(seconds)} on this machine ({total:.0f} trial-epochs x "
          f"{measured.epoch_s:.3g} s, {slots} at once; one epoch of the first configuration timed here)", flush=True)
    if seconds > 3600 and sweep.gpu > 0 and not on_gpu:
        print(f"this sweep file asks for GPUs (gpu={sweep.gpu:g} per trial) and this machine has none: it would take "
              f"{probe_lib.estimate_text(seconds)} here. --time-budget SECONDS plans the best model that many "
              f"seconds buy; --smoke checks that the sweep runs at all", flush=True)
    return total


def check_with_data(sweep: Sweep, dataset: data_lib.Dataset, where: str = "sweep") -> int:
    """The checks that need the data, before Ray starts: every candidate configuration builds for the data's
    image shape (spec.check_buildable), and the validation split is not empty. Returns configurations checked."""
    cfg = TrainConfig.from_dict(sweep.fixed_config())
    labels = dataset.y_train if not cfg.subset else dataset.subset(cfg.subset, seed=cfg.split_seed).y_train
    train_idx, val_idx = data_lib.stratified_split(labels, cfg.val_fraction, cfg.split_seed)
    if len(val_idx) == 0 or len(train_idx) == 0:
        raise UserError(f"{where}: val_fraction {cfg.val_fraction} of {len(labels)} training images leaves "
                        f"{len(train_idx)} to train on and {len(val_idx)} to validate on")
    return spec.check_buildable(sweep, dataset.image_shape, dataset.num_classes, where)


def fit_to_local_resources(sweep: Sweep, options: RunOptions) -> Sweep:
    """On a local Ray without GPUs, a GPU sweep runs its trials on CPU instead of waiting forever.

    On a cluster (--address) GPU requests stand: an autoscaler may be about to add GPU nodes.
    """
    import dataclasses

    import ray

    if options.address or sweep.gpu == 0:
        return sweep
    resources = ray.cluster_resources()
    if resources.get("GPU", 0) > 0:
        return sweep
    cpu = min(max(sweep.cpu, 1), resources.get("CPU", 1))
    print(f"no GPU on this machine: trials run on CPU ({cpu:g} CPU each) instead of {sweep.gpu:g} GPU each",
          flush=True)
    return dataclasses.replace(sweep, gpu=0, cpu=cpu)


def run(sweep: Sweep, sweep_path: Path, options: RunOptions) -> tuple[Path, dict[str, Any]]:
    """Start a new sweep: data loaded and every configuration checked, run folder, Ray, Tune; returns (run folder,
    written results)."""
    warm = warm_lib.collect(sweep, warm_lib.check_runs(options.warm_start)) if options.warm_start else None
    dataset = load_data(sweep, options.data_dir)
    check_with_data(sweep, dataset, str(sweep_path))
    sweep, planned = plan_budget(sweep, dataset, options)
    if options.mlflow:
        tracking.check_reachable(options.mlflow)
    run_dir = prepare(sweep, sweep_path, options, planned)
    study = study_storage(sweep, run_dir)
    if warm is not None:
        warm_lib.give(sweep, study, warm)
        _add_to_spec(run_dir, {"warm_start": warm.to_json(options.warm_start)})
    try:
        start_tracking(sweep, run_dir, options)
    except UserError:  # nothing ran yet: leave no half-made run folder behind (its --results can be used again)
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    print(dashboard_hint(start_ray(options)), flush=True)
    storage_path = experiment_path(run_dir, options.results)
    if options.address:
        storage.check_visible_from_every_node(storage_path, "--results" if options.results else "the run folder")
    sweep = fit_to_local_resources(sweep, options)
    deadline = options.deadline(sweep)
    tuner = build_tuner(sweep, dataset, storage_path, seconds_left(deadline),
                        tracking_callbacks(options, "search"), study)
    if study is not None:
        print(f"Optuna study: {run_dir / tracking.STUDY_FILE} (optuna-dashboard {run_dir / tracking.STUDY_FILE})",
              flush=True)
    return run_dir, execute(sweep, run_dir, dataset, options, tuner)


def resume(run_dir: Path, sweep: Sweep, options: RunOptions, rounds: list[int] | None = None) -> tuple[Path,
                                                                                                   dict[str, Any]]:
    """Continue a killed or interrupted sweep with Tuner.restore: finished trials stay, unfinished ones restart
    from their checkpoints. With more `rounds` than before (--resume RUN_DIR --num-samples N) the finished sweep
    grows: a new search round draws the trials it adds, then the confirm phase and the test evaluation run again."""
    dataset = load_data(sweep, options.data_dir)
    print(dashboard_hint(start_ray(options)), flush=True)
    storage_path = experiment_path(run_dir, options.results)
    if options.address:
        storage.check_visible_from_every_node(storage_path, "the run's storage")
    sweep = fit_to_local_resources(sweep, options)
    if options.tracking:
        tracking.reopen(options.tracking)
    tuner = restored_tuner(sweep, dataset, storage_path, RAY_FOLDER)
    return run_dir, execute(sweep, run_dir, dataset, options, tuner, resumed=True, rounds=rounds)


def grow(run_dir: Path, saved: dict[str, Any], sweep: Sweep, num_samples: int) -> list[int]:
    """`--resume RUN_DIR --num-samples N`: the rounds after adding one that draws up to N trials in all, saved in
    spec.json (a later --resume finishes the same rounds)."""
    if sweep.search == "grid":
        raise UserError("--num-samples with --resume grows a random or Optuna search; a grid's trials are its points "
                        "(write a sweep file with more points or seeds)")
    rounds = list(saved.get("rounds") or [sweep.samples])
    if num_samples <= rounds[-1]:
        raise UserError(f"--num-samples {num_samples}: the sweep has drawn {rounds[-1]} trials already; give more to "
                        "grow it")
    rounds.append(num_samples)
    (run_dir / "spec.json").write_text(json.dumps({**saved, "rounds": rounds}, indent=2, default=str))
    return rounds

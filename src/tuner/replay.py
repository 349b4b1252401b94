"""Replay sweeps against recorded learning curves instead of training:

    python -m tuner.replay TABLE [--strategies NAME,...] [--seeds N] [--workers W] [--json PATH] [--out DIR]

TABLE is a run folder whose trials ran without a trial scheduler (any grid run), or a packed table
(`python -m tuner.tables pack`). For every strategy and search seed, the search algorithm and trial scheduler a
sweep file with the same fields would get (tuner.search's registries) are driven exactly as Ray Tune's
TuneController drives them (suggest, on_trial_add, on_trial_result -> CONTINUE/PAUSE/STOP, on_trial_complete,
choose_trial_to_run), by a virtual controller: a trial reports the recorded epochs of its configuration and
seed (a number the table lacks maps to the nearest recorded one), each epoch takes its recorded epoch_time_s
on one of W virtual workers, and decisions arrive in the order they would on W real ones. A sweep of hours
replays in a fraction of a second. After each epoch the incumbent -- what tuner would choose at that moment,
by tuner.select's rules -- is scored by its configuration's mean over the table's seeds. `--engine tune`
replays through Ray Tune's real Tuner instead (slow: one real trial per trial), to check the virtual one.

Strategies are named sets of Sweep fields (STRATEGIES below; `--define NAME:key=value,...` adds one). Each
search seed s runs the search on the table's seed (s mod seeds): searches see different training noise too.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import math
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from tuner import engine, results, select, spec, tables, warm
from tuner import search as search_lib
from tuner.config import expand_paired
from tuner.errors import UserError, run_cli

TARGET_GAP = 0.001  # "within 0.1 point": of the table's best mean validation accuracy
WARM_SEED_OFFSET = 10_007  # the earlier run a warm-started strategy is given draws with seeds no search uses
BASE: dict[str, Any] = {"num_samples": "points", "seeds": "one"}  # the table's configuration count; one seed
STRATEGIES: dict[str, dict[str, Any]] = {
    "grid": {"search": "grid", "trial_scheduler": "none", "seeds": "all"},  # the table itself
    "random": {**BASE, "search": "random", "trial_scheduler": "none"},
    "random-asha": {**BASE, "search": "random", "trial_scheduler": "asha"},
    "ray-default": {**BASE, "search": "ray-optuna", "trial_scheduler": "ray-asha"},
    "optuna-default": {**BASE, "search": "optuna-tpe", "trial_scheduler": "optuna-median"},
    "tuner-asha": {**BASE, "search": "optuna", "trial_scheduler": "asha", "seeds": "all"},  # tuner's TPE + ASHA
    # What a sweep file gets by default (docs/search.md): tuner's TPE, no early stopping, a confirm phase on the
    # table's other seeds.
    "tuner-default": {**BASE, "search": "optuna", "trial_scheduler": "none", "seeds": "all"},
}
DEFAULT_STRATEGIES = tuple(STRATEGIES)


# ---------------------------------------------------------------- one replay


@dataclass
class Replay:
    """One strategy, one search seed: the anytime curve and where it ended."""

    strategy: str
    seed: int
    steps: list[tuple[int, float, float, float]] = field(default_factory=list)  # trial-epochs, virtual s, mean, test
    trials: list[dict[str, Any]] = field(default_factory=list)
    final: tables.Point | None = None
    final_key: tuple | None = None

    @property
    def trial_epochs(self) -> int:
        return self.steps[-1][0] if self.steps else 0

    @property
    def virtual_s(self) -> float:
        return self.steps[-1][1] if self.steps else 0.0

    def to_target(self, target: float, metric: str) -> tuple[int | None, float | None]:
        """Trial-epochs and virtual seconds until the incumbent's table mean first reached the target."""
        for epochs, seconds, mean, _ in self.steps:
            if mean == target or select.is_better(mean, target, metric):
                return epochs, seconds
        return None, None


class Incumbent:
    """What tuner would choose now (tuner.select), from every trial's best value so far."""

    def __init__(self, table: tables.Table):
        self.table, self.metric = table, table.metric
        self.scores: dict[str, select.TrialScore] = {}
        self.points: dict[str, tables.Point] = {}

        self._chosen: tables.Point | None = None
        self._stale = True

    def update(self, trial_id: str, configuration: str, seed: int, status: str, value: float,
               point: tables.Point) -> None:
        old = self.scores.get(trial_id)
        if old is not None and not math.isnan(old.value) and not select.is_better(value, old.value, self.metric):
            value = old.value
        if old is None or old.value != value or old.status != status:
            self._stale = True
        self.scores[trial_id] = select.TrialScore(trial_id, configuration, seed, status, value)
        self.points[trial_id] = point

    def set_status(self, trial_id: str, status: str) -> None:
        if self.scores[trial_id].status != status:
            self.scores[trial_id].status = status
            self._stale = True

    def point(self) -> tables.Point | None:
        if self._stale:
            best = select.choose_configuration(self.scores.values(), self.metric)
            self._chosen = self.points[best.best_trial_id] if best else None
            self._stale = False
        return self._chosen


class VirtualController:
    """Calls a Ray Tune search algorithm and trial scheduler in the order Tune's TuneController does (ask the
    searcher while fewer than max_pending trials wait, start what the scheduler chooses on free workers,
    process the next result), with results that arrive at virtual times. It offers the part of the controller's
    interface that Tune's trial schedulers use (get_trials, get_live_trials, stop_trial, pause_trial)."""

    def __init__(self, search_alg: Any, scheduler: Any, workers: int, max_pending: int,
                 resolve: Callable[[Any], tables.Curve], on_result: Callable[[Any, dict], None],
                 on_end: Callable[[Any], None], clock: float = 0.0):
        self._search_alg, self._scheduler_alg = search_alg, scheduler
        self.workers, self.max_pending, self.clock = workers, max_pending, clock
        self._resolve, self._on_result, self._on_end = resolve, on_result, on_end
        self._trials: list[Any] = []
        self._done: dict[str, int] = {}  # epochs reported (a paused trial resumes after its last one)
        self._finish_at: dict[str, float] = {}
        self._elapsed: dict[str, float] = {}
        self._order: dict[str, int] = {}

    # -- the TuneController interface Tune's schedulers call
    @property
    def search_alg(self) -> Any:
        return self._search_alg

    def get_trials(self) -> list[Any]:
        return self._trials

    def get_live_trials(self) -> list[Any]:
        return [t for t in self._trials if not t.is_finished()]

    def has_resources_for_trial(self, trial: Any) -> bool:
        return self._running() < self.workers

    def pause_trial(self, trial: Any, should_checkpoint: bool = True) -> None:
        from ray.tune.experiment import Trial

        trial.set_status(Trial.PAUSED)

    def _set_trial_status(self, trial: Any, status: str) -> None:
        trial.set_status(status)

    def stop_trial(self, trial: Any) -> None:
        from ray.tune.experiment import Trial
        from ray.tune.utils import flatten_dict

        if trial.status in (Trial.ERROR, Trial.TERMINATED):
            return
        if trial.status in (Trial.PENDING, Trial.PAUSED):
            self._scheduler_alg.on_trial_remove(self, trial)
            self._search_alg.on_trial_complete(trial.trial_id)
        else:
            self._scheduler_alg.on_trial_complete(self, trial, flatten_dict(trial.last_result))
            self._search_alg.on_trial_complete(trial.trial_id, result=flatten_dict(trial.last_result))
        trial.set_status(Trial.TERMINATED)
        self._on_end(trial)

    # -- the loop
    def run(self) -> float:
        from ray.tune.experiment import Trial

        while True:
            self._ask()
            self._start()
            self._ask()
            running = [t for t in self._trials if t.status == Trial.RUNNING]
            if not running:
                if self._search_alg.is_finished() or not any(t.status == Trial.PENDING for t in self._trials):
                    for trial in self._trials:  # a paused trial nobody resumes (HyperBand's last bracket) ends
                        if trial.status == Trial.PAUSED:
                            self.stop_trial(trial)
                    if self._search_alg.is_finished():
                        return self.clock
                continue
            trial = min(running, key=lambda t: (self._finish_at[t.trial_id], self._order[t.trial_id]))
            self.clock = self._finish_at[trial.trial_id]
            self._report(trial)

    def _running(self) -> int:
        from ray.tune.experiment import Trial

        return sum(1 for t in self._trials if t.status == Trial.RUNNING)

    def _ask(self) -> None:
        from ray.tune.experiment import Trial

        while not self._search_alg.is_finished() and \
                sum(1 for t in self._trials if t.status == Trial.PENDING) < self.max_pending:
            trial = self._search_alg.next_trial()
            if trial is None:
                return
            self._order[trial.trial_id] = len(self._trials)
            self._trials.append(trial)
            self._done[trial.trial_id], self._elapsed[trial.trial_id] = 0, 0.0
            self._scheduler_alg.on_trial_add(self, trial)

    def _start(self) -> None:
        from ray.tune.experiment import Trial

        while self._running() < self.workers:
            trial = self._scheduler_alg.choose_trial_to_run(self)
            if trial is None:
                trial = next((t for t in self._trials if t.status == Trial.PENDING), None)
            if trial is None:
                return
            trial.set_status(Trial.RUNNING)
            if self._done[trial.trial_id] >= self._resolve(trial).length:  # paused after its last epoch: on resume
                self.stop_trial(trial)  # the trainable has nothing left to report and returns
            else:
                self._schedule_epoch(trial)

    def _schedule_epoch(self, trial: Any) -> None:
        curve = self._resolve(trial)
        epoch = self._done[trial.trial_id] + 1
        self._finish_at[trial.trial_id] = self.clock + curve.epochs[epoch - 1]["epoch_time_s"]

    def _report(self, trial: Any) -> None:
        from ray.tune.schedulers import TrialScheduler

        curve = self._resolve(trial)
        epoch = self._done[trial.trial_id] = self._done[trial.trial_id] + 1
        record = curve.epochs[epoch - 1]
        self._elapsed[trial.trial_id] += record["epoch_time_s"]
        last = epoch == curve.length
        status = FIT_END[curve.status] if last else "running"
        result = {**record, "epoch": epoch, "training_iteration": epoch, "status": status,
                  "time_this_iter_s": record["epoch_time_s"], "time_total_s": self._elapsed[trial.trial_id],
                  "trial_id": trial.trial_id, "done": False}
        if trial.should_stop(result):
            decision = TrialScheduler.STOP
        else:
            decision = self._scheduler_alg.on_trial_result(self, trial, result)
        if decision == TrialScheduler.STOP:
            result["done"] = True
        else:
            self._search_alg.on_trial_result(trial.trial_id, result)
        trial.update_last_result(result)
        self._on_result(trial, result)
        if decision == TrialScheduler.CONTINUE:
            if last:  # the trainable returns: Tune's final `done` result stops the trial
                self.stop_trial(trial)
            else:
                self._schedule_epoch(trial)
        elif decision == TrialScheduler.PAUSE:
            self.pause_trial(trial)
        elif decision == TrialScheduler.STOP:
            self.stop_trial(trial)


FIT_END = {"TERMINATED": "completed", "DIVERGED": "diverged", "STUCK": "stuck"}
STATUS_OF = {"completed": "TERMINATED", "diverged": "DIVERGED", "stuck": "STUCK", "running": "STOPPED_EARLY"}


def _replay_trainable(config: dict[str, Any]) -> None:
    """The trainable an Experiment is registered with; the virtual controller never calls it."""


def strategy_sweep(table: tables.Table, fields: dict[str, Any], seed: int) -> spec.Sweep:
    """The Sweep a strategy stands for, on this table, for search seed `seed`."""
    fields = {k: v for k, v in fields.items() if k != "warm_start"}  # not a Sweep field: replay_one tells it
    seeds = table.seeds[seed % len(table.seeds):] + table.seeds[:seed % len(table.seeds)]
    which = fields.pop("seeds", "one")
    samples = fields.pop("num_samples", "points")
    grid = fields.get("search") == "grid"
    fixed = {k: v for k, v in (table.sweep.get("fixed") or {}).items() if k not in spec.NOT_FIXED}
    space = fields.pop("space", None) or (table.grid_space() if grid else table.searched_space())
    sweep = spec.Sweep(
        name=table.name, data=str(table.sweep.get("data", "synthetic")), model=str(table.sweep.get("model", "mlp")),
        fixed=fixed, space=space, metric=table.metric,
        max_epochs=table.max_epochs, search_seed=seed,
        seeds=seeds if which == "all" else [seeds[0]] if which == "one" else list(which),
        num_samples=None if grid else (len(table.points) if samples == "points" else int(samples)))
    try:
        sweep = dataclasses.replace(sweep, **fields)
    except TypeError as exc:
        raise UserError(f"strategy: {exc}") from None
    spec.validate(sweep, where=f"strategy on table {table.name}")
    return sweep


def _search_objects(sweep: spec.Sweep, param_space: dict[str, Any], storage: str,
                    study: Any = None) -> tuple[Any, Any, int]:
    """The search algorithm and trial scheduler as tune.run prepares them, and Tune's max pending trials; an Optuna
    search keeps its study in `study` (an Optuna storage) if given."""
    from ray.tune import Experiment
    from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter, SearchGenerator, Searcher

    metric, mode = search_lib.objectives(sweep)
    search_alg = search_lib.search_algorithm(sweep, study)
    if isinstance(search_alg, Searcher) and sweep.max_concurrent:
        search_alg = ConcurrencyLimiter(search_alg, max_concurrent=sweep.max_concurrent)
    max_pending = 200 if isinstance(search_alg, BasicVariantGenerator) else \
        (search_alg.max_concurrent if isinstance(search_alg, ConcurrencyLimiter) else 1)
    if isinstance(search_alg, Searcher):
        search_alg = SearchGenerator(search_alg)
    experiment = Experiment("replay", run=_replay_trainable, config=param_space, num_samples=sweep.samples,
                            storage_path=storage)
    search_alg.set_search_properties(metric, mode, param_space, **experiment.public_spec)
    scheduler = search_lib.trial_scheduler(sweep)
    scheduler.set_search_properties(metric, mode, **experiment.public_spec)
    search_alg.add_configurations([experiment])
    return search_alg, scheduler, max_pending


def replay_one(table: tables.Table, name: str, fields: dict[str, Any], seed: int, workers: int) -> Replay:
    """Replay one strategy with one search seed (search phase, then tuner's confirm phase if the sweep has one)."""
    from ray import tune

    search_lib._quiet_optuna()
    warm_count = int(fields.get("warm_start", 0))
    sweep = strategy_sweep(table, fields, seed)
    out = Replay(name, seed)
    incumbent = Incumbent(table)
    trial_epochs = [0]
    ended: dict[str, dict[str, Any]] = {}

    known: dict[str, tuple[dict[str, Any], int, tables.Point, str]] = {}

    def about(trial: Any) -> tuple[dict[str, Any], int, tables.Point, str]:
        """A trial's configuration, seed, recorded point and configuration key (looked up once)."""
        if trial.trial_id not in known:
            config, trial_seed = _values(trial.config)
            key = " | ".join(f"{k}={config.get(k)!r}" for k in sorted(config))
            known[trial.trial_id] = (config, trial_seed, table.lookup(config), key)
        return known[trial.trial_id]

    def resolve(trial: Any) -> tables.Curve:
        _, trial_seed, point, _ = about(trial)
        return point.curves[trial_seed]

    def on_result(trial: Any, result: dict[str, Any]) -> None:
        config, trial_seed, point, key = about(trial)
        trial_epochs[0] += 1
        status = "RUNNING" if result["status"] == "running" else STATUS_OF[result["status"]]
        incumbent.update(trial.trial_id, key, trial_seed, status, float(result[table.metric]), point)
        chosen = incumbent.point()
        out.steps.append((trial_epochs[0], controller.clock, chosen.mean if chosen else math.nan,
                          chosen.test_mean if chosen else math.nan))
        ended[trial.trial_id] = {"config": config, "seed": trial_seed, "epochs": result["epoch"],
                                 "status": STATUS_OF[result["status"]], "point": table.point_key(point.values)}

    def on_end(trial: Any) -> None:
        if trial.trial_id in incumbent.scores:
            incumbent.set_status(trial.trial_id, ended[trial.trial_id]["status"])

    with tempfile.TemporaryDirectory() as storage:
        study = warm_study(table, sweep, warm_count, seed) if warm_count else None
        search_alg, scheduler, max_pending = _search_objects(sweep, engine.param_space(sweep), storage, study)
        controller = VirtualController(search_alg, scheduler, workers, max_pending, resolve, on_result, on_end)
        clock = controller.run()
        configs = _top_configs(incumbent, ended, sweep)
        if configs:
            confirm = dataclasses.replace(sweep, search="grid", trial_scheduler="none", num_samples=None,
                                          search_options={}, max_concurrent=0)
            confirm_space = {"confirm": tune.grid_search(configs), "seed": tune.grid_search(sweep.seeds[1:])}
            search_alg, scheduler, max_pending = _search_objects(confirm, confirm_space, storage)
            controller = VirtualController(search_alg, scheduler, workers, max_pending, resolve, on_result, on_end,
                                           clock)
            controller.run()
    out.trials = [{**record, "trial_id": tid} for tid, record in ended.items()]
    out.final = incumbent.point()
    out.final_key = table.point_key(out.final.values) if out.final is not None else None
    return out


def warm_study(table: tables.Table, sweep: spec.Sweep, count: int, seed: int) -> Any:
    """An in-memory Optuna storage told, as `--warm-start` tells a sweep's study (tuner.warm), an earlier run: `count`
    configurations of the table drawn at random (with a seed no search seed uses), each trained to its end on the
    table's first seed. Their trial-epochs were spent before this sweep and are not counted in its cost."""
    import numpy as np
    import optuna

    rng = np.random.default_rng(WARM_SEED_OFFSET + seed)
    keys = list(table.points)
    chosen = [table.points[keys[i]] for i in rng.choice(len(keys), size=min(count, len(keys)), replace=False)]
    evaluated = []
    for point in chosen:
        curve = point.curves[min(point.curves)]
        values = {int(e["epoch"]): float(e[table.metric]) for e in curve.epochs if not math.isnan(e[table.metric])}
        params, distributions = warm.fitted_params(sweep, {**sweep.fixed_config(), **point.values})
        evaluated.append(warm.Evaluated(f"{table.name} {curve.trial_id}", params, distributions, "COMPLETE",
                                        curve.best(table.metric), values))
    storage = optuna.storages.InMemoryStorage()
    warm.give(sweep, storage, warm.WarmStart(taken=evaluated), say=None)
    return storage


def replay_with_tune(table: tables.Table, name: str, fields: dict[str, Any], seed: int, workers: int,
                     time_scale: float = 0.0) -> Replay:
    """The same replay through Ray Tune's real Tuner (one real trial per trial, each epoch reported from the table
    after sleeping its recorded time x time_scale), to check the virtual controller against. Needs a running Ray
    with `workers` CPUs; the search phase only."""
    from ray import tune

    search_lib._quiet_optuna()
    sweep = strategy_sweep(table, fields, seed)
    metric, mode = search_lib.objectives(sweep)
    with tempfile.TemporaryDirectory() as storage:
        tuner = tune.Tuner(
            tune.with_resources(tune.with_parameters(_tune_trainable, table=table, time_scale=time_scale), {"cpu": 1}),
            param_space=engine.param_space(sweep),
            tune_config=tune.TuneConfig(metric=metric, mode=mode, search_alg=search_lib.search_algorithm(sweep),
                                        scheduler=search_lib.trial_scheduler(sweep), num_samples=sweep.samples,
                                        reuse_actors=True, trial_dirname_creator=results.trial_dirname),
            run_config=tune.RunConfig(name="replay", storage_path=storage, verbose=0))
        grid = tuner.fit()
        out = Replay(name, seed)
        for result in grid:  # in the order Tune created the trials
            config, trial_seed = _values(result.config)
            last = result.metrics or {}
            out.trials.append({"config": config, "seed": trial_seed, "epochs": last.get("epoch", 0),
                               "status": STATUS_OF.get(last.get("status"), "ERROR"),
                               "point": table.point_key(table.lookup(config).values)})
    return out


def _tune_trainable(config: dict[str, Any], table: tables.Table, time_scale: float) -> None:
    """Reports the recorded epochs, with a checkpoint each, as tuner's trainable does (a paused or restarted trial
    resumes after its last checkpoint)."""
    from ray import tune

    values, trial_seed = _values(config)
    curve = table.lookup(values).curves[trial_seed]
    checkpoint = tune.get_checkpoint()
    start = 0
    if checkpoint:
        with checkpoint.as_directory() as folder:
            start = json.loads((Path(folder) / "epoch.json").read_text())["epoch"]
    for epoch in range(start + 1, curve.length + 1):
        record = curve.epochs[epoch - 1]
        time.sleep(record["epoch_time_s"] * time_scale)
        status = FIT_END[curve.status] if epoch == curve.length else "running"
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "epoch.json").write_text(json.dumps({"epoch": epoch}))
            tune.report({**record, "epoch": epoch, "status": status},
                        checkpoint=tune.Checkpoint.from_directory(folder))


def _values(config: dict[str, Any]) -> tuple[dict[str, Any], int]:
    merged = expand_paired({**config.get("confirm", {}), **{k: v for k, v in config.items() if k != "confirm"}})
    seed = int(merged.pop("seed", 0))
    return merged, seed


def _top_configs(incumbent: Incumbent, ended: dict[str, dict[str, Any]], sweep: spec.Sweep) -> list[dict[str, Any]]:
    """The search's best configurations for the confirm phase, as the engine picks them (tuner.select)."""
    if not engine.needs_confirm(sweep):
        return []
    ranked = select.score_configurations(incumbent.scores.values(), incumbent.metric)[:sweep.confirm_top]
    return [ended[c.best_trial_id]["config"] for c in ranked]


# ---------------------------------------------------------------- many replays


@dataclass
class Summary:
    name: str
    replays: list[Replay]
    target: float
    best_key: tuple
    table: tables.Table

    def _to_target(self) -> tuple[list[float], list[float]]:
        hits = [r.to_target(self.target, self.table.metric) for r in self.replays]
        return [math.inf if e is None else e for e, _ in hits], [math.inf if s is None else s for _, s in hits]

    @property
    def reached(self) -> int:
        return sum(1 for e in self._to_target()[0] if math.isfinite(e))

    def quartiles(self, which: int) -> list[float | None]:
        values = self._to_target()[which]
        return [_finite(float(np.quantile(values, q, method="lower"))) for q in (0.25, 0.5, 0.75)]

    def finals(self, attribute: str) -> list[float]:
        return [getattr(r.final, attribute) if r.final is not None else math.nan for r in self.replays]

    @property
    def chose_best(self) -> int:
        return sum(1 for r in self.replays if r.final_key == self.best_key)

    def to_json(self) -> dict[str, Any]:
        epochs, seconds = self.quartiles(0), self.quartiles(1)
        spent = [r.trial_epochs for r in self.replays]
        return {"seeds": len(self.replays), "reached": self.reached,
                "median_trial_epochs_to_target": epochs[1], "trial_epochs_to_target_quartiles": [epochs[0], epochs[2]],
                "median_virtual_s_to_target": seconds[1], "virtual_s_to_target_quartiles": [seconds[0], seconds[2]],
                "median_final_mean_val": float(np.nanmedian(self.finals("mean"))),
                "median_final_mean_test": _finite(float(np.nanmedian(self.finals("test_mean")))) if self.table.has_test
                else None,
                "chose_best": self.chose_best, "median_trial_epochs_spent": float(np.median(spent)),
                "median_virtual_s_spent": float(np.median([r.virtual_s for r in self.replays]))}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _job(args: tuple) -> Replay:
    table_path, name, fields, seed, workers = args
    return replay_one(_TABLES.setdefault(table_path, tables.load(table_path)), name, fields, seed, workers)


_TABLES: dict[str, tables.Table] = {}


def _worker_signals() -> None:
    """A replay process ends quietly when the pool is closed (the CLI's own SIGTERM handler is inherited)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run(table: tables.Table, strategies: dict[str, dict[str, Any]], seeds: int, workers: int,
        processes: int | None = None, progress: Callable[[str], None] | None = None) -> dict[str, Summary]:
    """Every strategy x search seed; the replays run in parallel processes (each reloads the table)."""
    for name, fields in strategies.items():
        strategy_sweep(table, fields, 0)  # a bad strategy fails here, once, before any replay
    jobs = [(table.source, name, fields, seed, workers) for name, fields in strategies.items() for seed in range(seeds)]
    processes = processes or min(os.cpu_count() or 1, len(jobs))
    _TABLES[table.source] = table
    started, results = time.time(), {name: [] for name in strategies}
    if processes > 1:
        context = multiprocessing.get_context("fork")
        with context.Pool(processes, initializer=_worker_signals) as pool:
            iterator = pool.imap(_job, jobs)
            for index, replay in enumerate(iterator, 1):
                results[replay.strategy].append(replay)
                _tell(progress, index, len(jobs), replay, started)
    else:
        for index, job in enumerate(jobs, 1):
            replay = _job(job)
            results[replay.strategy].append(replay)
            _tell(progress, index, len(jobs), replay, started)
    target = table.best.mean - TARGET_GAP if select.direction(table.metric) == "max" else table.best.mean + TARGET_GAP
    return {name: Summary(name, replays, target, table._best_key, table) for name, replays in results.items()}


def _tell(progress: Callable[[str], None] | None, index: int, total: int, replay: Replay, started: float) -> None:
    if progress is not None:
        final = f"{replay.final.mean:.4f}" if replay.final is not None else "-"
        progress(f"[{time.time() - started:5.1f}s] {index}/{total} {replay.strategy} seed {replay.seed}: "
                 f"{replay.trial_epochs} trial-epochs, final choice's table mean {final}")


# ---------------------------------------------------------------- reporting


def to_json(table: tables.Table, summaries: dict[str, Summary]) -> dict[str, Any]:
    target = next(iter(summaries.values())).target
    return {"table": table.name, "source": table.source, "metric": table.metric,
            "grid_trial_epochs": table.trial_epochs, "best_mean_val": table.best.mean,
            "best_mean_test": table.best.test_mean if table.has_test else None,
            "best_configuration": table.best.values, "target": target,
            "strategies": {name: summary.to_json() for name, summary in summaries.items()}}


def markdown(table: tables.Table, summaries: dict[str, Summary], workers: int) -> str:
    data = to_json(table, summaries)
    seeds = max(s["seeds"] for s in data["strategies"].values())
    lines = [f"Replay of table `{table.name}` ({len(table.points)} configurations x {len(table.seeds)} seeds, "
             f"{table.trial_epochs} trial-epochs as a grid), {seeds} search seeds, {workers} virtual workers.",
             f"Best configuration: {_config_text(table.best.values)}, mean {table.metric} {table.best.mean:.4f}"
             + (f", test {table.best.test_mean:.4f}" if table.has_test else "") +
             f"; target: within 0.1 point ({data['target']:.4f}).", "",
             "| strategy | reached | trial-epochs to target: median [q25, q75] | share of the grid | virtual time to "
             "target | final choice: mean val | mean test | chose the best | trial-epochs spent |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, s in data["strategies"].items():
        q = s["trial_epochs_to_target_quartiles"]
        median = s["median_trial_epochs_to_target"]
        epochs = f"{_num(median)} [{_num(q[0])}, {_num(q[1])}]"
        share = f"{median / table.trial_epochs:.0%}" if median is not None else "-"
        seconds = f"{_num(s['median_virtual_s_to_target'])} s" if s["median_virtual_s_to_target"] is not None else "-"
        test = f"{s['median_final_mean_test']:.4f}" if s["median_final_mean_test"] is not None else "-"
        lines.append(f"| {name} | {s['reached']}/{s['seeds']} | {epochs} | {share} | {seconds} | "
                     f"{s['median_final_mean_val']:.4f} | {test} | {s['chose_best']}/{s['seeds']} | "
                     f"{s['median_trial_epochs_spent']:.0f} |")
    lines += ["", "Medians over search seeds; a seed that never got within 0.1 point counts as never (a median is "
              "shown only where at least half the seeds got there). 'mean val' and 'mean test' are the final choice's "
              "configuration's means over the table's seeds."]
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _config_text(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


def anytime_plot(table: tables.Table, summaries: dict[str, Summary], path: Path) -> None:
    """Incumbent's table mean against trial-epochs: median and quartile band per strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    longest = max(r.trial_epochs for s in summaries.values() for r in s.replays)
    xs = np.unique(np.geomspace(1, max(longest, 2), 300).astype(int))
    fig, ax = plt.subplots(figsize=(10, 6))
    scale = 100 if table.metric.endswith("acc") else 1
    for name, summary in summaries.items():
        curves = np.array([_step_values(r, xs) for r in summary.replays]) * scale
        median = np.nanmedian(curves, axis=0)
        ax.plot(xs, median, label=name, lw=2)
        ax.fill_between(xs, np.nanquantile(curves, 0.25, axis=0), np.nanquantile(curves, 0.75, axis=0), alpha=0.2)
    best = table.best.mean * scale
    ax.axhline(best, color="k", lw=1, label=f"table best {best:.2f}")
    target = next(iter(summaries.values())).target * scale
    ax.axhline(target, color="k", lw=1, ls="--", label="target (0.1 point)")
    ax.axvline(table.trial_epochs, color="grey", lw=1, ls=":", label="grid's trial-epochs")
    ax.set_xscale("log")
    means = np.array([p.mean * scale for p in table.points.values() if p.usable])
    spread = max(best - float(np.quantile(means, 0.5)), 1e-6)
    ax.set_ylim(best - min(spread, 5.0 if scale == 100 else spread), best + 0.1 * spread)
    ax.set(xlabel="trial-epochs (log)", ylabel=f"incumbent's table mean {table.metric}" + (" (%)" if scale == 100
                                                                                             else ""),
           title=f"Anytime performance on {table.name}: median and quartiles over search seeds")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _step_values(replay: Replay, xs: np.ndarray) -> np.ndarray:
    epochs = np.array([s[0] for s in replay.steps])
    means = np.array([s[2] for s in replay.steps])
    index = np.searchsorted(epochs, xs, side="right") - 1
    return np.where(index >= 0, means[np.clip(index, 0, None)], np.nan)


# ---------------------------------------------------------------- command line


def parse_define(text: str) -> tuple[str, dict[str, Any]]:
    """`NAME:key=value,key=value` (base=STRATEGY starts from a built-in; search_options.KEY=VALUE sets one;
    warm_start=N gives the search an earlier run of N table configurations first, as --warm-start would)."""
    name, sep, body = text.partition(":")
    if not sep or not name.strip():
        raise UserError(f"--define expects NAME:key=value,..., got {text!r}")
    fields: dict[str, Any] = {}
    hints = spec._sweep_hints()
    for item in filter(None, (part.strip() for part in body.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise UserError(f"--define {name}: expected key=value, got {item!r}")
        if key == "base":
            if value not in STRATEGIES:
                raise UserError(f"--define {name}: unknown base strategy {value!r}; one of {', '.join(STRATEGIES)}")
            fields = {**STRATEGIES[value], **fields}
        elif key.startswith("search_options."):
            fields.setdefault("search_options", {})[key.removeprefix("search_options.")] = _literal(value)
        elif key in ("seeds", "num_samples") and value in ("one", "all", "points"):
            fields[key] = value
        elif key == "warm_start":  # an earlier run of that many table configurations, told first (tuner.warm)
            fields[key] = int(_literal(value))
        elif key in hints and key not in ("space", "fixed", "objectives"):
            fields[key] = spec._coerce_sweep_field(key, value, hints[key])
        else:
            raise UserError(f"--define {name}: {key!r} is not a Sweep field a strategy can set")
    return name.strip(), fields


def load_strategies_file(path: str) -> dict[str, dict[str, Any]]:
    """A Python file defining STRATEGIES = {NAME: {Sweep field: value}}; a strategy may set its own `space`
    (a dict of Ray Tune domains or an Optuna define-by-run function over the table's hyperparameters)."""
    import importlib.util

    file = Path(path)
    if not file.is_file():
        raise UserError(f"--define-file {file} not found")
    module_spec = importlib.util.spec_from_file_location("tuner_strategies_file", file)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules["tuner_strategies_file"] = module  # replays in other processes unpickle its functions by name
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        raise UserError(f"--define-file {file}: {type(exc).__name__}: {exc}") from None
    strategies = getattr(module, "STRATEGIES", None)
    if not isinstance(strategies, dict) or not all(isinstance(v, dict) for v in strategies.values()):
        raise UserError(f"--define-file {file} defines no STRATEGIES = {{NAME: {{field: value}}}}")
    return {name: {**STRATEGIES.get(fields.get("base", ""), {}), **{k: v for k, v in fields.items() if k != "base"}}
            for name, fields in strategies.items()}


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tuner.replay", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", help="a packed table (.tar.gz) or a run folder whose trials ran without a trial "
                                      "scheduler")
    parser.add_argument("--strategies", default=",".join(DEFAULT_STRATEGIES),
                        help=f"comma-separated names (default: all of {', '.join(DEFAULT_STRATEGIES)})")
    parser.add_argument("--define", action="append", default=[], metavar="NAME:key=value,...",
                        help="add a strategy, e.g. 'slow-asha:base=tuner-default,grace_period=5'; repeatable")
    parser.add_argument("--define-file", metavar="FILE.py", help="add the strategies a Python file defines as "
                                                                  "STRATEGIES = {NAME: {field: value}} (a strategy "
                                                                  "may bring its own space)")
    parser.add_argument("--seeds", type=int, default=10, help="search seeds per strategy (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="virtual workers: trials at once (default 2)")
    parser.add_argument("--processes", type=int, help="replays run in parallel in this many processes "
                                                      "(default: the CPU count)")
    parser.add_argument("--json", metavar="PATH", help="also write the summary as JSON here")
    parser.add_argument("--out", metavar="DIR", help="folder for replay.md, replay.json and anytime.png "
                                                     "(default runs/replay-<table>-<time>)")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.workers < 1:
        raise UserError("--seeds and --workers must be at least 1")
    defined = {**(load_strategies_file(args.define_file) if args.define_file else {}),
               **dict(parse_define(text) for text in args.define)}
    known = {**STRATEGIES, **defined}
    names = [n.strip() for n in args.strategies.split(",") if n.strip()] + [n for n in defined
                                                                            if n not in args.strategies.split(",")]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(f"unknown strategy {unknown[0]!r}; built in: {', '.join(STRATEGIES)} (or --define it)")
    table = tables.load(args.table)
    print(tables.describe(table), flush=True)
    summaries = run(table, {n: known[n] for n in names}, args.seeds, args.workers, args.processes,
                    progress=lambda line: print(line, flush=True))
    out = Path(args.out) if args.out else Path("runs") / f"replay-{table.name}-{datetime.now():%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    report = markdown(table, summaries, args.workers)
    data = to_json(table, summaries)
    (out / "replay.md").write_text(report + "\n")
    (out / "replay.json").write_text(json.dumps(data, indent=2, default=str))
    anytime_plot(table, summaries, out / "anytime.png")
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2, default=str))
    print("\n" + report + f"\n\nwritten: {out}/replay.md, replay.json, anytime.png")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

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

import dataclasses
import json
import math
import multiprocessing
import os
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuner import select
from tuner import search as search_lib
from tuner.replay import tables
from tuner.replay.controller import VirtualController, fit_end_of
from tuner.replay.report import Replay, Summary
from tuner.replay.strategies import strategy_sweep
from tuner.search import warm
from tuner.runfolder import trial_values, trial_dirname
from tuner.errors import UserError
from tuner.runfolder import RUNG_KEY
from tuner.search.budgeted import sweep_rungs
from tuner.search.optuna_search import quiet_optuna
from tuner.status import Status, status_of
from tuner.sweep.spec import Sweep

TARGET_GAP = 0.001  # "within 0.1 point": of the table's best mean validation accuracy


WARM_SEED_OFFSET = 10_007  # the earlier run a warm-started strategy is given draws with seeds no search uses


class Incumbent:
    """What tuner would choose now (tuner.select), from every trial's best value so far."""

    def __init__(self, table: tables.Table):
        self.table, self.metric = table, table.metric
        self.scores: dict[str, select.TrialScore] = {}
        self.points: dict[str, tables.Point] = {}

        self._chosen: tables.Point | None = None
        self._stale = True

    def update(self, trial_id: str, configuration: str, seed: int, status: str, value: float,
               point: tables.Point, short: bool = False) -> None:
        old = self.scores.get(trial_id)
        if old is not None and not math.isnan(old.value) and not select.is_better(value, old.value, self.metric):
            value = old.value
        if old is None or old.value != value or old.status != status:
            self._stale = True
        self.scores[trial_id] = select.TrialScore(trial_id, configuration, seed, status, value, short)
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


def _replay_trainable(config: dict[str, Any]) -> None:
    """The trainable an Experiment is registered with; the virtual controller never calls it."""


def _search_objects(sweep: Sweep, param_space: dict[str, Any], storage: str,
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
    experiment = Experiment("replay", run=_replay_trainable, config=param_space,
                            num_samples=search_lib.tune_samples(sweep),
                            storage_path=storage)
    search_alg.set_search_properties(metric, mode, param_space, **experiment.public_spec)
    scheduler = search_lib.trial_scheduler(sweep)
    scheduler.set_search_properties(metric, mode, **experiment.public_spec)
    search_alg.add_configurations([experiment])
    return search_alg, scheduler, max_pending


def replay_one(table: tables.Table, name: str, fields: dict[str, Any], seed: int, workers: int,
               budgets: dict[int, tables.Table] | None = None) -> Replay:
    """Replay one strategy with one search seed (search phase, then tuner's confirm phase if the sweep has one); a
    budgeted search's trials below the full budget replay the curves of `budgets` (tables by max_epochs)."""
    from ray import tune

    quiet_optuna()
    warm_count = int(fields.get("warm_start", 0))
    sweep = strategy_sweep(table, fields, seed)
    out = Replay(name, seed)
    incumbent = Incumbent(table)
    trial_epochs = [0]
    ended: dict[str, dict[str, Any]] = {}

    known: dict[str, tuple[dict[str, Any], int, tables.Point, str]] = {}
    short: dict[str, bool] = {}

    def about(trial: Any) -> tuple[dict[str, Any], int, tables.Point, str]:
        """A trial's configuration, seed, recorded point and configuration key (looked up once)."""
        if trial.trial_id not in known:
            config, trial_seed = _values(trial.config)
            recorded = _recorded(table, budgets, config)
            key = " | ".join(f"{k}={config.get(k)!r}" for k in sorted(config))
            known[trial.trial_id] = (config, trial_seed, recorded.lookup(config), key)
            short[trial.trial_id] = recorded is not table
        return known[trial.trial_id]

    def resolve(trial: Any) -> tables.Curve:
        _, trial_seed, point, _ = about(trial)
        return point.curves[trial_seed]

    def on_result(trial: Any, result: dict[str, Any]) -> None:
        config, trial_seed, point, key = about(trial)
        trial_epochs[0] += 1
        status = Status.RUNNING if result["status"] == "running" else replayed_status(result, table)
        incumbent.update(trial.trial_id, key, trial_seed, status, float(result[table.metric]), point,
                         short[trial.trial_id])
        chosen = incumbent.point()
        out.steps.append((trial_epochs[0], controller.clock, chosen.mean if chosen else math.nan,
                          chosen.test_mean if chosen else math.nan))
        ended[trial.trial_id] = {"config": config, "seed": trial_seed, "epochs": result["epoch"],
                                 "status": replayed_status(result, table), "point": table.point_key(point.values)}

    def on_end(trial: Any) -> None:
        if trial.trial_id in incumbent.scores:
            incumbent.set_status(trial.trial_id, ended[trial.trial_id]["status"])

    with tempfile.TemporaryDirectory() as storage:
        study = warm_study(table, sweep, warm_count, seed) if warm_count else None
        search_alg, scheduler, max_pending = _search_objects(sweep, sweep.param_space(), storage, study)
        controller = VirtualController(search_alg, scheduler, workers, max_pending, resolve, on_result, on_end)
        clock = controller.run()
        configs = _top_configs(incumbent, ended, sweep)
        if configs:
            confirm = dataclasses.replace(sweep, search="grid", trial_scheduler="none", num_samples=None,
                                          search_options={}, max_concurrent=0)
            confirm_space = {"confirm": tune.grid_search(configs), "seed": tune.grid_search(sweep.confirm_seeds)}
            search_alg, scheduler, max_pending = _search_objects(confirm, confirm_space, storage)
            controller = VirtualController(search_alg, scheduler, workers, max_pending, resolve, on_result, on_end,
                                           clock)
            controller.run()
    out.trials = [{**record, "trial_id": tid} for tid, record in ended.items()]
    out.final = incumbent.point()
    out.final_key = table.point_key(out.final.values) if out.final is not None else None
    return out


def _budget(budgets: dict[int, tables.Table] | None, epochs: int) -> tables.Table:
    if not budgets or epochs not in budgets:
        raise UserError(f"a budgeted search ran a trial of {epochs} epochs: no table at that budget "
                        f"(--budgets gave {', '.join(map(str, sorted(budgets or {}))) or 'none'})")
    return budgets[epochs]


def check_budgets(table: tables.Table, strategies: dict[str, dict[str, Any]],
                  budgets: dict[int, tables.Table]) -> None:
    """Every rung below the full budget of every budgeted strategy has a table (before any replay starts)."""
    for name, fields in strategies.items():
        sweep = strategy_sweep(table, fields, 0)
        if sweep.search not in search_lib.BUDGETED_SEARCHES:
            continue
        missing = [b for b in sweep_rungs(sweep)[:-1] if b not in budgets]
        if missing:
            raise UserError(f"strategy {name} has rungs at {', '.join(map(str, sweep_rungs(sweep)))} epochs: no "
                            f"budgeted table at {', '.join(map(str, missing))} epochs (--budgets gave "
                            f"{', '.join(map(str, sorted(budgets))) or 'none'}; record the table's sweep with "
                            f"--max-epochs {missing[0]})")


def warm_study(table: tables.Table, sweep: Sweep, count: int, seed: int) -> Any:
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
                     time_scale: float = 0.0, budgets: dict[int, tables.Table] | None = None) -> Replay:
    """The same replay through Ray Tune's real Tuner (one real trial per trial, each epoch reported from the table
    after sleeping its recorded time x time_scale), to check the virtual controller against. Needs a running Ray
    with `workers` CPUs; the search phase only."""
    from ray import tune

    quiet_optuna()
    sweep = strategy_sweep(table, fields, seed)
    metric, mode = search_lib.objectives(sweep)
    with tempfile.TemporaryDirectory() as storage:
        tuner = tune.Tuner(
            tune.with_resources(tune.with_parameters(_tune_trainable, table=table, time_scale=time_scale,
                                                     budgets=budgets or {}), {"cpu": 1}),
            param_space=sweep.param_space(),
            tune_config=tune.TuneConfig(metric=metric, mode=mode, search_alg=search_lib.search_algorithm(sweep),
                                        scheduler=search_lib.trial_scheduler(sweep),
                                        num_samples=search_lib.tune_samples(sweep),
                                        reuse_actors=True, trial_dirname_creator=_trial_dirname),
            run_config=tune.RunConfig(name="replay", storage_path=storage, verbose=0))
        grid = tuner.fit()
        out = Replay(name, seed)
        for result in grid:  # in the order Tune created the trials
            config, trial_seed = _values(result.config)
            recorded = _recorded(table, budgets, config)
            last = result.metrics or {}
            out.trials.append({"config": config, "seed": trial_seed, "epochs": last.get("epoch", 0),
                               "status": replayed_status(last, table) if last.get("status") else Status.ERROR,
                               "point": table.point_key(recorded.lookup(config).values)})
    return out


def _trial_dirname(trial: Any) -> str:
    return trial_dirname(trial.trial_id)


def _recorded(table: tables.Table, budgets: dict[int, tables.Table] | None, config: dict[str, Any]) -> tables.Table:
    """The table a trial's curve comes from: a budgeted search's short trial (its `epochs` and rung popped from
    `config`) replays its budget's."""
    epochs = int(config.pop("epochs", table.max_epochs))
    config.pop(RUNG_KEY, None)
    return table if epochs >= table.max_epochs else _budget(budgets, epochs)


def _tune_trainable(config: dict[str, Any], table: tables.Table, time_scale: float,
                    budgets: dict[int, tables.Table]) -> None:
    """Reports the recorded epochs, with a checkpoint each, as tuner's trainable does (a paused or restarted trial
    resumes after its last checkpoint)."""
    from ray import tune

    values, trial_seed = _values(config)
    curve = _recorded(table, budgets, values).lookup(values).curves[trial_seed]
    checkpoint = tune.get_checkpoint()
    start = 0
    if checkpoint:
        with checkpoint.as_directory() as folder:
            start = json.loads((Path(folder) / "epoch.json").read_text())["epoch"]
    for epoch in range(start + 1, curve.length + 1):
        record = curve.epochs[epoch - 1]
        time.sleep(record["epoch_time_s"] * time_scale)
        status = fit_end_of(curve.status) if epoch == curve.length else "running"
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "epoch.json").write_text(json.dumps({"epoch": epoch}))
            tune.report({**record, "epoch": epoch, "status": status},
                        checkpoint=tune.Checkpoint.from_directory(folder))


def _values(config: dict[str, Any]) -> tuple[dict[str, Any], int]:
    merged = trial_values(config)
    seed = int(merged.pop("seed", 0))
    return merged, seed


def replayed_status(result: dict[str, Any], table: tables.Table) -> Status:
    """A replayed trial's status from its last result, as trials.csv would record it."""
    return status_of(result.get("status"), int(result.get("epoch", 0)), table.max_epochs)


def _top_configs(incumbent: Incumbent, ended: dict[str, dict[str, Any]], sweep: Sweep) -> list[dict[str, Any]]:
    """The search's best configurations for the confirm phase, as the engine picks them (tuner.select)."""
    if not sweep.needs_confirm:
        return []
    ranked = select.score_configurations(incumbent.scores.values(), incumbent.metric)[:sweep.confirm_top]
    return [ended[c.best_trial_id]["config"] for c in ranked]


def _job(args: tuple) -> Replay:
    table_path, name, fields, seed, workers, budget_paths = args
    table = _TABLES.setdefault(table_path, tables.load(table_path))
    budgets = {}
    for path in budget_paths:
        short = _TABLES.setdefault(path, tables.load(path))
        budgets[short.max_epochs] = short
    return replay_one(table, name, fields, seed, workers, budgets)


_TABLES: dict[str, tables.Table] = {}


def _worker_signals() -> None:
    """A replay process ends quietly when the pool is closed (the CLI's own SIGTERM handler is inherited)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run(table: tables.Table, strategies: dict[str, dict[str, Any]], seeds: int, workers: int,
        processes: int | None = None, progress: Callable[[str], None] | None = None,
        budgets: dict[int, tables.Table] | None = None) -> dict[str, Summary]:
    """Every strategy x search seed; the replays run in parallel processes (each reloads the table). `budgets`: the
    budgeted table's shorter recordings (tables.load_budgets), for budgeted searches."""
    budgets = budgets or {}
    for name, fields in strategies.items():
        strategy_sweep(table, fields, 0)  # a bad strategy fails here, once, before any replay
    check_budgets(table, strategies, budgets)
    for short in budgets.values():
        _TABLES[short.source] = short
    paths = tuple(short.source for short in budgets.values())
    jobs = [(table.source, name, fields, seed, workers, paths) for name, fields in strategies.items()
            for seed in range(seeds)]
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
    target = select.worse_by(table.best.mean, TARGET_GAP, table.metric)
    return {name: Summary(name, replays, target, table._best_key, table) for name, replays in results.items()}


def _tell(progress: Callable[[str], None] | None, index: int, total: int, replay: Replay, started: float) -> None:
    if progress is not None:
        final = f"{replay.final.mean:.4f}" if replay.final is not None else "-"
        progress(f"[{time.time() - started:5.1f}s] {index}/{total} {replay.strategy} seed {replay.seed}: "
                 f"{replay.trial_epochs} trial-epochs, final choice's table mean {final}")

"""The Ray Tune objects of a sweep's phases: the search phase's Tuner (the sweep's space, search algorithm and trial
scheduler), the confirm phase's (the search's best configurations on the other seeds), a restored one, and
the RunConfig they share (progress line, trial ends, retries, checkpoints)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from tuner import search
from tuner.runfolder import CONFIRM_FOLDER, RAY_FOLDER, folder_phase
from tuner.sweep import owncode, storage
from tuner.sweep.budget import confirm_trial_epochs, expected_trial_epochs
from tuner.sweep.lifecycle import CheckpointsOnDisk, TrialEnds
from tuner.sweep.progress import ProgressLine
from tuner.sweep.restore import search_generator
from tuner.sweep.spec import Sweep
from tuner.sweep.trainable import run_trial
from tuner.sweep.writer import confirm_pairs, trial_dirname
from tuner.train.data import Dataset


def trainable(sweep: Sweep, dataset: Dataset) -> Any:
    from ray import tune

    resources = {"cpu": sweep.cpu, "gpu": sweep.gpu}
    return tune.with_resources(tune.with_parameters(run_trial, data=dataset, code=owncode.shipped(sweep)), resources)


def build_tuner(sweep: Sweep, dataset: Dataset, storage_path: str, budget_s: float | None = None,
                callbacks: list[Any] | None = None, study: Any = None, folder: str = RAY_FOLDER) -> Any:
    """The search phase: the sweep's space, search algorithm and trial scheduler (tuner.search's registries);
    an Optuna search keeps its study in `study` (a persistent storage) when given."""
    from ray import tune

    metric, mode = search.objectives(sweep)
    multi = bool(sweep.objectives)
    tune_config = tune.TuneConfig(
        metric=None if multi else metric, mode=None if multi else mode,
        search_alg=search.search_algorithm(sweep, study), scheduler=search.trial_scheduler(sweep),
        num_samples=search.tune_samples(sweep),
        max_concurrent_trials=(sweep.max_concurrent or None) if sweep.search in search.OPTUNA_SEARCHES else None,
        time_budget_s=budget_s, reuse_actors=True, trial_dirname_creator=trial_dirname)
    search_epochs = expected_trial_epochs(sweep) - confirm_trial_epochs(sweep)
    return tune.Tuner(trainable(sweep, dataset), param_space=sweep.param_space(), tune_config=tune_config,
                      run_config=run_config(sweep, storage_path, folder, search_trials(sweep), search_epochs,
                                            callbacks))


def search_trials(sweep: Sweep) -> int:
    """Trials the search phase is expected to start (a budgeted search's rungs are trials of their own)."""
    from tuner.search.budgeted import expected_trials

    return expected_trials(sweep) if sweep.search in search.BUDGETED_SEARCHES else sweep.expected_trials()


def run_config(sweep: Sweep, storage_path: str, name: str, total: int, expected_epochs: float | None = None,
               callbacks: list[Any] | None = None) -> Any:
    from ray import tune

    return tune.RunConfig(
        name=name, storage_path=storage_path, verbose=0,
        callbacks=[ProgressLine(sweep.metric, sweep.direction, total, sweep.max_epochs,
                                expected_epochs=expected_epochs, phase=folder_phase(name)), TrialEnds(), CheckpointsOnDisk(),
                   *(callbacks or [])],
        failure_config=tune.FailureConfig(max_failures=sweep.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=search.population.checkpoints_to_keep(sweep)))


def restored_tuner(sweep: Sweep, dataset: Dataset, storage_path: str, folder: str, study: Any = None) -> Any:
    """A Tune experiment that started before: finished trials stay, unfinished ones continue from their
    checkpoints, errored ones stay errored (their retries were spent). An Optuna search phase (`study`: the run
    folder's journal as it is now) gets its search algorithm built anew on that journal, then restored from Ray's
    snapshot (tuner.search.optuna_search: the pickled one names the journal's old absolute path)."""
    from ray import tune

    tuner = tune.Tuner.restore(f"{storage_path}/{folder}", trainable=trainable(sweep, dataset),
                               resume_unfinished=True, resume_errored=False, restart_errored=False)
    local = getattr(tuner, "_local_tuner", None)  # Tuner.restore takes no search_alg; absent with a ray:// client
    if study is not None and local is not None:
        limit = local._tune_config.max_concurrent_trials
        local._tune_config.search_alg = search_generator(search.search_algorithm(sweep, study),
                                                         f"{storage_path}/{folder}", limit)
        local._tune_config.max_concurrent_trials = None  # the generator holds the limit
    return tuner


def confirm_tuner(sweep: Sweep, dataset: Dataset, storage_path: str, grids: list[tuple[str, Any]],
                  budget_s: float | None = None, callbacks: list[Any] | None = None,
                  folder: str = CONFIRM_FOLDER) -> Any | None:
    """The confirm phase: the search's best configurations (tuner.select), full length, on every seed they have not
    run on yet (tuner.sweep.writer.confirm_pairs)."""
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    if storage.exists(storage_path, folder):
        return restored_tuner(sweep, dataset, storage_path, folder)
    pairs = confirm_pairs(grids, sweep, sweep.confirm_top)
    if not pairs:
        return None
    configs = {json.dumps({k: v for k, v in p.items() if k != "seed"}, sort_keys=True, default=str) for p in pairs}
    print(f"confirm phase: the best {len(configs)} configurations again on seeds "
          f"{sorted({p['seed'] for p in pairs})} ({len(pairs)} trials)", flush=True)
    tune_config = tune.TuneConfig(
        metric=sweep.metric, mode=sweep.direction, num_samples=1, reuse_actors=True, time_budget_s=budget_s,
        search_alg=BasicVariantGenerator(max_concurrent=sweep.max_concurrent),
        trial_dirname_creator=trial_dirname)
    return tune.Tuner(trainable(sweep, dataset), param_space={"confirm": tune.grid_search(pairs)},
                      tune_config=tune_config,
                      run_config=run_config(sweep, storage_path, folder, len(pairs), len(pairs) * sweep.max_epochs,
                                            callbacks))


def round_sweep(sweep: Sweep, rounds: list[int], number: int) -> Sweep:
    """A later round draws the trials it adds, from a search seed of its own; start points ran in round 1."""
    return dataclasses.replace(sweep, num_samples=rounds[number - 1] - rounds[number - 2],
                               search_seed=sweep.search_seed + number - 1, start=[])

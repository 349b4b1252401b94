"""SEARCHES: name -> factory(sweep, Optuna storage or None) of the Ray Tune search algorithm a sweep runs with.

A sweep file names one entry (`search="optuna"`); the engine and `tuner.replay` build their search algorithm here
and nowhere else, so a replayed strategy is exactly what a sweep file with the same fields would run.
`search_options` (a Sweep field) passes sampler settings to the Optuna entries (n_startup_trials, multivariate,
constant_liar, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuner import select
from tuner.search import budgeted
from tuner.search.optuna_search import quiet_optuna, resumable_search_class, study_kwargs, told_search_class
from tuner.search.optuna_search import sampler as sampler_of
from tuner.search.space import start_points

if TYPE_CHECKING:
    from tuner.sweep.spec import Sweep

SearchFactory = Callable[["Sweep", Any], Any]  # (sweep, Optuna storage or None) -> search algorithm


def objectives(sweep: Sweep) -> tuple[Any, Any]:
    """(metric, mode) for Tune, or lists of both for a multi-objective sweep."""
    if sweep.objectives:
        return [m for m, _ in sweep.objectives], [select.direction(m) for m, _ in sweep.objectives]
    return sweep.metric, select.direction(sweep.metric)



def _start(sweep: Sweep) -> list[dict[str, Any]] | None:
    """The sweep's start points for Ray's points_to_evaluate (run first)."""
    return start_points(sweep) or None


def _variants(sweep: Sweep, storage: Any = None) -> Any:
    from ray.tune.search import BasicVariantGenerator

    return BasicVariantGenerator(random_state=sweep.search_seed, max_concurrent=sweep.max_concurrent,
                                 points_to_evaluate=_start(sweep))



def _optuna(sweep: Sweep, storage: Any = None) -> Any:
    import optuna

    quiet_optuna()
    metric, mode = objectives(sweep)
    space = sweep.space if callable(sweep.space) else None
    if sweep.objectives:
        sampler = optuna.samplers.NSGAIISampler(seed=sweep.search_seed) if sweep.samples >= 50 else \
            optuna.samplers.TPESampler(seed=sweep.search_seed)
    else:
        sampler = sampler_of(sweep)
    told = resumable_search_class() if sweep.search_options.get("tell") == "last" else told_search_class()
    return told(space=space, metric=metric, mode=mode, sampler=sampler, points_to_evaluate=_start(sweep),
                **study_kwargs(sweep, storage))


def _optuna_tpe(sweep: Sweep, storage: Any = None) -> Any:
    """Optuna's TPESampler with its own defaults, told what happened as Optuna's own study.optimize would."""
    import optuna

    quiet_optuna()
    metric, mode = objectives(sweep)
    sampler = optuna.samplers.TPESampler(seed=sweep.search_seed, **sweep.search_options)
    return told_search_class()(space=sweep.space if callable(sweep.space) else None, metric=metric, mode=mode,
                               sampler=sampler, points_to_evaluate=_start(sweep), **study_kwargs(sweep, storage))


def _ray_optuna(sweep: Sweep, storage: Any = None) -> Any:
    """Ray Tune out of the box: OptunaSearch() with its defaults (TPE, every trial told COMPLETE), resumable."""
    quiet_optuna()
    metric, mode = objectives(sweep)
    return resumable_search_class()(space=sweep.space if callable(sweep.space) else None, metric=metric, mode=mode,
                        seed=sweep.search_seed, points_to_evaluate=_start(sweep), **study_kwargs(sweep, storage))


SEARCHES: dict[str, SearchFactory] = {
    "grid": _variants,  # every tune.grid_search point, once per seed
    "random": _variants,  # num_samples independent draws
    "optuna": _optuna,  # tuner's TPE (multi-objective: NSGA-II), told pruned trials as pruned
    "optuna-tpe": _optuna_tpe,  # Optuna's TPESampler with Optuna's defaults
    "ray-optuna": _ray_optuna,  # Ray Tune's OptunaSearch() with Ray's defaults
    # budgeted successive halving: rungs that finish their schedule, promoted from scratch (tuner.search.budgeted)
    "budgeted": budgeted.budgeted,
}
BUDGETED_SEARCHES = {"budgeted"}  # propose (configuration, budget) trials: run with trial_scheduler="none"
OPTUNA_SEARCHES = {"optuna", "optuna-tpe", "ray-optuna"}  # take a define-by-run space and search_options


def tune_samples(sweep: Sweep) -> int:
    """Tune's num_samples for the search phase: the sweep's trials, or for a budgeted search a bound on its trials
    (the searcher ends the search itself)."""
    return budgeted.bound(sweep) if sweep.search in BUDGETED_SEARCHES else sweep.samples


def search_algorithm(sweep: Sweep, storage: Any = None) -> Any:
    """The search algorithm; an Optuna search keeps its study in `storage` (tuner.tracking.study_storage) if given."""
    return SEARCHES[sweep.search](sweep, storage)


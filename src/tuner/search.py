"""SEARCHES and TRIAL_SCHEDULERS: name -> factory(sweep) of the Ray Tune object a sweep runs with.

A sweep file names one entry of each (`search="optuna", trial_scheduler="asha"`); the engine and
`tuner.replay` build their search algorithm and trial scheduler here and nowhere else, so a replayed
strategy is exactly what a sweep file with the same fields would run. `search_options` (a Sweep field)
passes sampler settings to the Optuna entries (n_startup_trials, multivariate, constant_liar, ...).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuner import select

if TYPE_CHECKING:
    from tuner.spec import Sweep

SearchFactory = Callable[["Sweep", Any], Any]  # (sweep, Optuna storage or None) -> search algorithm
SchedulerFactory = Callable[["Sweep"], Any]
ENDED_BY_ITSELF = ("completed", "diverged", "stuck", "early_stopped", "config_error")  # fit's own ends


def objectives(sweep: Sweep) -> tuple[Any, Any]:
    """(metric, mode) for Tune, or lists of both for a multi-objective sweep."""
    if sweep.objectives:
        return [m for m, _ in sweep.objectives], [select.direction(m) for m, _ in sweep.objectives]
    return sweep.metric, select.direction(sweep.metric)


# ---------------------------------------------------------------- searches


def _start(sweep: Sweep) -> list[dict[str, Any]] | None:
    """The sweep's start points for Ray's points_to_evaluate (run first)."""
    from tuner.spec import start_points

    return start_points(sweep) or None


def _variants(sweep: Sweep, storage: Any = None) -> Any:
    from ray.tune.search import BasicVariantGenerator

    return BasicVariantGenerator(random_state=sweep.search_seed, max_concurrent=sweep.max_concurrent,
                                 points_to_evaluate=_start(sweep))


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def told_search_class() -> type:
    """Ray's OptunaSearch, telling Optuna what happened to each trial (Ray tells every trial COMPLETE with its last
    reported value, so TPE weighs a 2-epoch accuracy that ASHA cut against a finished 25-epoch one as equals):
    a trial its trial scheduler stopped is PRUNED, keeping its intermediate values, as Optuna's own pruners leave
    it; a trial that ended by itself is COMPLETE with its best epoch's value, the score tuner selects on."""
    from optuna.trial import TrialState
    from ray.tune.search.optuna import OptunaSearch

    class ToldOptunaSearch(OptunaSearch):
        def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
            if error or not result or isinstance(self.metric, list) or trial_id in self._completed_trials:
                return super().on_trial_complete(trial_id, result, error)
            ot_trial = self._ot_trials[trial_id]
            reported = self._ot_study._storage.get_trial(ot_trial._trial_id).intermediate_values
            step, last = result.get("training_iteration"), result.get(self.metric)
            if step is not None and last is not None and step not in reported:
                ot_trial.report(float(last), int(step))  # Tune does not pass the result it stopped a trial on
                reported = {**reported, step: float(last)}
            values = [v for v in reported.values() if not math.isnan(v)]
            if result.get("status") in ENDED_BY_ITSELF and values:
                best = max(values) if self.mode == "max" else min(values)
                self._ot_study.tell(ot_trial, best)
            elif values:
                self._ot_study.tell(ot_trial, state=TrialState.PRUNED)
            else:
                self._ot_study.tell(ot_trial, state=TrialState.FAIL)
            self._completed_trials.add(trial_id)

    return ToldOptunaSearch


TUNER_OPTIONS = ("sampler", "tell")  # search_options that are tuner's, not the sampler's
SAMPLERS = ("tpe", "gp", "qmc", "random")


def tpe_settings(sweep: Sweep) -> dict[str, Any]:
    """tuner's TPE, from replays of the recorded tables (docs/search.md): multivariate, grouped for conditional
    spaces, a constant liar for trials still running, and at least as many startup trials as run at once."""
    settings = {"multivariate": True, "group": callable(sweep.space), "constant_liar": True,
                "n_startup_trials": max(3, min(10, sweep.samples // 4))}
    return {**settings, **{k: v for k, v in sweep.search_options.items() if k not in TUNER_OPTIONS}}


def _sampler(sweep: Sweep) -> Any:
    """search_options["sampler"]: tpe (default), gp (Optuna's GPSampler), qmc (Sobol), random."""
    import optuna

    kind = sweep.search_options.get("sampler", "tpe")
    options = {k: v for k, v in sweep.search_options.items() if k not in TUNER_OPTIONS}
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=sweep.search_seed, **tpe_settings(sweep))
    if kind == "gp":
        return optuna.samplers.GPSampler(seed=sweep.search_seed, **options)
    if kind == "qmc":
        return optuna.samplers.QMCSampler(seed=sweep.search_seed, **options)
    return optuna.samplers.RandomSampler(seed=sweep.search_seed)


def _optuna(sweep: Sweep, storage: Any = None) -> Any:
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    _quiet_optuna()
    metric, mode = objectives(sweep)
    space = sweep.space if callable(sweep.space) else None
    if sweep.objectives:
        sampler = optuna.samplers.NSGAIISampler(seed=sweep.search_seed) if sweep.samples >= 50 else \
            optuna.samplers.TPESampler(seed=sweep.search_seed)
    else:
        sampler = _sampler(sweep)
    told = OptunaSearch if sweep.search_options.get("tell") == "last" else told_search_class()
    return told(space=space, metric=metric, mode=mode, sampler=sampler, points_to_evaluate=_start(sweep),
                **_study(sweep, storage))


def _optuna_tpe(sweep: Sweep, storage: Any = None) -> Any:
    """Optuna's TPESampler with its own defaults, told what happened as Optuna's own study.optimize would."""
    import optuna

    _quiet_optuna()
    metric, mode = objectives(sweep)
    sampler = optuna.samplers.TPESampler(seed=sweep.search_seed, **sweep.search_options)
    return told_search_class()(space=sweep.space if callable(sweep.space) else None, metric=metric, mode=mode,
                               sampler=sampler, points_to_evaluate=_start(sweep), **_study(sweep, storage))


def _ray_optuna(sweep: Sweep, storage: Any = None) -> Any:
    """Ray Tune out of the box: OptunaSearch() with its defaults (TPE, every trial told COMPLETE)."""
    from ray.tune.search.optuna import OptunaSearch

    _quiet_optuna()
    metric, mode = objectives(sweep)
    return OptunaSearch(space=sweep.space if callable(sweep.space) else None, metric=metric, mode=mode,
                        seed=sweep.search_seed, points_to_evaluate=_start(sweep), **_study(sweep, storage))


SEARCHES: dict[str, SearchFactory] = {
    "grid": _variants,  # every tune.grid_search point, once per seed
    "random": _variants,  # num_samples independent draws
    "optuna": _optuna,  # tuner's TPE (multi-objective: NSGA-II), told pruned trials as pruned
    "optuna-tpe": _optuna_tpe,  # Optuna's TPESampler with Optuna's defaults
    "ray-optuna": _ray_optuna,  # Ray Tune's OptunaSearch() with Ray's defaults
}
OPTUNA_SEARCHES = {"optuna", "optuna-tpe", "ray-optuna"}  # take a define-by-run space and search_options


def search_algorithm(sweep: Sweep, storage: Any = None) -> Any:
    """The search algorithm; an Optuna search keeps its study in `storage` (tuner.tracking.study_storage) if given."""
    return SEARCHES[sweep.search](sweep, storage)


def study_name(sweep: Sweep) -> str:
    return sweep.name or "sweep"


def _study(sweep: Sweep, storage: Any) -> dict[str, Any]:
    return {"storage": storage, "study_name": study_name(sweep)} if storage is not None else {}


# ---------------------------------------------------------------- trial schedulers


def _asha(sweep: Sweep) -> Any:
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(time_attr="training_iteration", max_t=sweep.max_epochs,
                         grace_period=min(sweep.grace_period, sweep.max_epochs),
                         reduction_factor=sweep.reduction_factor, brackets=sweep.brackets)


def _ray_asha(sweep: Sweep) -> Any:
    """ASHAScheduler() with Ray's defaults (grace 1, reduction factor 4, max_t 100)."""
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(time_attr="training_iteration")


def _hyperband(sweep: Sweep) -> Any:
    from ray.tune.schedulers import HyperBandScheduler

    return HyperBandScheduler(time_attr="training_iteration", max_t=sweep.max_epochs,
                              reduction_factor=sweep.reduction_factor)


def _median(sweep: Sweep) -> Any:
    from ray.tune.schedulers import MedianStoppingRule

    return MedianStoppingRule(time_attr="training_iteration", grace_period=sweep.grace_period,
                              min_samples_required=3)


def optuna_pruner_class() -> type:
    """A Ray Tune trial scheduler that asks an Optuna pruner, as an Optuna objective loop would: every trial's
    intermediate values go into a study of its own, and `trial.should_prune()` stops it."""
    import optuna
    from optuna.trial import TrialState
    from ray.tune.schedulers import FIFOScheduler, TrialScheduler

    class OptunaPrunerScheduler(FIFOScheduler):
        def __init__(self, pruner: optuna.pruners.BasePruner, max_epochs: int):
            super().__init__()
            self._pruner, self._max_epochs = pruner, max_epochs
            self._study: optuna.Study | None = None
            self._trials: dict[str, optuna.Trial] = {}

        def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
            if metric:
                self._metric = metric
            if mode:
                self._mode = mode
            return True

        def _ensure_study(self) -> optuna.Study:
            if self._study is None:
                _quiet_optuna()
                direction = "maximize" if self._mode == "max" else "minimize"
                self._study = optuna.create_study(direction=direction, pruner=self._pruner)
            return self._study

        def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
            self._trials[trial.trial_id] = self._ensure_study().ask()

        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
            ot_trial = self._trials[trial.trial_id]
            value = result.get(self._metric, math.nan)
            ot_trial.report(float(value), int(result["training_iteration"]))
            if result["training_iteration"] < self._max_epochs and ot_trial.should_prune():
                self._tell(trial.trial_id, TrialState.PRUNED)
                return TrialScheduler.STOP
            return TrialScheduler.CONTINUE

        def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict) -> None:
            self._tell(trial.trial_id, TrialState.COMPLETE)

        def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
            self._tell(trial.trial_id, TrialState.FAIL)

        def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
            self._tell(trial.trial_id, TrialState.PRUNED)

        def _tell(self, trial_id: str, state: TrialState) -> None:
            ot_trial = self._trials.pop(trial_id, None)
            if ot_trial is None:
                return
            values = [v for v in self._study._storage.get_trial(ot_trial._trial_id).intermediate_values.values()
                      if not math.isnan(v)]
            if state == TrialState.COMPLETE and values:
                self._study.tell(ot_trial, max(values) if self._mode == "max" else min(values))
            else:
                self._study.tell(ot_trial, state=TrialState.PRUNED if values else TrialState.FAIL)

    return OptunaPrunerScheduler


def _optuna_median(sweep: Sweep) -> Any:
    """Optuna's default pruner, MedianPruner(), with its own defaults (5 startup trials, no warm-up)."""
    import optuna

    return optuna_pruner_class()(optuna.pruners.MedianPruner(), sweep.max_epochs)


def _fifo(sweep: Sweep) -> Any:
    from ray.tune.schedulers import FIFOScheduler

    return FIFOScheduler()


TRIAL_SCHEDULERS: dict[str, SchedulerFactory] = {
    "asha": _asha,  # asynchronous successive halving: keep 1/reduction_factor at each rung
    "ray-asha": _ray_asha,  # ASHAScheduler() with Ray's defaults
    "hyperband": _hyperband,  # synchronous brackets; pauses trials at rungs
    "median": _median,  # Ray's MedianStoppingRule: stop a trial below the median of the others at the same epoch
    "optuna-median": _optuna_median,  # Optuna's MedianPruner() with Optuna's defaults
    "none": _fifo,  # every trial runs to max_epochs (or its own end)
}


def trial_scheduler(sweep: Sweep) -> Any:
    return TRIAL_SCHEDULERS[sweep.trial_scheduler](sweep)

"""TRIAL_SCHEDULERS: name -> factory(sweep) of the Ray Tune trial scheduler (early stopping) a sweep runs with.

A sweep file names one entry (`trial_scheduler="asha"`); the engine and `tuner.replay` build theirs here and
nowhere else.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuner import select
from tuner.search import population
from tuner.search.optuna_search import quiet_optuna

if TYPE_CHECKING:
    from tuner.sweep.spec import Sweep

SchedulerFactory = Callable[["Sweep"], Any]


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
                quiet_optuna()
                direction = select.optuna_direction(self._metric)
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
                self._study.tell(ot_trial, select.best_value(values, self._metric))
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
    "pbt": population.pbt,  # population-based training: the weak copy the strong and perturb lr/momentum/wd
    "pb2": population.pb2,  # PB2: population-based training whose perturbations a GP bandit picks
}


def trial_scheduler(sweep: Sweep) -> Any:
    return TRIAL_SCHEDULERS[sweep.trial_scheduler](sweep)

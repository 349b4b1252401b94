"""Population-based training as trial schedulers: Ray Tune's PopulationBasedTraining ("pbt") and PB2 ("pb2").

Every `perturbation_interval` epochs a trial in the bottom `quantile_fraction` of the population copies the latest
checkpoint of one in the top fraction and goes on with that trial's hyperparameters perturbed (pbt: x0.8 or x1.2,
or resampled from the space; pb2: a GP-bandit's pick within the bounds). tuner's trainable restores the copied
state and train.fit puts the new lr, momentum or weight decay on the restored optimizer, its schedule continuing
from the restored epoch with the new base rate (tuner.train.optim.rebase). Only tuner.train.config.PERTURBABLE keys change.

Settings: Sweep(scheduler_options={...}), checked here before Ray starts (`check`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ray.tune.search.sample import Domain, Float

from tuner.errors import UserError
from tuner.runfolder import key_parts
from tuner.status import FitEnd
from tuner.train.config import PERTURBABLE

if TYPE_CHECKING:
    from tuner.sweep.spec import Sweep

POPULATION_SCHEDULERS = ("pbt", "pb2")
OPTIONS = {
    "pbt": ("perturbation_interval", "hyperparam_mutations", "quantile_fraction", "resample_probability", "synch"),
    "pb2": ("perturbation_interval", "hyperparam_bounds", "quantile_fraction", "synch"),
}
NOT_REPLAYABLE = ("population-based training (pbt, pb2) cannot be replayed: it copies one trial's checkpoint into "
                  "another and changes its hyperparameters mid-run, and a table holds curves of fixed hyperparameters; "
                  "run it as a sweep")
SEARCHES = ("random", "grid")  # Ray refuses a search algorithm (a Searcher) beside PBT


def perturbation_interval(sweep: Sweep) -> int:
    return int(sweep.scheduler_options.get("perturbation_interval", max(1, sweep.max_epochs // 4)))


def mutations(sweep: Sweep) -> dict[str, Any]:
    """pbt's hyperparam_mutations: the option, else the space's continuous ranges of PERTURBABLE keys."""
    given = sweep.scheduler_options.get("hyperparam_mutations")
    if given is not None:
        return dict(given)
    space = sweep.space if isinstance(sweep.space, dict) else {}
    return {k: v for k, v in space.items() if k in PERTURBABLE and isinstance(v, Float)}


def bounds(sweep: Sweep) -> dict[str, list[float]]:
    """pb2's hyperparam_bounds: the option, else the bounds of the space's continuous PERTURBABLE ranges."""
    given = sweep.scheduler_options.get("hyperparam_bounds")
    if given is not None:
        return {k: list(v) for k, v in given.items()}
    return {k: [float(v.lower), float(v.upper)] for k, v in mutations(sweep).items()}


def while_running(cls: type) -> type:
    """A population-based scheduler that leaves a run's last epoch alone: Ray's would copy a checkpoint into a
    trial that has just ended (it then trains an epoch again, or ends with another trial's config) or out of one
    (a state with no epoch to follow)."""
    from ray.tune.schedulers import TrialScheduler

    class Scheduler(cls):
        def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
            if not hasattr(tune_controller, "_schedule_trial_save"):  # tuner.replay's virtual controller: no trials
                raise UserError(NOT_REPLAYABLE)
            super().on_trial_add(tune_controller, trial)

        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
            if result.get("status") != FitEnd.RUNNING:
                return TrialScheduler.CONTINUE
            return super().on_trial_result(tune_controller, trial, result)

    Scheduler.__name__ = Scheduler.__qualname__ = cls.__name__
    return Scheduler


def pbt(sweep: Sweep) -> Any:
    from ray.tune.schedulers import PopulationBasedTraining

    options = sweep.scheduler_options
    return while_running(PopulationBasedTraining)(
        time_attr="epoch", perturbation_interval=perturbation_interval(sweep), hyperparam_mutations=mutations(sweep),
        quantile_fraction=options.get("quantile_fraction", 0.25),
        resample_probability=options.get("resample_probability", 0.25), synch=options.get("synch", False),
        log_config=False)


def pb2(sweep: Sweep) -> Any:
    from ray.tune.schedulers.pb2 import PB2

    options = sweep.scheduler_options
    return while_running(PB2)(
        time_attr="epoch", perturbation_interval=perturbation_interval(sweep), hyperparam_bounds=bounds(sweep),
        quantile_fraction=options.get("quantile_fraction", 0.25), synch=options.get("synch", False), log_config=False)


def checkpoints_to_keep(sweep: Sweep) -> int:
    """A donor's checkpoint must outlive the interval until its next perturbation (Ray warns at <= 2)."""
    if sweep.trial_scheduler not in POPULATION_SCHEDULERS:
        return sweep.checkpoint_keep
    return max(sweep.checkpoint_keep, perturbation_interval(sweep) + 2)


def check(sweep: Sweep, fail: Callable[[str], None]) -> None:
    """The sweep's scheduler_options and what population-based training needs, before Ray starts."""
    name = sweep.trial_scheduler
    if name not in POPULATION_SCHEDULERS:
        if sweep.scheduler_options:
            fail(f"scheduler_options apply to trial_scheduler {' or '.join(map(repr, POPULATION_SCHEDULERS))}, "
                 f"not {name!r}")
        return
    unknown = [k for k in sweep.scheduler_options if k not in OPTIONS[name]]
    if unknown:
        fail(f"scheduler_options: {unknown[0]!r} is not one of {', '.join(OPTIONS[name])} (trial_scheduler={name!r})")
    if sweep.search not in SEARCHES:
        fail(f"trial_scheduler={name!r} runs with search 'random' or 'grid' (Ray allows no search algorithm beside "
             f"it), not {sweep.search!r}")
    interval = sweep.scheduler_options.get("perturbation_interval", perturbation_interval(sweep))
    if not isinstance(interval, int) or isinstance(interval, bool) or not 1 <= interval < sweep.max_epochs:
        fail(f"scheduler_options: perturbation_interval must be an integer from 1 to max_epochs - 1 "
             f"({sweep.max_epochs - 1}), got {interval!r}")
    for key in ("hyperparam_mutations", "hyperparam_bounds"):
        if not isinstance(sweep.scheduler_options.get(key, {}), dict):
            fail(f"scheduler_options: {key} must be a dict keyed by hyperparameter")
    fraction = sweep.scheduler_options.get("quantile_fraction", 0.25)
    if not isinstance(fraction, (int, float)) or not 0 < fraction <= 0.5:
        fail(f"scheduler_options: quantile_fraction must be in (0, 0.5], got {fraction!r}")
    _check_keys(sweep, name, fail)


def _check_keys(sweep: Sweep, name: str, fail: Callable[[str], None]) -> None:
    keys = mutations(sweep) if name == "pbt" else bounds(sweep)
    if not keys:
        fail(f"trial_scheduler={name!r} has nothing to perturb: give {', '.join(PERTURBABLE)} a continuous range in "
             f"space (tune.loguniform, tune.uniform) or list them in scheduler_options")
    paired = {part: key for key in (sweep.space if isinstance(sweep.space, dict) else {}) if len(key_parts(key)) > 1
              for part in key_parts(key)}
    for key, value in keys.items():
        if key not in PERTURBABLE:
            fail(f"scheduler_options: {key!r} cannot be perturbed in a running trial; {name} perturbs "
                 f"{', '.join(PERTURBABLE)}")
        if key in paired:
            fail(f"scheduler_options: {key!r} is paired in space key {paired[key]!r}; {name} perturbs a key of "
                 "its own")
        if name == "pbt" and not isinstance(value, (list, tuple, Domain)):
            fail(f"scheduler_options: hyperparam_mutations[{key!r}] must be a list of values or a Ray Tune range")
        if name == "pb2" and not (isinstance(value, list) and len(value) == 2 and value[0] < value[1]):
            fail(f"scheduler_options: hyperparam_bounds[{key!r}] must be [low, high], got {value!r}")

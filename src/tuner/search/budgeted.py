"""Budgeted successive halving (search="budgeted"): rungs that finish their schedule.

A configuration evaluated at a rung of budget b is a trial of its own, trained b epochs with its learning-rate
schedule laid over those b epochs (TrainConfig.epochs = b, schedule_for = max_epochs: step_size, cycle_epochs,
warmup_epochs and a step or exponential gamma are scaled by tuner.train.config.laid_over as the schedule is built,
while the trial's configuration, and trials.csv, keep the values searched), so a slow starter whose rate has not decayed is judged at the end of a
schedule, not in its first epochs. Rungs are at budgets b, b*eta, b*eta^2, ... below max_epochs, and max_epochs
(`rung_budgets`: b = grace_period, eta = reduction_factor).

Promotion is ASHA's (Li et al. 2020), from scratch: whenever Tune asks for a trial, the searcher looks from the
highest rung down for a configuration in the top 1/eta of the results its rung has so far that has not been
promoted yet, and proposes it at the next budget as a new trial; only when none exists does it draw a new
configuration for the bottom rung, so no worker waits while a promotable configuration exists. After
num_samples configurations, with nothing running, each rung promotes its top ceil(n/eta) (a search of fewer than
eta^k configurations still trains its best to max_epochs); then the search ends.

New configurations come from a TPE model (tuner's TPE settings) fitted on the highest rung with enough results
(BOHB's rule, Falkner et al. 2018), or at random (search_options random_fraction, 1/3 as in BOHB; sampler="random"
draws every one at random). A trial's score at its rung is its best epoch's value of the sweep's metric.

Only trials at the full budget compete for the choice (tuner.select, rule 2); trials.csv names each trial's rung.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
from typing import TYPE_CHECKING, Any

from tuner import select
from tuner.runfolder import RUNG_KEY

if TYPE_CHECKING:
    from tuner.sweep.spec import Sweep

RANDOM_FRACTION = 1 / 3  # BOHB's default share of random configurations beside the model's
OPTIONS = ("sampler", "random_fraction", "n_startup_trials")  # search_options the budgeted search reads


def rung_budgets(grace_period: int, reduction_factor: float, max_epochs: int) -> list[int]:
    """Epochs of each rung: grace_period * eta^k below max_epochs (rounded, distinct), then max_epochs."""
    budgets: list[int] = []
    budget = float(max(1, grace_period))
    while round(budget) < max_epochs:
        if not budgets or round(budget) > budgets[-1]:
            budgets.append(int(round(budget)))
        budget *= reduction_factor
    return budgets + [max_epochs]


def sweep_rungs(sweep: Sweep) -> list[int]:
    return rung_budgets(sweep.grace_period, sweep.reduction_factor, sweep.max_epochs)


def promotable(results: list[tuple[int, float]], promoted: set[int], eta: float, metric: str,
               ending: bool = False) -> int | None:
    """ASHA's rule for one rung: the best configuration in the top floor(n / eta) of the rung's n results
    (configuration index, score) that has not been promoted yet, or None. `ending` (nothing left to draw, nothing
    running): the top ceil(n / eta), so that a search of fewer than eta^k configurations still trains its best to
    the full budget."""
    keep = math.ceil(len(results) / eta) if ending else int(len(results) // eta)
    ranked = sorted(results, key=lambda r: (select.sort_key(r[1], metric), r[0]))[:keep]
    return next((index for index, value in ranked if index not in promoted and not math.isnan(value)), None)


def expected_trials(sweep: Sweep) -> int:
    """Trials a budgeted search runs, about: num_samples configurations, 1/eta^k of them again at rung k."""
    return max(1, round(sum(sweep.samples / sweep.reduction_factor ** k for k in range(len(sweep_rungs(sweep))))))


def bound(sweep: Sweep) -> int:
    """Tune's num_samples for a budgeted search: at most every configuration at every rung."""
    return sweep.samples * len(sweep_rungs(sweep))


def budgeted_searcher_class() -> type:
    import optuna
    from ray.tune.search import Searcher
    from ray.tune.search.optuna import OptunaSearch

    from tuner.search.optuna_search import quiet_optuna, tpe_settings

    class BudgetedSearcher(Searcher):
        """Proposes (configuration, budget) trials: promotions first (ASHA), then new bottom-rung configurations
        (TPE on the highest rung with enough results, or random)."""

        def __init__(self, sweep: Sweep):
            metric, mode = sweep.metric, select.direction(sweep.metric)
            super().__init__(metric=metric, mode=mode)
            quiet_optuna()
            self.rungs = sweep_rungs(sweep)
            self.eta, self.samples, self.seed = sweep.reduction_factor, sweep.samples, sweep.search_seed
            options = sweep.search_options
            self.random_only = options.get("sampler") == "random"
            self.random_fraction = float(options.get("random_fraction", RANDOM_FRACTION))
            self.tpe = {**tpe_settings(sweep), "n_startup_trials": 0, "constant_liar": False}
            self.tpe = {k: v for k, v in self.tpe.items() if k not in OPTIONS}
            self.min_points = int(options.get("n_startup_trials", max(3, min(10, sweep.samples // 4))))
            self.full_epochs = sweep.max_epochs
            self.fixed: dict[str, Any] = {}
            self.distributions: dict[str, Any] = {}
            self.configs: list[dict[str, Any]] = []  # params of each configuration drawn
            self.results: list[list[tuple[int, float]]] = [[] for _ in self.rungs]  # per rung, in arrival order
            self.promoted: list[set[int]] = [set() for _ in self.rungs]  # configurations promoted from each rung
            self.trials: dict[str, tuple[int, int]] = {}  # trial_id -> (configuration, rung)
            self.best: dict[str, float] = {}  # trial_id -> best value so far
            self.studies: dict[int, Any] = {}  # rung -> Optuna study told that rung's results
            self.completed: set[str] = set()
            self.rng = np.random.default_rng(self.seed)

        def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
            if metric:
                self._metric = metric
            if mode:
                self._mode = mode
            if config:
                from ray.tune.search.sample import Domain

                self.distributions = OptunaSearch.convert_search_space(
                    {k: v for k, v in config.items() if isinstance(v, Domain)})
                self.fixed = {k: v for k, v in config.items() if not isinstance(v, (Domain, dict))}
            return True

        # -- Tune's calls
        def suggest(self, trial_id: str) -> dict | str | None:
            ending = len(self.configs) >= self.samples and len(self.completed) == len(self.trials)
            for rung in range(len(self.rungs) - 2, -1, -1):
                index = promotable(self.results[rung], self.promoted[rung], self.eta, self._metric, ending)
                if index is not None:
                    self.promoted[rung].add(index)
                    return self._trial(trial_id, index, rung + 1)
            if len(self.configs) < self.samples:
                self.configs.append(self._draw())
                return self._trial(trial_id, len(self.configs) - 1, 0)
            if not ending:
                return None  # wait: a running trial may make a configuration promotable
            return Searcher.FINISHED

        def on_trial_result(self, trial_id: str, result: dict) -> None:
            value = float(result.get(self._metric, math.nan))
            old = self.best.get(trial_id, math.nan)
            self.best[trial_id] = value if select.is_better(value, old, self._metric) else old

        def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
            if trial_id not in self.trials or trial_id in self.completed:
                return
            self.completed.add(trial_id)
            if result and not error:
                self.on_trial_result(trial_id, result)
            value = math.nan if error else self.best.get(trial_id, math.nan)
            self.best[trial_id] = value
            index, rung = self.trials[trial_id]
            self.results[rung].append((index, value))
            if not math.isnan(value):
                self._tell(rung, self.configs[index], value)

        def save(self, checkpoint_path: str) -> None:
            state = {k: v for k, v in self.__dict__.items() if k != "studies"}
            with open(checkpoint_path, "wb") as file:
                pickle.dump(state, file)

        def restore(self, checkpoint_path: str) -> None:
            with open(checkpoint_path, "rb") as file:
                self.__dict__.update(pickle.load(file))
            self.studies = {}
            for rung, results in enumerate(self.results):
                for index, value in results:
                    if not math.isnan(value):
                        self._tell(rung, self.configs[index], value)

        # -- the parts
        def _trial(self, trial_id: str, index: int, rung: int) -> dict[str, Any]:
            self.trials[trial_id] = (index, rung)
            epochs = self.rungs[rung]
            params = self.configs[index]
            short = {"schedule_for": self.full_epochs} if epochs < self.full_epochs else {}
            return {**params, **short, "epochs": epochs, RUNG_KEY: rung}

        def _draw(self) -> dict[str, Any]:
            """A new configuration: TPE on the highest rung with enough results, else (and a random share) random."""
            enough = max(self.min_points, len(self.distributions) + 1)
            fitted = [r for r, results in enumerate(self.results)
                      if sum(not math.isnan(v) for _, v in results) >= enough]
            draw_seed = self.seed + 7919 * len(self.configs)  # each draw seeded by its number: a restored searcher
            #   (whose studies are rebuilt from the results) draws what the saved one would have
            if self.random_only or not fitted or self.rng.uniform() < self.random_fraction:
                study = self._study(-1)
                study.sampler = optuna.samplers.RandomSampler(seed=draw_seed)
            else:
                study = self._study(max(fitted))
                study.sampler = optuna.samplers.TPESampler(seed=draw_seed, **self.tpe)
            trial = study.ask(self.distributions)
            params = dict(trial.params)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)  # a proposal, not a result
            return params

        def _study(self, rung: int) -> Any:
            """The Optuna study told rung `rung`'s results (-1: the one random proposals are asked of)."""
            if rung not in self.studies:
                self.studies[rung] = optuna.create_study(direction=select.optuna_direction(self._metric))
            return self.studies[rung]

        def _tell(self, rung: int, params: dict[str, Any], value: float) -> None:
            self._study(rung).add_trial(optuna.trial.create_trial(params=params, distributions=self.distributions,
                                                                  value=value))

    return BudgetedSearcher


def budgeted(sweep: Sweep, storage: Any = None) -> Any:
    """SEARCHES["budgeted"]. The Optuna journal is not kept (its rungs' studies live in the searcher's checkpoint)."""
    return budgeted_searcher_class()(sweep)

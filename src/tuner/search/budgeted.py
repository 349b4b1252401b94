"""Budgeted successive halving (search="budgeted"): rungs that finish their schedule.

A configuration evaluated at a rung of budget b is a trial of its own, trained b epochs with its learning-rate
schedule laid over those b epochs (TrainConfig.epochs = b, schedule_for = max_epochs: step_size, cycle_epochs,
warmup_epochs and a step or exponential gamma are scaled by tuner.train.config.laid_over as the schedule is built,
while the trial's configuration, and trials.csv, keep the values searched), so a slow starter whose rate has not decayed is judged at the end of a
schedule, not in its first epochs. Rungs are at budgets b, b*eta, b*eta^2, ... up to max_epochs / eta, and max_epochs
(`rung_budgets`: b = grace_period, eta = reduction_factor).

Promotion is ASHA's (Li et al. 2020): whenever Tune asks for a trial, the searcher looks from the highest rung down
for a configuration in the top 1/eta (search_options keep: another share) of the results its rung has so far that
has not been promoted yet, and proposes it at the next budget as a new trial; only when none exists does it draw a
new configuration for the bottom rung, so no worker waits while a promotable configuration exists. The promoted
trial trains from scratch (search_options promotion="scratch", the default), or continues (promotion="continue")
from the last checkpoint of the configuration's trial at the rung below (named in its config, CONTINUED_FROM; that
trial is CONTINUABLE: its last checkpoint keeps its last weights and optimizer), training only the added epochs
with a fresh schedule laid over them (a warm restart: train.fit's start_from). After num_samples configurations, with
nothing running, each rung promotes its top ceil(n/eta) (a search of fewer than eta^k configurations still trains
its best to max_epochs); then the search ends.

New configurations come from a TPE model (tuner's TPE settings) fitted on the highest rung with enough results
(BOHB's rule, Falkner et al. 2018), or at random (search_options random_fraction, 1/3 as in BOHB; sampler="random"
draws every one at random). A trial's score at its rung is its best epoch's value of the sweep's metric.

Only trials at the full budget compete for the choice (tuner.select, rule 2); trials.csv names each trial's rung.
Each rung's results live in an Optuna study, in the run folder's journal where the sweep has one: the full budget's
under the sweep's name (where --warm-start tells earlier trials), a lower rung's under the name and its budget.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
from typing import TYPE_CHECKING, Any

from tuner import select
from tuner.runfolder import CONTINUABLE, CONTINUED_FROM, RUNG_KEY

if TYPE_CHECKING:
    from tuner.sweep.spec import Sweep

RANDOM_FRACTION = 1 / 3  # BOHB's default share of random configurations beside the model's
OPTIONS = ("sampler", "random_fraction", "n_startup_trials", "finalists", "brackets", "promotion",
           "keep")  # search_options the budgeted search reads
PROMOTIONS = ("scratch", "continue")  # search_options promotion: a promoted configuration trains from scratch at the
#   next budget, or continues from its trial at the rung below (the added epochs only); the first is the default
FINALISTS = 1  # configurations the search trains to the full budget at least (search_options finalists)
TRIAL_ATTR = "tuner.trial_id"  # user attributes of a rung study's trial: the Tune trial it ran as, and its budget
EPOCHS_ATTR = "tuner.epochs"
REDRAWS = 20  # draws a new configuration gets to differ from every earlier one (a finite space may run out)


def rung_budgets(grace_period: int, reduction_factor: float, max_epochs: int) -> list[int]:
    """Epochs of each rung: grace_period * eta^k up to max_epochs / eta (rounded, distinct), then max_epochs, so
    that every promotion multiplies a configuration's budget by eta at least (a rung just short of max_epochs would
    cost nearly a full run and tell little more than the full run does)."""
    budgets: list[int] = []
    budget = float(max(1, grace_period))
    while round(budget) < max_epochs and budget <= max_epochs / reduction_factor + 1e-9:
        if not budgets or round(budget) > budgets[-1]:
            budgets.append(int(round(budget)))
        budget *= reduction_factor
    return budgets + [max_epochs]


def sweep_rungs(sweep: Sweep) -> list[int]:
    return rung_budgets(sweep.grace_period, sweep.reduction_factor, sweep.max_epochs)


def kept_share(sweep: Sweep) -> float:
    """The share of a rung's configurations promoted to the next (search_options keep; 1/eta by default, ASHA's)."""
    return float(sweep.search_options.get("keep", 1 / sweep.reduction_factor))


def promotable(results: list[tuple[int, float]], promoted: set[int], eta: float, metric: str,
               ending: bool = False, at_least: int = 0) -> int | None:
    """ASHA's rule for one rung: the best configuration in the top floor(n / eta) of the rung's n results
    (configuration index, score) that has not been promoted yet, or None. `ending` (nothing left to draw, nothing
    running): the top max(ceil(n / eta), at_least), so that a search of fewer than eta^k configurations still
    trains its best to the full budget, and `at_least` of them where a rung's ranking may mislead."""
    keep = max(math.ceil(len(results) / eta), at_least) if ending else int(len(results) // eta)
    ranked = sorted(results, key=lambda r: (select.sort_key(r[1], metric), r[0]))[:keep]
    return next((index for index, value in ranked if index not in promoted and not math.isnan(value)), None)


def bracket_weights(rungs: int, eta: float, brackets: int) -> list[int]:
    """HyperBand's configurations per bracket (Li et al. 2018): the bracket starting at rung r of R gets
    ceil(R / (s + 1) * eta^s) with s = R - 1 - r; the first `brackets` of them (1: successive halving alone)."""
    return [math.ceil(rungs / (rungs - r) * eta ** (rungs - 1 - r)) for r in range(max(1, min(brackets, rungs)))]


def bracket_runs(sweep: Sweep) -> list[list[float]]:
    """Trials each bracket runs at each rung, about: its share of num_samples at its first rung, 1/eta^k of them again
    k rungs up, and at least `finalists` of them at the full budget."""
    rungs, eta, options = sweep_rungs(sweep), sweep.reduction_factor, sweep.search_options
    weights = bracket_weights(len(rungs), eta, int(options.get("brackets", 1)))
    brackets = []
    for start, weight in enumerate(weights):
        first, runs = sweep.samples * weight / sum(weights), [0.0] * len(rungs)
        for k in range(start, len(rungs)):
            n = first * kept_share(sweep) ** (k - start)
            if k == len(rungs) - 1 and k > start:
                n = min(first, max(n, int(options.get("finalists", FINALISTS))))
            runs[k] = n
        brackets.append(runs)
    return brackets


def expected_runs(sweep: Sweep) -> list[float]:
    """Trials a budgeted search runs at each rung, about (bracket_runs summed)."""
    return [sum(runs) for runs in zip(*bracket_runs(sweep))]


def expected_trials(sweep: Sweep) -> int:
    return max(1, round(sum(expected_runs(sweep))))


def expected_epochs_per_configuration(sweep: Sweep) -> float:
    """Trial-epochs per configuration drawn: a trial at its bracket's first rung trains that rung's budget; a promoted
    one trains the next budget from scratch, or (promotion="continue") the epochs it adds to the rung below."""
    rungs, total = sweep_rungs(sweep), 0.0
    continues = sweep.search_options.get("promotion") == "continue"
    for start, runs in enumerate(bracket_runs(sweep)):
        for k, n in enumerate(runs):
            total += n * (rungs[k] - (rungs[k - 1] if continues and k > start else 0))
    return total / max(1, sweep.samples)


def bound(sweep: Sweep) -> int:
    """Tune's num_samples for a budgeted search: at most every configuration at every rung."""
    return sweep.samples * len(sweep_rungs(sweep))


def budgeted_searcher_class() -> type:
    import optuna
    from ray.tune.search import Searcher
    from ray.tune.search.optuna import OptunaSearch

    from tuner.search.optuna_search import quiet_optuna, study_name, tpe_settings

    class BudgetedSearcher(Searcher):
        """Proposes (configuration, budget) trials: promotions first (ASHA), then new bottom-rung configurations
        (TPE on the highest rung with enough results, or random)."""

        def __init__(self, sweep: Sweep, storage: Any = None):
            metric, mode = sweep.metric, select.direction(sweep.metric)
            super().__init__(metric=metric, mode=mode)
            quiet_optuna()
            self.storage, self.name = storage, study_name(sweep)
            self.rungs = sweep_rungs(sweep)
            self.eta, self.samples, self.seed = sweep.reduction_factor, sweep.samples, sweep.search_seed
            self.keep_eta = 1 / kept_share(sweep)
            options = sweep.search_options
            self.random_only = options.get("sampler") == "random"
            self.random_fraction = float(options.get("random_fraction", RANDOM_FRACTION))
            self.tpe = {**tpe_settings(sweep), "n_startup_trials": 0, "constant_liar": False}
            self.tpe = {k: v for k, v in self.tpe.items() if k not in OPTIONS}
            self.min_points = int(options.get("n_startup_trials", max(3, min(10, sweep.samples // 4))))
            self.finalists = int(options.get("finalists", FINALISTS))
            self.continues = options.get("promotion", PROMOTIONS[0]) == "continue"
            self.weights = bracket_weights(len(self.rungs), self.eta, int(options.get("brackets", 1)))
            self.bracket_of: list[int] = []  # each configuration's bracket: the rung it starts at
            self.full_epochs = sweep.max_epochs
            self.fixed: dict[str, Any] = {}
            self.distributions: dict[str, Any] = {}
            self.configs: list[dict[str, Any]] = []  # params of each configuration drawn
            self.drawn_from: list[int] = []  # the rung whose model proposed each one (-1: at random)
            self.results: list[list[tuple[int, float]]] = [[] for _ in self.rungs]  # per rung, in arrival order
            self.promoted: list[set[int]] = [set() for _ in self.rungs]  # configurations promoted from each rung
            self.trials: dict[str, tuple[int, int]] = {}  # trial_id -> (configuration, rung)
            self.best: dict[str, float] = {}  # trial_id -> best value so far
            self.studies: dict[int, Any] = {}  # rung -> Optuna study told that rung's results (in `storage`, the run
            #   folder's journal, where given)
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
                at_least = self.finalists if rung == len(self.rungs) - 2 else 0
                for bracket in range(min(rung + 1, len(self.weights))):  # promotions within a bracket
                    results = [r for r in self.results[rung] if self.bracket_of[r[0]] == bracket]
                    index = promotable(results, self.promoted[rung], self.keep_eta, self._metric, ending, at_least)
                    if index is not None:
                        self.promoted[rung].add(index)
                        return self._trial(trial_id, index, rung + 1, self._trial_at(index, rung))
            if len(self.configs) < self.samples:
                self.configs.append(self._draw())
                self.bracket_of.append(self._next_bracket())
                return self._trial(trial_id, len(self.configs) - 1, self.bracket_of[-1])
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
                self._tell(rung, self.configs[index], value, trial_id)

        def save(self, checkpoint_path: str) -> None:
            state = {k: v for k, v in self.__dict__.items() if k not in ("studies", "storage")}
            with open(checkpoint_path, "wb") as file:
                pickle.dump(state, file)

        def restore(self, checkpoint_path: str) -> None:
            with open(checkpoint_path, "rb") as file:
                self.__dict__.update(pickle.load(file))
            if len(self.bracket_of) < len(self.configs):  # saved before brackets: one bracket
                self.bracket_of = [0] * len(self.configs)
            self.studies = {}
            for rung, results in enumerate(self.results):
                for index, value in results:
                    if not math.isnan(value):
                        self._tell(rung, self.configs[index], value, self._trial_at(index, rung))

        # -- the parts
        def _trial(self, trial_id: str, index: int, rung: int, donor: str | None = None) -> dict[str, Any]:
            """Configuration `index` at `rung`; `donor`: its trial at the rung below (a promotion)."""
            self.trials[trial_id] = (index, rung)
            epochs = self.rungs[rung]
            params = self.configs[index]
            short = {"schedule_for": self.full_epochs} if epochs < self.full_epochs else {}
            chain = {}
            if self.continues:
                chain = {CONTINUED_FROM: donor} if donor else {}
                chain.update({CONTINUABLE: True} if rung < len(self.rungs) - 1 else {})
            return {**params, **short, "epochs": epochs, RUNG_KEY: rung, **chain}

        def _trial_at(self, index: int, rung: int) -> str:
            return next(t for t, (i, r) in self.trials.items() if (i, r) == (index, rung))

        def _next_bracket(self) -> int:
            """The bracket furthest behind its HyperBand share (the first one on a tie)."""
            counts = [self.bracket_of.count(b) for b in range(len(self.weights))]
            return min(range(len(self.weights)), key=lambda b: (counts[b] / self.weights[b], b))

        def _draw(self) -> dict[str, Any]:
            """A new configuration: TPE on the highest rung with enough results, else (and a random share) random."""
            enough = max(self.min_points, len(self.distributions) + 1)
            fitted = [r for r in range(len(self.rungs)) if len(self._results_told(r)) >= enough]
            draw_seed = self.seed + 7919 * len(self.configs)  # each draw seeded by its number: a restored searcher
            #   (whose studies are rebuilt from the results) draws what the saved one would have
            at_random = self.random_only or not fitted or self.rng.uniform() < self.random_fraction
            study = optuna.create_study(direction=select.optuna_direction(self._metric))  # proposals are not results
            study.add_trials([] if at_random else self._results_told(max(fitted)))
            self.drawn_from.append(-1 if at_random else max(fitted))
            params: dict[str, Any] = {}
            for attempt in range(REDRAWS):  # a configuration drawn before is evaluated already: draw again
                seed = draw_seed + 104729 * attempt
                study.sampler = optuna.samplers.RandomSampler(seed=seed) if at_random else \
                    optuna.samplers.TPESampler(seed=seed, **self.tpe)
                trial = study.ask(self.distributions)
                params = dict(trial.params)
                study.tell(trial, state=optuna.trial.TrialState.FAIL)  # a proposal, not a result
                if params not in self.configs:
                    break
            return params

        def _study(self, rung: int) -> Any:
            """The Optuna study told rung `rung`'s results: in the run folder's journal where there is one (the full
            budget's under the sweep's name, where a warm start tells earlier trials; a rung below under the name
            and its budget), else in memory."""
            if rung not in self.studies:
                direction = select.optuna_direction(self._metric)
                if self.storage is None:
                    self.studies[rung] = optuna.create_study(direction=direction)
                else:
                    name = self.name if rung == len(self.rungs) - 1 else f"{self.name} rung {rung} " \
                                                                          f"({self.rungs[rung]} epochs)"
                    self.studies[rung] = optuna.create_study(storage=self.storage, study_name=name,
                                                             direction=direction, load_if_exists=True)
            return self.studies[rung]

        def _results_told(self, rung: int) -> list[Any]:
            return self._study(rung).get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))

        def _tell(self, rung: int, params: dict[str, Any], value: float, trial_id: str) -> None:
            """Rung `rung`'s result of trial `trial_id`, once (a journal may hold it already: told before a kill)."""
            study = self._study(rung)
            if any(t.user_attrs.get(TRIAL_ATTR) == trial_id for t in study.get_trials(deepcopy=False)):
                return
            study.add_trial(optuna.trial.create_trial(params=params, distributions=self.distributions, value=value,
                                                      user_attrs={TRIAL_ATTR: trial_id,
                                                                  EPOCHS_ATTR: self.rungs[rung]}))

    return BudgetedSearcher


def budgeted(sweep: Sweep, storage: Any = None) -> Any:
    """SEARCHES["budgeted"]; `storage`: the run folder's Optuna journal, which keeps a study per rung."""
    return budgeted_searcher_class()(sweep, storage)

"""Warm start: earlier runs' trials told to a new sweep's Optuna study before its first trial starts.

`python -m tuner.sweep SWEEP --warm-start RUN_DIR` (repeatable). A trial is taken when its configuration is one
the new sweep could have proposed: every searched value inside the new domain (a number inside the new range, a
category still offered), every setting either run fixed (data, model, epochs, weight_decay, ...; a setting a run
did not fix is its TrainConfig default) equal to the trial's, and the same data subset.
Taken trials are told as the sweep's own would be (tuner.search.optuna_search.told_search_class): ended by
itself -> COMPLETE with its best epoch's value; stopped by a trial scheduler or the time budget -> PRUNED with its
per-epoch values; errored or interrupted trials are left out. They inform the search only: they are not this run's
trials, and never compete in its selection.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tuner import runfolder, runspec, select
from tuner.errors import UserError
from tuner.runfolder import HISTORY_FILE, SPEC_FILE, TRIALS_FILE, format_value, key_parts
from tuner.search.optuna_search import study_name
from tuner.search.searches import BUDGETED_SEARCHES, OPTUNA_SEARCHES
from tuner.status import CUT_SHORT, ENDED_BY_ITSELF

COMPLETE_STATUSES = ENDED_BY_ITSELF  # told COMPLETE with their best value
PRUNED_STATUSES = CUT_SHORT  # told PRUNED with their per-epoch values
IGNORED_KEYS = frozenset({"seed"})  # a trial of another seed is still evidence about its configuration


class Misfit(Exception):
    """Why an earlier trial does not fit the new sweep."""


@dataclass
class Evaluated:
    """One earlier trial as the new study is told it."""

    source: str  # "RUN_DIR trial_id"
    params: dict[str, Any]  # Optuna parameter name -> value, as the new space names them
    distributions: dict[str, Any]
    state: str  # COMPLETE | PRUNED
    value: float | None
    intermediate: dict[int, float]


@dataclass
class WarmStart:
    taken: list[Evaluated] = field(default_factory=list)
    left_out: list[dict[str, str]] = field(default_factory=list)  # {"run", "trial_id", "why"}

    def to_json(self, runs: list[str]) -> dict[str, Any]:
        return {"runs": runs, "taken": [e.source for e in self.taken], "left_out": self.left_out}

    def describe(self) -> str:
        lines = [f"warm start: {len(self.taken)} earlier trials given to the search, {len(self.left_out)} left out"]
        reasons: dict[str, int] = {}
        for item in self.left_out:
            reasons[item["why"]] = reasons.get(item["why"], 0) + 1
        lines += [f"  left out {count}: {why}" for why, count in sorted(reasons.items(), key=lambda kv: -kv[1])[:8]]
        return "\n".join(lines)


def check_runs(locations: list[str]) -> list[Path]:
    """Each --warm-start must be a finished or killed tuner run folder with trials."""
    folders = []
    for location in locations:
        folder = Path(location)
        missing = [n for n in (SPEC_FILE, TRIALS_FILE, HISTORY_FILE) if not (folder / n).is_file()]
        if missing:
            raise UserError(f"--warm-start {location} is not a tuner run folder with trials "
                            f"(missing: {', '.join(missing)})")
        folders.append(folder)
    return folders


def collect(sweep: Any, folders: list[Path]) -> WarmStart:
    """Every trial of `folders` the new sweep's space could have proposed, with why each other one was left out."""
    if sweep.search not in OPTUNA_SEARCHES | BUDGETED_SEARCHES:
        raise UserError(f"--warm-start needs an Optuna or a budgeted search (search={sweep.search!r} learns nothing "
                        f"from earlier trials); use search='optuna'")
    if sweep.objectives:
        raise UserError("--warm-start applies to single-objective sweeps")
    fixed = sweep.fixed_config()
    searched = sweep.searched_names()
    warm = WarmStart()
    for folder in folders:
        old_spec = runspec.read_spec(folder, f"--warm-start {folder}", required=("fixed_config",))
        old_fixed = old_spec.fixed_config
        cut = (old_spec.sweep.get("subset") or 0, sweep.subset)
        trials = runfolder.read_csv(folder / TRIALS_FILE)
        history = runfolder.read_csv(folder / HISTORY_FILE)
        by_trial = {str(t): f.sort_values("epoch") for t, f in history.groupby("trial_id")}
        for _, row in trials.iterrows():
            trial_id = str(row["trial_id"])
            old = {**old_fixed, **{c.removeprefix(select.CONFIG_PREFIX): row[c] for c in trials.columns
                                   if c.startswith(select.CONFIG_PREFIX)}}
            try:
                if not _same(*cut):
                    raise Misfit(f"the sweep's subset is {cut[1]} images here, {cut[0]} there")
                warm.taken.append(_evaluated(sweep, fixed, searched, old, row, by_trial.get(trial_id),
                                             f"{folder} {trial_id}"))
            except Misfit as why:
                warm.left_out.append({"run": str(folder), "trial_id": trial_id, "why": str(why)})
    return warm


def _evaluated(sweep: Any, fixed: dict[str, Any], searched: set[str], old: dict[str, Any], row: pd.Series,
               curve: pd.DataFrame | None, source: str) -> Evaluated:
    status = str(row["status"])
    if status not in COMPLETE_STATUSES | PRUNED_STATUSES:
        raise Misfit(f"status {status}")
    defaults = train_defaults()
    for key in sorted((set(fixed) | set(old)) & set(defaults)):  # a setting either run fixed, or left at its default
        if key in searched or key in IGNORED_KEYS:
            continue
        here, there = fixed.get(key, defaults[key]), old.get(key, defaults[key])
        if not _same(here, there):
            raise Misfit(f"{key} is {_show(here)} here, {_show(there)} there")
    params, distributions = fitted_params(sweep, old)
    values = {} if curve is None else {int(e): float(v) for e, v in zip(curve["epoch"], curve[sweep.metric])
                                       if not _missing(v)}
    if not values:
        raise Misfit("no recorded epoch")
    if status in COMPLETE_STATUSES:
        best = select.best_value(values.values(), sweep.metric)
        return Evaluated(source, params, distributions, "COMPLETE", best, values)
    return Evaluated(source, params, distributions, "PRUNED", None, values)


def train_defaults() -> dict[str, Any]:
    """Every TrainConfig setting's default: what a run that did not fix a setting trained with."""
    from tuner.train.config import TrainConfig

    return {f.name: f.default for f in dataclasses.fields(TrainConfig)}


def fitted_params(sweep: Any, old: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The new space's Optuna parameters for an old configuration, or Misfit naming the value that does not fit."""
    if callable(sweep.space):
        recorder = _Recorder(old)
        sweep.space(recorder)
        return recorder.params, recorder.distributions
    from ray.tune.search.optuna import OptunaSearch

    distributions = OptunaSearch.convert_search_space(dict(sweep.space))
    params = {}
    for name, distribution in distributions.items():
        parts = key_parts(name)
        if any(p not in old for p in parts):
            raise Misfit(f"{name} was not recorded")
        value = tuple(old[p] for p in parts) if len(parts) > 1 else old[name]
        params[name] = _fit(name, distribution, value)
    return params, distributions


def _fit(name: str, distribution: Any, value: Any) -> Any:
    import optuna

    if isinstance(distribution, optuna.distributions.CategoricalDistribution):
        for choice in distribution.choices:
            if _same(choice, value):
                return choice
        raise Misfit(f"{name}={_show(value)} is not offered")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Misfit(f"{name}={_show(value)} is not a number") from None
    if not distribution.low <= number <= distribution.high:
        raise Misfit(f"{name}={number:g} is outside [{distribution.low:g}, {distribution.high:g}]")
    return int(round(number)) if isinstance(distribution, optuna.distributions.IntDistribution) else number


class _Recorder:
    """Stands in for an optuna.Trial in a define-by-run space: answers each suggestion with the old trial's
    value if it fits the suggested domain, and records the distributions."""

    def __init__(self, old: dict[str, Any]):
        self.old, self.params, self.distributions = old, {}, {}

    def _take(self, name: str, distribution: Any) -> Any:
        if name not in self.old:
            raise Misfit(f"{name} was not recorded")
        value = _fit(name, distribution, self.old[name])
        self.params[name], self.distributions[name] = value, distribution
        return value

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        import optuna

        return self._take(name, optuna.distributions.FloatDistribution(low, high, log=log, step=step))

    def suggest_int(self, name: str, low: int, high: int, step: int = 1, log: bool = False) -> int:
        import optuna

        return self._take(name, optuna.distributions.IntDistribution(low, high, log=log, step=step))

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        import optuna

        return self._take(name, optuna.distributions.CategoricalDistribution(tuple(choices)))

    def suggest_uniform(self, name: str, low: float, high: float) -> float:
        return self.suggest_float(name, low, high)

    def suggest_loguniform(self, name: str, low: float, high: float) -> float:
        return self.suggest_float(name, low, high, log=True)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _same(wanted: Any, recorded: Any) -> bool:
    """A configured value and one read back from a CSV (tuples as "a,b", numbers as text or floats)."""
    if isinstance(wanted, tuple) and isinstance(recorded, tuple) and len(wanted) == len(recorded):
        return all(_same(w, r) for w, r in zip(wanted, recorded))
    if _missing(wanted) or _missing(recorded):
        return _missing(wanted) and _missing(recorded)
    if isinstance(wanted, bool) or isinstance(recorded, bool):
        return str(wanted).lower() == str(recorded).lower()
    try:
        return math.isclose(float(wanted), float(recorded), rel_tol=1e-9, abs_tol=1e-12)
    except (TypeError, ValueError):
        return str(format_value(wanted)).replace(" ", "") == str(format_value(recorded)).replace(" ", "")


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(format_value(value))


def tell(study: Any, evaluated: list[Evaluated]) -> int:
    """Add the earlier trials to an Optuna study (before the search asks it for anything); returns how many."""
    import optuna

    trials = [optuna.trial.create_trial(
        params=e.params, distributions=e.distributions, intermediate_values=e.intermediate,
        state=optuna.trial.TrialState[e.state], value=e.value if e.state == "COMPLETE" else None,
        user_attrs={"tuner.warm_start": e.source}) for e in evaluated]
    study.add_trials(trials)
    return len(trials)


def open_study(sweep: Any, storage: Any) -> Any:
    """The sweep's study in `storage`, as Ray's OptunaSearch will open it (same name and direction)."""
    import optuna

    direction = select.optuna_direction(sweep.metric)
    return optuna.create_study(storage=storage, study_name=study_name(sweep), direction=direction,
                               load_if_exists=True)


def give(sweep: Any, storage: Any, warm: WarmStart, say: Callable[[str], None] | None = print) -> int:
    """Tell the study in `storage` the taken trials; the search then opens the same study."""
    told = tell(open_study(sweep, storage), warm.taken) if warm.taken else 0
    if say:
        say(warm.describe())
    return told

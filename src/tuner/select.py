"""Choosing a configuration: the one place that ranks trials and configurations.

The engine (which configurations the confirm phase re-runs, which one is tested), the terminal table,
best.json, the analysis report and `tuner.replay` (what tuner would choose at any moment of a replayed
sweep) all call this module. Its rules, also in docs/run-folder.md:

1. A trial's score is the value of the sweep's metric at its best epoch on the validation split; whether
   higher or lower is better comes from METRICS alone. The weights saved and tested are that epoch's.
2. Trials that ended ERROR, DIVERGED or STUCK never compete; nor do trials whose schedule was laid over fewer
   epochs than the sweep's max_epochs (a lower rung of a budgeted search: trials.csv's full_budget is False).
3. A configuration is a trial's searched values without the seed. Its score is the mean over its distinct
   seeds (one trial per configuration and seed: a search that proposes a point twice has not run a second seed).
4. Only the configurations run on the most seeds compete: after a confirm phase that is every seed of the
   sweep, so a lucky single draw cannot beat a confirmed mean.
5. Ties in the mean go to the smaller spread (standard deviation over seeds), then to the earlier trial.
6. Of the chosen configuration, the trial of its best seed is the one whose checkpoint is tested.
7. A multi-objective sweep (objectives=[(metric, mode), ...], the first one its metric) ranks by rules 1-5 on the
   first objective; a configuration's value of every objective is its mean over the trials rule 3 counts. Its
   Pareto front is the competing configurations (rule 4) with every objective measured that no other one
   dominates (at least as good on every objective, better on one). The chosen configuration is the first of the
   front in rule 1-5 order: the best on the first objective, an exact tie going to the one no other dominates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tuner.status import UNUSABLE

METRICS = {"val_acc": "max", "val_loss": "min", "train_acc": "max", "train_loss": "min", "num_params": "min",
           "latency_ms": "min"}
SELECTION_METRICS = ("val_acc", "val_loss")  # a sweep selects on the validation split, never on training or test
# a multi-objective sweep may also weigh the model's size and its batch-1 inference time (measured after training)
OBJECTIVE_METRICS = (*SELECTION_METRICS, "num_params", "latency_ms")
CONFIG_PREFIX = "config/"
FULL_BUDGET = "full_budget"  # trials.csv: the trial's schedule was laid over the sweep's whole max_epochs


def direction(metric: str) -> str:
    """'max' or 'min': the one table every ranking, trial scheduler and search reads."""
    return METRICS[metric]


def is_better(value: float, than: float, metric: str) -> bool:
    if math.isnan(value):
        return False
    if math.isnan(than):
        return True
    return value > than if direction(metric) == "max" else value < than


def best_value(values: Iterable[float], metric: str) -> float:
    """The best of `values` for `metric`, NaN left out; NaN when none is left."""
    numbers = [v for v in values if v is not None and not math.isnan(v)]
    if not numbers:
        return math.nan
    return max(numbers) if direction(metric) == "max" else min(numbers)


def optuna_direction(metric: str) -> str:
    """Optuna's name for the metric's direction: 'maximize' or 'minimize'."""
    return "maximize" if direction(metric) == "max" else "minimize"


def best_first(metric: str) -> bool:
    """Whether sorting by the metric in descending order puts the best first (pandas: ascending=not best_first)."""
    return direction(metric) == "max"


def worse_by(value: float, gap: float, metric: str) -> float:
    """The value `gap` short of `value` in the metric's direction (a target within `gap` of the best)."""
    return value - gap if direction(metric) == "max" else value + gap


def sort_key(value: float, metric: str) -> float:
    """Ascending sort key: best first, NaN last."""
    if value is None or math.isnan(value):
        return math.inf
    return -value if direction(metric) == "max" else value


def check_metric(metric: str, mode: str | None, allowed: Iterable[str] = SELECTION_METRICS) -> str:
    """The mode for `metric`; raises ValueError with a user-facing message if either is wrong."""
    allowed = tuple(allowed)
    if metric not in allowed:
        hint = " (tuner selects on the validation split, never on training or test data)" \
            if metric in METRICS else ""
        raise ValueError(f"metric {metric!r} is not one of {', '.join(allowed)}{hint}")
    if mode is not None and mode != direction(metric):
        raise ValueError(f"mode {mode!r} contradicts metric {metric!r}, which is {direction(metric)}imised; "
                         f"leave mode out")
    return direction(metric)


# ---------------------------------------------------------------- one trial


def best_epoch(epochs: pd.DataFrame, metric: str) -> pd.Series | None:
    """The epoch row with the best value of `metric` (the first such epoch); None if none has a value."""
    if not len(epochs) or metric not in epochs or epochs[metric].isna().all():
        return None
    values = epochs[metric]
    return epochs.loc[values.idxmax() if direction(metric) == "max" else values.idxmin()]


def rank_trials(trials: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Trials best first by their best epoch's metric; unusable trials (and trials without a value) last."""
    if trials.empty:
        return trials
    keys = [(status in UNUSABLE, sort_key(_number(value), metric), position)
            for position, (status, value) in enumerate(zip(trials["status"], trials[metric]))]
    order = sorted(range(len(trials)), key=keys.__getitem__)
    return trials.iloc[order].reset_index(drop=True)


# ---------------------------------------------------------------- configurations


@dataclass
class TrialScore:
    """What the rules need of one trial."""

    trial_id: str
    configuration: str  # the searched values without the seed, as one string
    seed: Any
    status: str
    value: float  # the metric at the trial's best epoch (NaN if none)
    short: bool = False  # trained a budget below max_epochs (a lower rung): never competes (rule 2)


@dataclass
class ConfigScore:
    configuration: str
    mean: float
    std: float  # 0 for a single seed
    n: int  # distinct seeds with a usable trial
    trial_ids: list[str]  # one per distinct seed, best first
    competes: bool = False  # run on the most seeds (rule 4)
    all_trial_ids: list[str] = field(default_factory=list)

    @property
    def best_trial_id(self) -> str:
        return self.trial_ids[0]


def score_configurations(scores: Iterable[TrialScore], metric: str) -> list[ConfigScore]:
    """Usable configurations, best first by rules 2-5 (those that compete come first)."""
    seen: dict[str, dict[Any, TrialScore]] = {}
    everyone: dict[str, list[str]] = {}
    for score in scores:
        everyone.setdefault(score.configuration, []).append(score.trial_id)
        if score.status in UNUSABLE or score.short or score.value is None or math.isnan(score.value):
            continue
        seen.setdefault(score.configuration, {}).setdefault(score.seed, score)  # one trial per seed (rule 3)
    configs = []
    for configuration, by_seed in seen.items():
        members = sorted(by_seed.values(), key=lambda s: sort_key(s.value, metric))
        values = [s.value for s in members]
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
        configs.append(ConfigScore(configuration, mean, std, len(values), [s.trial_id for s in members],
                                   all_trial_ids=everyone[configuration]))
    most = max((c.n for c in configs), default=0)
    for config in configs:
        config.competes = config.n == most
    order = {c: i for i, c in enumerate(everyone)}
    configs.sort(key=lambda c: (not c.competes, sort_key(c.mean, metric), c.std, order[c.configuration]))
    return configs


def choose_configuration(scores: Iterable[TrialScore], metric: str) -> ConfigScore | None:
    ranked = score_configurations(scores, metric)
    return ranked[0] if ranked else None


def configuration_key(row: pd.Series | dict[str, Any], columns: list[str]) -> str:
    return " | ".join(f"{c.removeprefix(CONFIG_PREFIX)}={_text(row[c])}" for c in columns) or "all"


def config_columns(trials: pd.DataFrame) -> list[str]:
    """The searched values that identify a configuration: every config/ column but the seed."""
    return [c for c in trials.columns if c.startswith(CONFIG_PREFIX) and c != f"{CONFIG_PREFIX}seed"]


def trial_scores(trials: pd.DataFrame, metric: str) -> list[TrialScore]:
    columns = config_columns(trials)
    seeds = trials["seed"] if "seed" in trials else [0] * len(trials)
    full = trials[FULL_BUDGET] if FULL_BUDGET in trials else [True] * len(trials)
    return [TrialScore(str(row["trial_id"]), configuration_key(row, columns), seed, row["status"],
                       _number(row[metric]), short=not _true(whole))
            for (_, row), seed, whole in zip(trials.iterrows(), seeds, full)]


def configurations(trials: pd.DataFrame, metric: str) -> list[ConfigScore]:
    """Every usable configuration of a trials table (trials.csv's columns), best first."""
    if trials.empty:
        return []
    return score_configurations(trial_scores(trials, metric), metric)


@dataclass
class Choice:
    trial: pd.Series  # the tested trial: the chosen configuration's best seed
    config: ConfigScore
    metric: str
    objectives: list[str] = field(default_factory=list)  # a multi-objective sweep's metrics (rule 7)

    def to_json(self) -> dict[str, Any]:
        front = f"; of the Pareto front on {', '.join(self.objectives)}, the first in that order" \
            if len(self.objectives) > 1 else ""
        return {"n": self.config.n, "mean": self.config.mean, "std": self.config.std,
                "trial_ids": self.config.trial_ids,
                "rule": f"the configuration with the best mean {self.metric} over its seeds, among those run on the "
                        f"most seeds ({self.config.n}); ties to the smaller spread{front}; its best seed's checkpoint "
                        "is tested"}


def objective_names(objectives: Sequence[Sequence[str]] | None) -> list[str]:
    """The metrics of a Sweep's `objectives` ([(metric, mode), ...], as a sweep file or spec.json holds them)."""
    return [pair[0] for pair in objectives or []]


def choose(trials: pd.DataFrame, metric: str, objectives: Sequence[Sequence[str]] | None = None) -> Choice | None:
    """The configuration tuner chooses from a trials table (rules 1-7), or None when no trial is usable."""
    ranked = configurations(trials, metric)
    names = objective_names(objectives)
    if len(names) > 1 and ranked:
        front = pareto(trials, names)
        key = front.loc[front["chosen"], "configuration"].iloc[0]
        ranked = [c for c in ranked if c.configuration == key]
    best = next(iter(ranked), None)
    if best is None:
        return None
    row = trials[trials["trial_id"].astype(str) == best.best_trial_id].iloc[0]
    return Choice(row, best, metric, names if len(names) > 1 else [])


def dominates(a: Sequence[float], b: Sequence[float], metrics: Sequence[str]) -> bool:
    """Whether values `a` are at least as good as `b` on every metric and better on one (each in its direction)."""
    keys = [(sort_key(x, m), sort_key(y, m)) for x, y, m in zip(a, b, metrics)]
    return all(x <= y for x, y in keys) and any(x < y for x, y in keys)


def pareto(trials: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Rule 7: one row per competing configuration, in rule 1-5 order on the first metric: `configuration`, its
    config/ columns, the mean of each metric over its counted trials, `trial` (its best seed), `pareto` (every
    metric measured and no other configuration dominates it) and `chosen`."""
    if trials.empty or not metrics:
        return pd.DataFrame()
    columns = config_columns(trials)
    by_id = {str(tid): row for tid, (_, row) in zip(trials["trial_id"], trials.iterrows())}
    rows = []
    for config in configurations(trials, metrics[0]):
        if not config.competes:
            continue
        members = [by_id[t] for t in config.trial_ids]
        means = [_mean([_number(r.get(m)) for r in members]) for m in metrics]
        rows.append({"configuration": config.configuration, **{c: members[0][c] for c in columns},
                     **dict(zip(metrics, means)), "trial": members[0]["trial_id"]})
    values = [[row[m] for m in metrics] for row in rows]
    for row, own in zip(rows, values):
        measured = not any(math.isnan(v) for v in own)
        row["pareto"] = measured and not any(dominates(other, own, metrics) for other in values
                                             if not any(math.isnan(v) for v in other))
    first = next((row for row in rows if row["pareto"]), rows[0] if rows else None)
    for row in rows:
        row["chosen"] = row is first
    return pd.DataFrame(rows)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values and not any(math.isnan(v) for v in values) else math.nan


def top_configurations(trials: pd.DataFrame, metric: str, count: int) -> list[ConfigScore]:
    """The `count` best usable configurations (for the confirm phase)."""
    return configurations(trials, metric)[:count]


def ranking(trials: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per configuration in the order the rules rank them (the chosen one first), configurations without a
    usable trial last: its searched values (config/ columns), seeds run, mean and std of the metric over the seeds
    with a usable trial, the tested trial
    (its best seed), that trial's best epoch, its longest run, the statuses of its trials, whether it competes."""
    if trials.empty:
        return pd.DataFrame()
    columns = config_columns(trials)
    scores = trial_scores(trials, metric)
    rows_by_id = {str(tid): row for tid, (_, row) in zip(trials["trial_id"], trials.iterrows())}
    members: dict[str, list[pd.Series]] = {}
    for score in scores:
        members.setdefault(score.configuration, []).append(rows_by_id[score.trial_id])
    ranked = score_configurations(scores, metric)
    out = []
    for config in ranked:
        out.append(_ranking_row(config.configuration, members[config.configuration], columns, metric,
                                rows_by_id[config.best_trial_id], config))
    scored = {c.configuration for c in ranked}
    for key, rows in members.items():
        if key not in scored:
            out.append(_ranking_row(key, rows, columns, metric, rows[0], None))
    return pd.DataFrame(out)


def _ranking_row(key: str, rows: list[pd.Series], columns: list[str], metric: str, best: pd.Series,
                 config: ConfigScore | None) -> dict[str, Any]:
    return {"configuration": key, **{c: best[c] for c in columns},
            "seeds": len({str(r.get("seed", 0)) for r in rows}),
            f"{metric} mean": config.mean if config else math.nan,
            f"{metric} std": config.std if config and config.n > 1 else math.nan,
            "trial": best["trial_id"], "best epoch": int(best.get("best_epoch", 0) or 0),
            "epochs": int(max(r["epochs"] for r in rows)),
            "status": ", ".join(sorted({str(r["status"]) for r in rows})),
            "trial_ids": [r["trial_id"] for r in rows], "competes": bool(config and config.competes),
            "usable": config is not None}


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _true(value: Any) -> bool:
    """A full_budget cell: True, or missing (a run folder recorded before the column) counts as the full budget."""
    if isinstance(value, str):
        return value.strip().lower() != "false"
    return value is None or (isinstance(value, float) and math.isnan(value)) or bool(value)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.6g}"
    return str(value)

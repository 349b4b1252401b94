"""Hyperparameter importance with Optuna's fANOVA evaluator, from the trials table alone.

Works for grid and random sweeps too: an in-memory Optuna study is built from the rows,
one finished trial per row, with distributions read off the observed values.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import optuna
import pandas as pd

from tuner import select
from tuner.analysis.load import RunData

MIN_TRIALS = 4


def study_from_trials(run: RunData) -> tuple[optuna.Study, list[str]]:
    """An Optuna study holding every usable trial; returns it and the hyperparameters it covers.

    Hyperparameters a trial's branch of a conditional space skipped (empty cells) are left out,
    as fANOVA needs every parameter in every trial."""
    metric = run.metric if run.metric in run.trials else "val_acc"
    trials = run.usable.dropna(subset=[metric])
    names = [c for c in run.hyperparameters if trials[c].notna().all() and trials[c].nunique() > 1]
    distributions = {name: _distribution(trials[name], run, name.removeprefix("config/")) for name in names}
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # a throwaway in-memory study: no "created" line
    study = optuna.create_study(direction=select.optuna_direction(metric))
    for _, row in trials.iterrows():
        params = {name.removeprefix("config/"): _param(row[name], distributions[name]) for name in names}
        dists = {name.removeprefix("config/"): d for name, d in distributions.items()}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=float(row[metric])))
    return study, [n.removeprefix("config/") for n in names]


def _distribution(values: pd.Series, run: RunData, name: str) -> optuna.distributions.BaseDistribution:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        low, high = float(values.min()), float(values.max())
        space = run.sweep.get("space", {})
        log = isinstance(space, dict) and str(space.get(name, "")).startswith("loguniform") and low > 0
        if pd.api.types.is_integer_dtype(values) and not log:
            return optuna.distributions.IntDistribution(int(low), int(high))
        return optuna.distributions.FloatDistribution(low, high, log=log)
    return optuna.distributions.CategoricalDistribution(sorted(values.astype(str).unique()))


def _param(value: object, distribution: optuna.distributions.BaseDistribution) -> object:
    if isinstance(distribution, optuna.distributions.CategoricalDistribution):
        return str(value)
    if isinstance(distribution, optuna.distributions.IntDistribution):
        return int(value)
    return float(value)


def importances(run: RunData) -> tuple[dict[str, float], str]:
    """(importance per hyperparameter, summing to 1; a note on what was used or why nothing was)."""
    study, names = study_from_trials(run)
    if len(study.trials) < MIN_TRIALS or not names:
        return {}, (f"not computed: needs at least {MIN_TRIALS} usable trials that vary a hyperparameter "
                    f"(this run has {len(study.trials)} usable trials, {len(names)} varied hyperparameters)")
    values = np.array([t.value for t in study.trials])
    if np.allclose(values, values[0]):
        return {}, "not computed: every usable trial reached the same metric value"
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = optuna.importance.get_param_importances(study, evaluator=evaluator, normalize=True)
    skipped = [c.removeprefix("config/") for c in run.hyperparameters if c.removeprefix("config/") not in names]
    note = f"fANOVA over {len(study.trials)} usable trials"
    if skipped:
        note += f"; left out (constant, or missing in some trials): {', '.join(skipped)}"
    return {k: v for k, v in result.items() if not math.isnan(v)}, note

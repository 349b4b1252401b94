"""The report's tables as DataFrames: ranking (mean ± std over seeds), best per level, diagnostics."""

from __future__ import annotations

import ast
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from tuner import select, status
from tuner.analysis.load import RunData
from tuner.status import Status


def status_counts(run: RunData) -> dict[str, int]:
    """Trials by status, in tuner.status's order; every status counted (a status this tuner does not know last)."""
    return status.counts(list(run.trials["status"]))


def compute_used(run: RunData) -> dict[str, Any]:
    """Trial-epochs run, against every started trial run to max_epochs and against a full grid of the space."""
    used = int(run.trials["epochs"].sum())
    without_stopping = len(run.trials) * run.max_epochs
    grid_points = full_grid_points(run.sweep.get("space"))
    seeds = len(run.sweep.get("seeds", [0]))
    full_grid = grid_points * seeds * run.max_epochs if grid_points else None
    return {"trial_epochs": used, "trials_at_max_epochs": without_stopping, "full_grid_trial_epochs": full_grid,
            "grid_points": grid_points, "rungs": rung_compute(run)}


def rung_compute(run: RunData) -> list[dict[str, int]]:
    """A budgeted search's rungs, each a run of its own length: budget (epochs), trials, trial-epochs; [] otherwise."""
    trials = run.trials
    if "rung" not in trials or not trials["rung"].notna().any() or "schedule_epochs" not in trials:
        return []
    rows = trials.dropna(subset=["rung"]).groupby("rung").agg(budget=("schedule_epochs", "max"),
                                                              trials=("trial_id", "size"), epochs=("epochs", "sum"))
    return [{k: int(v) for k, v in row.items()} for _, row in rows.iterrows()]


def full_grid_points(space: Any) -> int | None:
    """Points of the space as a grid: products of choice/grid_search sizes; None if any range is continuous."""
    if not isinstance(space, dict) or not space:
        return None
    points = 1
    for text in space.values():
        match = re.fullmatch(r"(?:choice|grid_search)\((.*)\)", str(text), flags=re.S)
        if match:
            try:
                points *= max(len(ast.literal_eval(match.group(1))), 1)
            except (ValueError, SyntaxError):
                return None
        elif re.fullmatch(r"[a-z_]+\(.*\)", str(text)):
            return None
    return points


def ranking(run: RunData, top: int = 10) -> pd.DataFrame:
    """Configurations in the order tuner.select ranks them (the chosen one first); several seeds of one
    configuration are one row with mean ± std."""
    metric = run.metric if run.metric in run.trials else "val_acc"
    table = select.ranking(run.trials, metric)
    if table.empty:
        return table
    table = table.rename(columns={c: c.removeprefix("config/") for c in select.config_columns(run.trials)})
    return table.head(top).reset_index(drop=True)


def best_per_level(run: RunData, parameter: str) -> pd.DataFrame:
    """For each value of one hyperparameter, its best configuration with every other hyperparameter tuned, by the
    ranking's rules (tuner.select: the mean over seeds); every level is a row, one whose trials were all unusable
    with no value and what they ended as."""
    column = f"config/{parameter}"
    if column not in run.trials:
        return pd.DataFrame()
    metric = run.metric if run.metric in run.trials else "val_acc"
    rows = []
    for level, group in run.trials.groupby(column, sort=True):
        best = next(iter(select.configurations(group, metric)), None)
        left_out = group[group["status"].isin(status.UNUSABLE) | group[metric].isna()]
        row = {parameter: level, f"best {metric}": best.mean if best else math.nan,
               "seeds": best.n if best else 0, "trials": len(group), "left out": _left_out(left_out, len(group)),
               "best trial": best.best_trial_id if best else "-", "its other settings": "-"}
        if best:
            trial = group[group["trial_id"].astype(str) == best.best_trial_id].iloc[0]
            others = {c.removeprefix("config/"): trial[c] for c in run.hyperparameters if c != column}
            row["its other settings"] = ", ".join(f"{k}={_fmt(v)}" for k, v in others.items())
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    order = sorted(range(len(table)), key=lambda i: select.sort_key(table[f"best {metric}"].iloc[i], metric))
    return table.iloc[order].reset_index(drop=True)


def _left_out(trials: pd.DataFrame, of: int) -> str:
    """'1 DIVERGED', or 'all 2 trials STUCK' when no trial of the level is usable; '' when none is left out."""
    tally = status.counts(list(trials["status"]))
    if not tally:
        return ""
    text = ", ".join(f"{n} {s}" for s, n in tally.items())
    if len(trials) < of:
        return text
    return f"all {of} trials {next(iter(tally))}" if len(tally) == 1 else f"all {of} trials: {text}"


def default_compare(run: RunData) -> str | None:
    """optimizer if it was searched, else the first categorical hyperparameter with several values."""
    candidates = [c.removeprefix("config/") for c in run.hyperparameters]
    if "optimizer" in candidates:
        return "optimizer"
    for name in candidates:
        values = run.trials[f"config/{name}"].dropna()
        if values.dtype == object and values.nunique() > 1:
            return name
    return candidates[0] if candidates else None


def diagnostics(run: RunData) -> pd.DataFrame:
    """Trials that diverged, got stuck or crashed, with the likely cause."""
    bad = run.trials[run.trials["status"].isin(status.UNUSABLE)]
    reference = _reference_lr(run)
    rows = []
    for _, trial in bad.iterrows():
        config = {c.removeprefix("config/"): trial[c] for c in run.config_columns if not _missing(trial[c])}
        rows.append({"trial": trial["trial_id"], "status": trial["status"], "epochs": int(trial["epochs"]),
                     "configuration": ", ".join(f"{k}={_fmt(v)}" for k, v in config.items()),
                     "likely cause": likely_cause(trial, {**run.spec.get("fixed_config", {}), **config}, reference)})
    return pd.DataFrame(rows)


def _reference_lr(run: RunData) -> float | None:
    """The learning rate of the best usable trial, to judge others against."""
    if "config/lr" not in run.trials or run.usable.empty:
        fixed = run.spec.get("fixed_config", {}).get("lr")
        return float(fixed) if fixed is not None else None
    value = run.usable.iloc[0]["config/lr"]
    return None if _missing(value) else float(value)


def likely_cause(trial: pd.Series, config: dict[str, Any], reference_lr: float | None) -> str:
    if trial["status"] == Status.ERROR:
        return f"the trial raised: {trial.get('error') or 'see errors/'}"
    lr = config.get("lr")
    ratio = float(lr) / reference_lr if lr is not None and reference_lr else None
    scheduler, interval = config.get("scheduler"), config.get("scheduler_interval", "auto")
    if trial["status"] == Status.DIVERGED:
        if ratio and ratio >= 3:
            return f"learning rate {_fmt(lr)} is {ratio:.0f}x the best trial's: the loss blew up (NaN/inf)"
        return "the loss became NaN/inf: lower the learning rate or set grad_clip"
    if scheduler in ("cyclic", "onecycle") and interval == "epoch":
        return f"{scheduler} is a per-batch schedule stepped once per epoch: its learning rate barely moves"
    if scheduler in ("step", "exponential", "cosine", "plateau") and interval == "batch":
        return f"{scheduler} is a per-epoch schedule stepped every batch: its learning rate decays to ~0 at once"
    if ratio and ratio >= 10:
        return (f"learning rate {_fmt(lr)} is {ratio:.0f}x the best trial's: units died or saturated and the "
                "loss sat at chance level ln(classes)")
    if ratio and ratio <= 0.02:
        return f"learning rate {_fmt(lr)} is {1 / ratio:.0f}x below the best trial's: too small to move the loss"
    return "training loss stayed at chance level ln(classes): check the learning rate and its schedule"


def overfitting(run: RunData, top: int = 5) -> pd.DataFrame:
    """Train minus validation accuracy at each top trial's best epoch and at its last epoch."""
    rows = []
    history = run.history
    for _, trial in run.usable.head(top).iterrows():
        own = history[history["trial_id"] == trial["trial_id"]]
        last = own.iloc[-1] if len(own) else None
        rows.append({"trial": trial["trial_id"], "val_acc": trial["val_acc"], "train_acc": trial["train_acc"],
                     "gap at best epoch": trial["train_acc"] - trial["val_acc"],
                     "gap at last epoch": (last["train_acc"] - last["val_acc"]) if last is not None else math.nan,
                     "val_loss rise after best": (last["val_loss"] - trial["val_loss"]) if last is not None
                     else math.nan})
    return pd.DataFrame(rows)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fmt(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return str(value)

"""The ranking as the terminal shows it: `python -m tuner.sweep` at the end of a sweep and `python -m tuner.analysis`
print the same table, in tuner.select's order."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from tuner import select


def ranking_table(trials: pd.DataFrame, metric: str = "val_acc", top: int = 10) -> str:
    """Top-k configurations for the terminal, in tuner.select's order: the trial tested if it is chosen (its best
    seed), searched values, the metric (mean ± std over
    seeds where there are several), seeds, epochs, statuses."""
    if trials.empty:
        return "no trial reported a result"
    table = select.ranking(trials, metric).head(top)
    config_cols = select.config_columns(trials)
    header = ["#", "trial", *[c.removeprefix("config/") for c in config_cols], metric, "seeds", "epochs", "status"]
    rows = [[str(i + 1), str(r["trial"]), *[_short(r[c]) for c in config_cols], _metric_text(r, metric),
             str(r["seeds"]), str(r["epochs"]), r["status"]] for i, (_, r) in enumerate(table.iterrows())]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def pareto_table(trials: pd.DataFrame, objectives: list[str]) -> str:
    """A multi-objective sweep's non-dominated configurations (tuner.select rule 7), the chosen one first; empty for a
    single-objective sweep."""
    if len(objectives) < 2 or trials.empty:
        return ""
    front = select.pareto(trials, objectives)
    if front.empty or not front["pareto"].any():
        return f"Pareto front ({', '.join(objectives)}): no competing configuration has every objective measured"
    front = front[front["pareto"]]
    config_cols = select.config_columns(trials)
    header = ["trial", *[c.removeprefix("config/") for c in config_cols], *objectives, ""]
    rows = [[str(r["trial"]), *[_short(r[c]) for c in config_cols], *[_objective(r[m], m) for m in objectives],
             "chosen" if r["chosen"] else ""] for _, r in front.iterrows()]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = [f"Pareto front ({', '.join(objectives)}): {len(front)} non-dominated configurations"]
    lines += ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def _objective(value: float, metric: str) -> str:
    if pd.isna(value):
        return "-"
    if metric == "num_params":
        return f"{int(value):,}"
    return f"{value:.2%}" if metric.endswith("acc") else f"{value:.4g}"


def chosen_text(best: dict[str, Any] | None, metric: str = "val_acc", finished: bool = True) -> str:
    """best.json as the terminal says it: the chosen configuration, its validation score and its one test result."""
    if best is None:
        return "no usable trial (all errored, diverged or got stuck): nothing chosen or tested" if finished \
            else "nothing chosen or tested yet (the sweep has not finished)"
    searched = ", ".join(f"{k}={_short(v)}" for k, v in best["searched"].items()
                         if k != "seed" and v is not None)  # None: a setting this branch of the space skips
    seeds = best.get("seeds") or {"n": 1}
    spread = f" (mean {_value(seeds['mean'], metric)} ± {_value(seeds['std'], metric)} over {seeds['n']} seeds)" \
        if seeds["n"] > 1 else " (one seed: no spread measured)"
    return (f"chosen: trial {best['trial_id']}: {searched}\n  {metric} {_value(best[metric], metric)}{spread} at "
            f"epoch {best['best_epoch']}; test_acc {best['test_acc']:.2%} (test set evaluated once, after selection)")


def _value(value: float, metric: str) -> str:
    return f"{value:.2%}" if metric.endswith("acc") else f"{value:.4f}"


def _metric_text(row: pd.Series, metric: str) -> str:
    mean, std = row[f"{metric} mean"], row[f"{metric} std"]
    if pd.isna(mean):
        return "-"
    show = (lambda v: f"{v:.2%}") if metric.endswith("acc") else (lambda v: f"{v:.4f}")
    return f"{show(mean)} ± {show(std)}" if not pd.isna(std) else show(mean)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return str(value)

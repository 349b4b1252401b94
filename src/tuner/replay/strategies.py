"""STRATEGIES: named sets of Sweep fields a replay runs (`--define NAME:key=value,...` and `--define-file` add
more), and the Sweep a strategy stands for on a table."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import sys
from pathlib import Path
from typing import Any

from tuner.errors import UserError
from tuner.replay.tables import Table
from tuner.search.population import NOT_REPLAYABLE, POPULATION_SCHEDULERS
from tuner.sweep.fields import check_fields
from tuner.sweep.spec import NOT_FIXED, Sweep, coerce_sweep_field, field_types

BASE: dict[str, Any] = {"num_samples": "points", "seeds": "one"}  # the table's configuration count; one seed


STRATEGIES: dict[str, dict[str, Any]] = {
    "grid": {"search": "grid", "trial_scheduler": "none", "seeds": "all"},  # the table itself
    "random": {**BASE, "search": "random", "trial_scheduler": "none"},
    "random-asha": {**BASE, "search": "random", "trial_scheduler": "asha"},
    "ray-default": {**BASE, "search": "ray-optuna", "trial_scheduler": "ray-asha"},
    "optuna-default": {**BASE, "search": "optuna-tpe", "trial_scheduler": "optuna-median"},
    "tuner-asha": {**BASE, "search": "optuna", "trial_scheduler": "asha", "seeds": "all"},  # tuner's TPE + ASHA
    # What a sweep file gets by default (docs/search.md): tuner's TPE, no early stopping, a confirm phase on the
    # table's other seeds.
    "tuner-default": {**BASE, "search": "optuna", "trial_scheduler": "none", "seeds": "all"},
    # Budgeted successive halving (tuner.search.budgeted): rungs 1, 3, ... epochs (up to max_epochs / 3) whose
    # schedules end at their budget, promoted from scratch, TPE on the highest rung with enough results, a confirm
    # phase. Replays need the table's shorter recordings (--budgets).
    "tuner-budgeted": {**BASE, "search": "budgeted", "trial_scheduler": "none", "seeds": "all", "grace_period": 1,
                       "reduction_factor": 3},
}
BUDGETED = tuple(name for name, fields in STRATEGIES.items() if fields.get("search") == "budgeted")
DEFAULT_STRATEGIES = tuple(name for name in STRATEGIES if name not in BUDGETED)  # with --budgets: all of them


def strategy_sweep(table: Table, fields: dict[str, Any], seed: int) -> Sweep:
    """The Sweep a strategy stands for, on this table, for search seed `seed`."""
    fields = {k: v for k, v in fields.items() if k != "warm_start"}  # not a Sweep field: replay_one tells it
    seeds = table.seeds[seed % len(table.seeds):] + table.seeds[:seed % len(table.seeds)]
    which = fields.pop("seeds", "one")
    samples = fields.pop("num_samples", "points")
    grid = fields.get("search") == "grid"
    fixed = {k: v for k, v in (table.sweep.get("fixed") or {}).items() if k not in NOT_FIXED}
    space = fields.pop("space", None) or (table.grid_space() if grid else table.searched_space())
    sweep = Sweep(
        name=table.name, data=str(table.sweep.get("data", "synthetic")), model=str(table.sweep.get("model", "mlp")),
        fixed=fixed, space=space, metric=table.metric,
        max_epochs=table.max_epochs, search_seed=seed,
        seeds=seeds if which == "all" else [seeds[0]] if which == "one" else list(which),
        num_samples=None if grid else (len(table.points) if samples == "points" else int(samples)))
    try:
        sweep = dataclasses.replace(sweep, **fields)
    except TypeError as exc:
        raise UserError(f"strategy: {exc}") from None
    check_fields(sweep, where=f"strategy on table {table.name}")  # the table's configurations ran: they are valid
    if sweep.trial_scheduler in POPULATION_SCHEDULERS:  # before any strategy runs, not when its first trial starts
        raise UserError(f"strategy {sweep.trial_scheduler}: {NOT_REPLAYABLE}")
    if sweep.search_options.get("promotion") == "continue":  # a continued trial's curve depends on its chain of rungs
        raise UserError("strategy with search_options promotion='continue': a replay cannot replay continuation (a "
                        "table records each budget from scratch; docs/search.md says what it would need)")
    return sweep


def parse_define(text: str) -> tuple[str, dict[str, Any]]:
    """`NAME:key=value,key=value` (base=STRATEGY starts from a built-in; search_options.KEY=VALUE sets one;
    warm_start=N gives the search an earlier run of N table configurations first, as --warm-start would)."""
    name, sep, body = text.partition(":")
    if not sep or not name.strip():
        raise UserError(f"--define expects NAME:key=value,..., got {text!r}")
    fields: dict[str, Any] = {}
    hints = field_types()
    for item in filter(None, (part.strip() for part in body.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise UserError(f"--define {name}: expected key=value, got {item!r}")
        if key == "base":
            if value not in STRATEGIES:
                raise UserError(f"--define {name}: unknown base strategy {value!r}; one of {', '.join(STRATEGIES)}")
            fields = {**STRATEGIES[value], **fields}
        elif key.startswith("search_options."):
            fields.setdefault("search_options", {})[key.removeprefix("search_options.")] = _literal(value)
        elif key in ("seeds", "num_samples") and value in ("one", "all", "points"):
            fields[key] = value
        elif key == "warm_start":  # an earlier run of that many table configurations, told first (tuner.warm)
            fields[key] = int(_literal(value))
        elif key in hints and key not in ("space", "fixed", "objectives"):
            fields[key] = coerce_sweep_field(key, value, hints[key])
        else:
            raise UserError(f"--define {name}: {key!r} is not a Sweep field a strategy can set")
    return name.strip(), fields


def load_strategies_file(path: str) -> dict[str, dict[str, Any]]:
    """A Python file defining STRATEGIES = {NAME: {Sweep field: value}}; a strategy may set its own `space`
    (a dict of Ray Tune domains or an Optuna define-by-run function over the table's hyperparameters)."""
    file = Path(path)
    if not file.is_file():
        raise UserError(f"--define-file {file} not found")
    module_spec = importlib.util.spec_from_file_location("tuner_strategies_file", file)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules["tuner_strategies_file"] = module  # replays in other processes unpickle its functions by name
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        raise UserError(f"--define-file {file}: {type(exc).__name__}: {exc}") from None
    strategies = getattr(module, "STRATEGIES", None)
    if not isinstance(strategies, dict) or not all(isinstance(v, dict) for v in strategies.values()):
        raise UserError(f"--define-file {file} defines no STRATEGIES = {{NAME: {{field: value}}}}")
    return {name: {**STRATEGIES.get(fields.get("base", ""), {}), **{k: v for k, v in fields.items() if k != "base"}}
            for name, fields in strategies.items()}


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text

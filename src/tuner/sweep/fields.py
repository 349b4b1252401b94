"""The checks of a Sweep's own fields, before anything else: types and ranges, registry names, seeds, objectives,
search options. They need neither the training core nor the data (tuner.replay checks its strategies with them);
tuner.sweep.validate adds the space and every configuration it can produce."""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from tuner import select
from tuner.errors import UserError
from tuner.search import population
from tuner.search import BUDGETED_SEARCHES, OPTUNA_SEARCHES, SAMPLERS, SEARCHES, TRIAL_SCHEDULERS, search_algorithm
from tuner.sweep.spec import NOT_FIXED, NOT_SEARCHABLE, Sweep, field_types
from tuner.train.config import is_setting


def check_fields(sweep: Sweep, where: str = "sweep") -> None:
    """The checks of the Sweep's own fields: types and ranges, registry names, seeds, objectives, search options,
    the names `fixed` sets. They need neither the training core nor the data. Raises UserError naming the file
    and field."""
    def fail(message: str) -> None:
        raise UserError(f"{where}: {message}")

    _validate_types(sweep, fail)
    if sweep.search not in SEARCHES:
        fail(f"search {sweep.search!r} is not one of {', '.join(SEARCHES)}")
    if sweep.trial_scheduler not in TRIAL_SCHEDULERS:
        fail(f"trial_scheduler {sweep.trial_scheduler!r} is not one of {', '.join(TRIAL_SCHEDULERS)}")
    for key in ("max_epochs", "grace_period", "brackets") + (("num_samples",) if sweep.num_samples is not None else ()):
        if getattr(sweep, key) < 1:
            fail(f"{key} must be a positive integer, got {getattr(sweep, key)!r}")
    if sweep.search == "grid" and sweep.num_samples not in (None, 1):
        fail(f"num_samples={sweep.num_samples} does not apply to search='grid': every grid point runs once per "
             f"seed (list more seeds to repeat the grid, or use search='random' to draw num_samples trials)")
    for key in ("cpu", "gpu", "max_concurrent", "max_failures", "subset", "confirm_top"):
        if getattr(sweep, key) < 0:
            fail(f"{key} must be >= 0, got {getattr(sweep, key)!r}")
    for key in ("cpu", "gpu"):
        if not math.isfinite(getattr(sweep, key)):
            fail(f"{key} must be a finite number, got {getattr(sweep, key)!r}")
    if not 0 <= sweep.search_seed < 2**32:
        fail(f"search_seed must be an integer from 0 to 2**32 - 1 (a NumPy seed), got {sweep.search_seed}")
    if sweep.cpu == 0 and sweep.gpu == 0:
        fail("a trial needs cpu > 0 or gpu > 0")
    if sweep.gpu > 1 and sweep.gpu != int(sweep.gpu):
        fail(f"gpu above 1 must be a whole number, got {sweep.gpu}")
    if sweep.reduction_factor <= 1:
        fail(f"reduction_factor must be > 1, got {sweep.reduction_factor}")
    if sweep.time_budget_s is not None and sweep.time_budget_s <= 0:
        fail(f"time_budget_s must be > 0, got {sweep.time_budget_s}")
    if sweep.checkpoint_keep < 1:
        fail(f"checkpoint_keep must be >= 1, got {sweep.checkpoint_keep}")
    if not sweep.seeds:
        fail("seeds must be a non-empty list of integers")
    if len(set(sweep.seeds)) != len(sweep.seeds):
        fail(f"seeds must be distinct, got {sweep.seeds!r}")
    _validate_objectives(sweep, fail)
    unknown = [k for k in sweep.fixed if not is_setting(k)]
    if unknown:
        fail(f"fixed: unknown setting {unknown[0]!r}")
    for key in NOT_FIXED:
        if key in sweep.fixed:
            fail(f"fixed: {NOT_SEARCHABLE[key]}")
    if sweep.search in BUDGETED_SEARCHES:
        _validate_budgeted(sweep, fail)
    elif sweep.search_options and sweep.search not in OPTUNA_SEARCHES:
        fail(f"search_options apply to the Optuna searches ({', '.join(sorted(OPTUNA_SEARCHES))}), "
             f"not search={sweep.search!r}")
    _validate_search_options(sweep, fail)
    population.check(sweep, fail)
    if not callable(sweep.space) and not isinstance(sweep.space, dict):
        fail(f"space must be a dict or a function, got {type(sweep.space).__name__}")
    if callable(sweep.space) and sweep.search not in OPTUNA_SEARCHES:
        fail("a define-by-run space (a function) needs search='optuna'")


def _validate_types(sweep: Sweep, fail: Callable[[str], None]) -> None:
    hints = field_types()
    for f in fields(Sweep):
        value = getattr(sweep, f.name)
        if not _has_type(value, hints[f.name]):
            fail(f"{f.name} must be {_type_text(hints[f.name])}, got {value!r} ({type(value).__name__})")


def _has_type(value: Any, annotation: Any) -> bool:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return True
    if annotation is type(None):
        return value is None
    if isinstance(annotation, types.UnionType) or origin is typing.Union:
        return any(_has_type(value, arg) for arg in args)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
    if annotation is str:
        return isinstance(value, str)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and Ellipsis not in args:
            return len(value) == len(args) and all(_has_type(v, a) for v, a in zip(value, args))
        return all(_has_type(v, args[0]) for v in value) if args else True
    if origin is dict or annotation is dict:
        return isinstance(value, dict)
    if origin is Callable or annotation is Callable or str(origin) == "collections.abc.Callable":
        return callable(value)
    return True


def _type_text(annotation: Any) -> str:
    text = str(annotation).replace("typing.", "").replace("collections.abc.", "")
    return {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
            "float | None": "a number or None", "int | None": "an integer or None", "str | None": "a string or None",
            "list[int]": "a list of integers"}.get(text.removeprefix("<class '").removesuffix("'>"), text)


def _validate_budgeted(sweep: Sweep, fail: Callable[[str], None]) -> None:
    """A budgeted search proposes each trial's budget itself: no trial scheduler beside it, a space of Ray Tune
    domains (no grid, no define-by-run function), one metric."""
    from tuner.search.budgeted import OPTIONS, PROMOTIONS
    from tuner.search.space import is_grid

    if sweep.trial_scheduler != "none":
        fail(f"search={sweep.search!r} trains each rung to its own budget: set trial_scheduler='none', "
             f"not {sweep.trial_scheduler!r}")
    if callable(sweep.space) or any(is_grid(v) for v in sweep.space.values()):
        fail(f"search={sweep.search!r} needs a space of Ray Tune domains (tune.choice, tune.loguniform, ...): no "
             "grid_search, no define-by-run function")
    if sweep.objectives:
        fail(f"search={sweep.search!r} has one metric: leave objectives out")
    unknown = [k for k in sweep.search_options if k not in OPTIONS]
    if unknown:
        fail(f"search_options: {unknown[0]!r} is not one of {', '.join(OPTIONS)} (search={sweep.search!r})")
    if sweep.search_options.get("sampler", "tpe") not in ("tpe", "random"):
        fail(f"search_options: sampler for search={sweep.search!r} is 'tpe' or 'random'")
    if sweep.search_options.get("promotion", PROMOTIONS[0]) not in PROMOTIONS:
        fail(f"search_options: promotion for search={sweep.search!r} is 'scratch' or 'continue', got "
             f"{sweep.search_options['promotion']!r}")
    for key in ("brackets", "finalists", "n_startup_trials"):
        value = sweep.search_options.get(key, 1)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            fail(f"search_options: {key} must be a whole number of at least 1, got {value!r}")
    fraction = sweep.search_options.get("random_fraction", 0.0)
    if not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1:
        fail(f"search_options: random_fraction must be a number from 0 to 1, got {fraction!r}")
    keep = sweep.search_options.get("keep", 0.5)
    if not isinstance(keep, (int, float)) or isinstance(keep, bool) or not 0 < keep < 1:
        fail(f"search_options: keep (the share of a rung promoted) must be a number above 0 and below 1, got {keep!r}")


def _validate_search_options(sweep: Sweep, fail: Callable[[str], None]) -> None:
    """Unknown sampler settings fail here, not in every trial: build the sampler once."""
    options = sweep.search_options
    if options.get("sampler", "tpe") not in SAMPLERS:
        fail(f"search_options: sampler {options['sampler']!r} is not one of {', '.join(SAMPLERS)}")
    if options.get("tell", "best") not in ("best", "last"):
        fail(f"search_options: tell must be 'best' (pruned trials told as pruned) or 'last' (Ray's: every trial "
             f"complete with its last value), got {options['tell']!r}")
    if sweep.search in OPTUNA_SEARCHES and options:
        try:
            search_algorithm(sweep)
        except (TypeError, ValueError) as exc:
            fail(f"search_options: {exc}")


def _validate_objectives(sweep: Sweep, fail: Callable[[str], None]) -> None:
    try:
        select.check_metric(sweep.metric, sweep.mode)
    except ValueError as exc:
        fail(str(exc))
    if not sweep.objectives:
        return
    if sweep.search != "optuna":
        fail("objectives (multi-objective) need search='optuna'")
    if sweep.trial_scheduler != "none":
        fail("multi-objective sweeps cannot use an early-stopping trial_scheduler; set trial_scheduler='none'")
    for metric, mode in sweep.objectives:
        try:
            select.check_metric(metric, mode, select.OBJECTIVE_METRICS)
        except ValueError as exc:
            fail(f"objectives: {exc}")
    if sweep.objectives[0][0] != sweep.metric:
        fail(f"the first objective {sweep.objectives[0][0]!r} must be the sweep's metric {sweep.metric!r}")

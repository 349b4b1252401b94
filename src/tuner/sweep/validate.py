"""Checking a Sweep before Ray starts: field types and ranges, names, the space, start points, objectives, and
every configuration the space can produce (tuner.search.space.candidate_configs) validated, then built on the
meta device for the data's image shape. Bad input is a UserError naming the file and the field."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from ray.tune.search.sample import Categorical, Domain, Float, Integer, Quantized

from tuner.errors import UserError
from tuner.runfolder import expand_paired, key_parts
from tuner.search import OPTUNA_SEARCHES
from tuner.sweep.fields import check_fields
from tuner.search.space import (DEFINE_BY_RUN_SAMPLES, candidate_configs, corner_values, describe_domain, grid_values,
                                sample_define_by_run)
from tuner.sweep.spec import NOT_SEARCHABLE, Sweep
from tuner.train import checks
from tuner.train.config import TrainConfig, field_names, is_setting
from tuner.train.data import Dataset, stratified_split
from tuner.train.memory import trial_memory


def validate(sweep: Sweep, where: str = "sweep") -> None:
    """Every check that needs no data: the Sweep's fields (check_fields), the space, its start points, and the
    scalar settings of every configuration the space can produce (see candidate_configs). Raises UserError naming
    the file and field."""
    def fail(message: str) -> None:
        raise UserError(f"{where}: {message}")

    check_fields(sweep, where)
    if callable(sweep.space):
        _validate_define_by_run(sweep, fail)
    else:
        _validate_space(sweep, fail)
    _validate_start(sweep, fail)
    try:
        checks.validate(TrainConfig.from_dict(sweep.fixed_config()))
    except UserError as exc:
        fail(f"fixed settings: {exc}")
    for config in candidate_configs(sweep):
        try:
            checks.validate(TrainConfig.from_dict(config))
        except UserError as exc:
            fail(f"space: {describe_config(config, sweep)} fails: {exc}")


def _validate_start(sweep: Sweep, fail: Callable[[str], None]) -> None:
    if not sweep.start:
        return
    if sweep.search == "grid":
        fail("start points apply to search='random' or an Optuna search; a grid runs every point anyway")
    searched = sweep.searched_names()
    for index, point in enumerate(sweep.start):
        if not point:
            fail(f"start[{index}] is empty")
        for key in point:
            if key not in searched:
                fail(f"start[{index}] sets {key!r}, which the space does not search "
                     f"(searched: {', '.join(sorted(searched))})")
            if not callable(sweep.space) and key in sweep.space:
                rule = _outside(point[key], sweep.space[key])
                if rule:
                    fail(f"start[{index}] sets {key}={point[key]!r}, {rule} {describe_domain(sweep.space[key])}")


def _outside(value: Any, domain: Any) -> str | None:
    """Why `value` is not one the domain can draw ("not offered by", "outside"), or None if it is one."""
    if isinstance(domain, dict) and "grid_search" in domain:
        return None if any(_same(value, v) for v in domain["grid_search"]) else "not offered by"
    if isinstance(domain, Categorical):
        return None if any(_same(value, v) for v in domain.categories) else "not offered by"
    if isinstance(domain, (Float, Integer)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "not a number, as needed by"
        low, high = domain.lower, domain.upper
        if isinstance(domain, Integer) and not isinstance(domain.sampler, Quantized):
            high = high - 1  # randint and lograndint exclude their upper bound
        if (low is not None and value < low) or (high is not None and value > high):
            return "outside"
    return None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                              and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def _validate_space(sweep: Sweep, fail: Callable[[str], None]) -> None:
    fixed = sweep.fixed_config()
    for key, value in sweep.space.items():
        parts = key_parts(key)
        for part in parts:
            if not is_setting(part):
                close = difflib.get_close_matches(part, field_names(), n=1)
                fail(f"space: unknown hyperparameter {part!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            if part in NOT_SEARCHABLE:
                fail(f"space: {part!r} cannot be searched: {NOT_SEARCHABLE[part]}")
            if part in sweep.fixed:
                fail(f"space: {part!r} is both fixed and searched")
        if len(parts) > 1 and (sweep.search in OPTUNA_SEARCHES or isinstance(value, (Float, Integer))):
            fail(f"space[{key!r}]: paired hyperparameters take tune.grid_search or tune.choice of tuples with "
                 f"search='grid' or 'random' (with optuna, write a define-by-run function)")
        for candidate in corner_values(key, value, fail):
            if len(parts) > 1 and (not isinstance(candidate, (tuple, list)) or len(candidate) != len(parts)):
                fail(f"space[{key!r}]: each value must be a tuple of {len(parts)} ({', '.join(parts)}), "
                     f"got {candidate!r}")
            try:
                checks.validate(TrainConfig.from_dict({**fixed, **expand_paired({key: candidate})}))
            except UserError as exc:
                fail(f"space[{key!r}]: {exc}")
    grids = grid_values(sweep.space)
    if sweep.search == "grid":
        searched = [k for k in sweep.space if k not in grids and isinstance(sweep.space[k], Domain)]
        if searched:
            fail(f"search='grid' needs tune.grid_search for every hyperparameter; {searched[0]!r} is "
                 f"{describe_domain(sweep.space[searched[0]])} (use search='random' or 'optuna')")
    if sweep.search in OPTUNA_SEARCHES and grids:
        fail(f"search={sweep.search!r} cannot take tune.grid_search ({next(iter(grids))!r}); use tune.choice")


def _validate_define_by_run(sweep: Sweep, fail: Callable[[str], None]) -> None:
    """Run the function on throwaway Optuna trials and check the names it proposes."""
    for params in sample_define_by_run(sweep.space, DEFINE_BY_RUN_SAMPLES, sweep.search_seed, fail):
        for key in params:
            if not is_setting(key):
                fail(f"space function proposes unknown hyperparameter {key!r}")
            if key in NOT_SEARCHABLE:
                fail(f"space function proposes {key!r}, which cannot be searched: {NOT_SEARCHABLE[key]}")
            if key in sweep.fixed:
                fail(f"space function proposes {key!r}, which is fixed")


def describe_config(config: dict[str, Any], sweep: Sweep) -> str:
    fixed = sweep.fixed_config()
    searched = {k: v for k, v in config.items() if k not in fixed or fixed[k] != v}
    return "the configuration " + (", ".join(f"{k}={_short(v)}" for k, v in sorted(searched.items()))
                                   or "with the fixed settings")


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def check_buildable(sweep: Sweep, image_shape: tuple[int, int, int], num_classes: int, where: str = "sweep") -> int:
    """Build every candidate configuration's model (on the meta device: no memory, no compute), optimizer and
    schedule for the data's image shape; the first that cannot be built is a UserError. Returns how many
    configurations were checked."""
    configs = candidate_configs(sweep)
    built: dict[str, int] = {}
    memory = trial_memory(sweep.gpu)
    for config in configs:
        try:
            checks.check_buildable(TrainConfig.from_dict(config), image_shape, num_classes, built, memory)
        except UserError as exc:
            raise UserError(f"{where}: {describe_config(config, sweep)} cannot run on "
                            f"{'x'.join(map(str, image_shape))} images: {exc}") from None
    return len(configs)


def check_with_data(sweep: Sweep, dataset: Dataset, where: str = "sweep") -> int:
    """The checks that need the data, before Ray starts: every candidate configuration builds for the data's
    image shape (check_buildable), and the validation split is not empty. Returns configurations checked."""
    cfg = TrainConfig.from_dict(sweep.fixed_config())
    labels = dataset.y_train if not cfg.subset else dataset.subset(cfg.subset, seed=cfg.split_seed).y_train
    train_idx, val_idx = stratified_split(labels, cfg.val_fraction, cfg.split_seed)
    if len(val_idx) == 0 or len(train_idx) == 0:
        raise UserError(f"{where}: val_fraction {cfg.val_fraction} of {len(labels)} training images leaves "
                        f"{len(train_idx)} to train on and {len(val_idx)} to validate on")
    return check_buildable(sweep, dataset.image_shape, dataset.num_classes, where)

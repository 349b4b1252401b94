"""Sweep files: the Sweep dataclass, loading a sweep file, command-line overrides, validation.

A sweep file is a plain Python module that defines `sweep = Sweep(...)`:

    from ray import tune
    from tuner.spec import Sweep

    sweep = Sweep(
        data="mnist", model="mlp",
        fixed={"batch_size": 128},
        space={"optimizer": tune.choice(["sgd", "adam"]), "lr": tune.loguniform(1e-4, 1e-1)},
        search="optuna", trial_scheduler="asha", num_samples=20, max_epochs=10,
    )

`space` holds Ray Tune primitives keyed by TrainConfig field, or (search="optuna") a
define-by-run function `space(trial) -> dict | None` for conditional spaces. Settings that
go together are paired: `"optimizer+lr": tune.grid_search([("sgd", 0.01), ("adam", 0.001)])`. Everything is
validated here, before Ray starts: bad input is a UserError naming the file and field.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import math
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ray.tune.search.sample import Categorical, Domain, Float, Integer

from tuner import select, train
from tuner.config import TrainConfig, coerce, expand_paired, field_names
from tuner.errors import UserError
from tuner.search import OPTUNA_SEARCHES, SEARCHES, TRIAL_SCHEDULERS

SMOKE_TRAIN_IMAGES = 2000
DEFAULT_SAMPLES = 10
NOT_SEARCHABLE = {  # TrainConfig fields a sweep sets elsewhere, or that would compare trials on different data
    "epochs": "epochs is the budget: set max_epochs (the trial scheduler decides how many each trial gets)",
    "seed": "set seeds with Sweep(seeds=[...]): every configuration runs on those",
    "data": "set the data set with Sweep(data=...): the driver loads that one for every trial",
    "val_fraction": "every trial must be ranked on the same validation split: fix val_fraction",
    "split_seed": "every trial must be ranked on the same validation split: fix split_seed",
    "subset": "every trial must be ranked on the same validation split: fix subset",
    "best_metric": "the sweep's metric chooses each trial's best epoch: set metric",
}
NOT_FIXED = ("epochs", "seed", "data", "best_metric")
SWEEP_MODULE = "tuner_sweep_file"  # one fixed name, so a resumed run (which loads RUN_DIR/sweep.py) unpickles it


@dataclass
class Sweep:
    name: str = ""  # run folder prefix; default: the sweep file's name
    description: str = ""  # one line for the report header
    data: str = "mnist"  # data spec (tuner.data): mnist, cifar10, imagefolder:PATH, synthetic, ...
    model: str = "mlp"  # default model; search over models with space={"model": tune.choice([...])}
    fixed: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields held constant
    space: dict[str, Any] | Callable[[Any], dict[str, Any] | None] = field(default_factory=dict)
    search: str = "random"  # grid | random | optuna (TPE) | optuna-tpe | ray-optuna (tuner.search.SEARCHES)
    search_options: dict[str, Any] = field(default_factory=dict)  # Optuna sampler settings, e.g. n_startup_trials
    trial_scheduler: str = "none"  # early stopping: none | asha | hyperband | median | ... (docs/search.md: replays
    #   of recorded sweeps found early stopping cutting slow starters that end best; "none" lets every trial finish)
    grace_period: int = 1  # epochs a trial runs before it can be stopped
    reduction_factor: float = 3  # asha/hyperband: keep 1/reduction_factor at each rung
    brackets: int = 1  # asha: brackets of successively longer grace periods (1: the classic ASHA)
    metric: str = "val_acc"  # selects trials and each trial's best epoch: val_acc or val_loss (validation only)
    mode: str | None = None  # max or min; follows from the metric (tuner.select.METRICS): omit it
    objectives: list[tuple[str, str]] | None = None  # optuna multi-objective, e.g. [("val_acc","max"),("num_params","min")]
    num_samples: int | None = None  # random/optuna: trials (default 10); grid: each point runs once per seed
    max_epochs: int = 10  # epochs per trial at most (sets TrainConfig.epochs)
    seeds: list[int] = field(default_factory=lambda: [0])  # grid: every point runs once per seed;
    #   random/optuna: the search uses seeds[0], then the best `confirm_top` configurations rerun on the others
    confirm_top: int = 3  # configurations re-run on every other seed after a random/optuna search
    search_seed: int = 0  # seeds the search algorithm (which configurations are drawn)
    cpu: float = 1  # CPUs per trial
    gpu: float = 0  # GPUs per trial; fractions share a GPU (0.25 packs four trials, memory not isolated)
    max_concurrent: int = 0  # trials at once (0: as many as resources allow)
    max_failures: int = 1  # retries of a crashed trial (from its last checkpoint) before it is ERROR
    checkpoint_keep: int = 2  # checkpoints kept per trial
    start: list[dict[str, Any]] = field(default_factory=list)  # configurations known to work, run first
    #   (e.g. [{"optimizer": "adam", "lr": 1e-3}]; unset hyperparameters are drawn); random/optuna searches only
    time_budget_s: float | None = None  # wall-clock budget for the whole sweep, planned for (tuner.plan)
    subset: int = 0  # --smoke: the driver cuts the data set to this many train+val images and 500 test images
    #   (to train on fewer images but test on all, fix TrainConfig's subset instead: fixed={"subset": 10000})

    @property
    def space_keys(self) -> list[str]:
        return sorted(self.space) if isinstance(self.space, dict) else []

    @property
    def samples(self) -> int:
        """Trials the search draws: num_samples, 1 for a grid (whose points Tune expands)."""
        if self.search == "grid":
            return 1
        return DEFAULT_SAMPLES if self.num_samples is None else self.num_samples

    @property
    def direction(self) -> str:
        return select.direction(self.metric)

    def fixed_config(self) -> dict[str, Any]:
        """TrainConfig values shared by every trial."""
        base = {"data": self.data, "model": self.model, "epochs": self.max_epochs, "best_metric": self.metric}
        return {**base, **self.fixed}

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "space"}
        out["space"] = describe_space(self.space)
        out["mode"] = self.direction if self.metric in select.METRICS else self.mode
        return out


# ---------------------------------------------------------------- describing domains


def describe_domain(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"grid_search"}:
        return f"grid_search({value['grid_search']!r})"
    if isinstance(value, Categorical):
        return f"choice({value.categories!r})"
    if isinstance(value, (Float, Integer)):
        sampler = type(value.sampler).__name__.lstrip("_")
        name = {"LogUniform": "loguniform", "Uniform": "uniform" if isinstance(value, Float) else "randint",
                "Normal": "normal"}.get(sampler, sampler.lower())
        quantized = getattr(value.sampler, "q", None)
        q = f", q={quantized}" if quantized else ""
        return f"{name}({value.lower!r}, {value.upper!r}{q})"
    if isinstance(value, Domain):
        return type(value).__name__
    return repr(value)


def describe_space(space: Any) -> Any:
    if callable(space):
        return f"optuna define-by-run function {getattr(space, '__name__', 'space')}()"
    return {key: describe_domain(value) for key, value in sorted(space.items())}


def grid_values(space: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: v["grid_search"] for k, v in space.items() if isinstance(v, dict) and set(v) == {"grid_search"}}



# ---------------------------------------------------------------- loading


def load(path: str | Path) -> Sweep:
    """Import a sweep file and return its validated Sweep."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"sweep file {path} not found")
    spec = importlib.util.spec_from_file_location(SWEEP_MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[SWEEP_MODULE] = module  # Tune pickles the search space (a define-by-run function) by reference
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise UserError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    except Exception as exc:
        line = _line_in(path, exc)
        raise UserError(f"{path}{line}: {type(exc).__name__}: {exc}") from None
    sweep = getattr(module, "sweep", None)
    if sweep is None:
        raise UserError(f"{path} defines no `sweep = Sweep(...)`")
    if not isinstance(sweep, Sweep):
        raise UserError(f"{path}: `sweep` is a {type(sweep).__name__}, expected tuner.spec.Sweep")
    if not sweep.name:
        sweep.name = path.stem
    validate(sweep, where=str(path))
    return sweep


def _line_in(path: Path, exc: BaseException) -> str:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if Path(frame.filename).resolve() == path.resolve():
            return f":{frame.lineno}"
    return ""


# ---------------------------------------------------------------- overrides


def apply_overrides(sweep: Sweep, assignments: dict[str, str]) -> Sweep:
    """--set key=value: a Sweep field is overridden; a TrainConfig field is fixed (and leaves the space).

    `fixed.KEY=value` always fixes the TrainConfig field, for the names both have (`subset`: the Sweep's cuts
    the data in the driver, test set included; TrainConfig's trains on fewer images and tests on all).
    """
    sweep = dataclasses.replace(sweep, fixed=dict(sweep.fixed),
                                space=dict(sweep.space) if isinstance(sweep.space, dict) else sweep.space)
    sweep_fields = {f.name: f for f in fields(Sweep)}
    hints = _sweep_hints()
    for key, value in assignments.items():
        if key in ("fixed", "space", "objectives"):
            raise UserError(f"--set {key}=... is not supported; edit the sweep file")
        if key.startswith("fixed.") and key.removeprefix("fixed.") in field_names():
            _fix(sweep, key.removeprefix("fixed."), value)
        elif key in sweep_fields:
            setattr(sweep, key, _coerce_sweep_field(key, value, hints[key]))
        elif key in field_names():
            _fix(sweep, key, value)
        else:
            known = list(sweep_fields) + field_names()
            import difflib
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(f"--set: unknown key {key!r}{hint}; use a Sweep field or a TrainConfig field")
    return sweep


def _fix(sweep: Sweep, key: str, value: str) -> None:
    """The key leaves the space and the start points: a fixed value holds for every trial."""
    sweep.fixed[key] = getattr(TrainConfig.from_dict({key: value}), key)
    if isinstance(sweep.space, dict):
        sweep.space.pop(key, None)
    sweep.start = [{k: v for k, v in point.items() if k != key} for point in sweep.start]


def _sweep_hints() -> dict[str, Any]:
    import typing
    return typing.get_type_hints(Sweep)


def _coerce_sweep_field(key: str, value: Any, annotation: Any) -> Any:
    if key == "seeds":
        parts = [v.strip() for v in str(value).strip("[]").split(",") if v.strip()]
        try:
            return [int(v) for v in parts]
        except ValueError:
            raise UserError(f"--set seeds expects integers like 0,1,2, got {value!r}") from None
    if annotation in (float | None, int | None, str | None):
        return coerce(key, value, annotation)
    for kind in (bool, int, float, str):
        if annotation is kind:
            return coerce(key, value, kind)
    raise UserError(f"--set {key}=... is not supported; edit the sweep file")


def smoke(sweep: Sweep) -> Sweep:
    """2 trials x 1 epoch on a small subset: does this sweep file run at all?"""
    space = sweep.space
    if isinstance(space, dict):
        from ray import tune
        space = {k: tune.choice(v) for k, v in grid_values(space).items()} | \
                {k: v for k, v in space.items() if k not in grid_values(space)}
    return dataclasses.replace(sweep, space=space, search="random" if sweep.search == "grid" else sweep.search,
                               num_samples=2, max_epochs=1, seeds=sweep.seeds[:1], trial_scheduler="none",
                               subset=SMOKE_TRAIN_IMAGES, time_budget_s=None)


# ---------------------------------------------------------------- validation


def validate(sweep: Sweep, where: str = "sweep") -> None:
    """Every check that needs no data: field types and ranges, names, the space, and the scalar settings of every
    configuration the space can produce (see candidate_configs). Raises UserError naming the file and field."""
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
    unknown = [k for k in sweep.fixed if k not in field_names()]
    if unknown:
        fail(f"fixed: unknown setting {unknown[0]!r}")
    for key in NOT_FIXED:
        if key in sweep.fixed:
            fail(f"fixed: {NOT_SEARCHABLE[key]}")
    if sweep.search_options and sweep.search not in OPTUNA_SEARCHES:
        fail(f"search_options apply to the Optuna searches ({', '.join(sorted(OPTUNA_SEARCHES))}), "
             f"not search={sweep.search!r}")
    _validate_search_options(sweep, fail)
    if callable(sweep.space):
        if sweep.search not in OPTUNA_SEARCHES:
            fail("a define-by-run space (a function) needs search='optuna'")
        _validate_define_by_run(sweep, fail)
    elif isinstance(sweep.space, dict):
        _validate_space(sweep, fail)
    else:
        fail(f"space must be a dict or a function, got {type(sweep.space).__name__}")
    _validate_start(sweep, fail)
    try:
        train.validate(TrainConfig.from_dict(sweep.fixed_config()))
    except UserError as exc:
        fail(f"fixed settings: {exc}")
    for config in candidate_configs(sweep):
        try:
            train.validate(TrainConfig.from_dict(config))
        except UserError as exc:
            fail(f"space: {describe_config(config, sweep)} fails: {exc}")


def _validate_types(sweep: Sweep, fail: Callable[[str], None]) -> None:
    hints = _sweep_hints()
    for f in fields(Sweep):
        value = getattr(sweep, f.name)
        if not _has_type(value, hints[f.name]):
            fail(f"{f.name} must be {_type_text(hints[f.name])}, got {value!r} ({type(value).__name__})")


def _has_type(value: Any, annotation: Any) -> bool:
    import types
    import typing

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


def searched_names(sweep: Sweep) -> set[str]:
    """The hyperparameters the space searches (parts of paired keys; what a define-by-run space proposes)."""
    if callable(sweep.space):
        return {k for sample in sample_define_by_run(sweep.space, DEFINE_BY_RUN_SAMPLES, sweep.search_seed)
                for k in sample}
    return {part for key, value in sweep.space.items() for part in key.split("+")}


def _validate_start(sweep: Sweep, fail: Callable[[str], None]) -> None:
    if not sweep.start:
        return
    if sweep.search == "grid":
        fail("start points apply to search='random' or an Optuna search; a grid runs every point anyway")
    searched = searched_names(sweep)
    for index, point in enumerate(sweep.start):
        if not point:
            fail(f"start[{index}] is empty")
        for key in point:
            if key not in searched:
                fail(f"start[{index}] sets {key!r}, which the space does not search "
                     f"(searched: {', '.join(sorted(searched))})")


def start_points(sweep: Sweep) -> list[dict[str, Any]]:
    """The start points keyed as the space is (paired keys as tuples), for Ray's points_to_evaluate; what a point
    leaves unset is drawn from its domain (seeded), as Ray's searches need every searched key."""
    if callable(sweep.space) or not isinstance(sweep.space, dict):
        return [dict(p) for p in sweep.start]
    import numpy as np

    rng = np.random.default_rng(sweep.search_seed)
    out = []
    for point in sweep.start:
        keyed = {}
        for key, domain in sweep.space.items():
            parts = key.split("+")
            if all(part in point for part in parts):
                keyed[key] = tuple(point[part] for part in parts) if len(parts) > 1 else point[key]
            elif isinstance(domain, Domain):
                keyed[key] = domain.sample(random_state=rng)
            elif isinstance(domain, dict) and "grid_search" in domain:
                keyed[key] = domain["grid_search"][int(rng.integers(len(domain["grid_search"])))]
        out.append(keyed)
    return out


def _validate_search_options(sweep: Sweep, fail: Callable[[str], None]) -> None:
    """Unknown sampler settings fail here, not in every trial: build the sampler once."""
    from tuner import search

    options = sweep.search_options
    if options.get("sampler", "tpe") not in search.SAMPLERS:
        fail(f"search_options: sampler {options['sampler']!r} is not one of {', '.join(search.SAMPLERS)}")
    if options.get("tell", "best") not in ("best", "last"):
        fail(f"search_options: tell must be 'best' (pruned trials told as pruned) or 'last' (Ray's: every trial "
             f"complete with its last value), got {options['tell']!r}")
    if sweep.search in OPTUNA_SEARCHES and options:
        try:
            search.search_algorithm(sweep)
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


def _validate_space(sweep: Sweep, fail: Callable[[str], None]) -> None:
    fixed = sweep.fixed_config()
    for key, value in sweep.space.items():
        parts = key.split("+")
        for part in parts:
            if part not in field_names():
                import difflib
                close = difflib.get_close_matches(part, field_names(), n=1)
                fail(f"space: unknown hyperparameter {part!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            if part in NOT_SEARCHABLE:
                fail(f"space: {part!r} cannot be searched: {NOT_SEARCHABLE[part]}")
            if part in sweep.fixed:
                fail(f"space: {part!r} is both fixed and searched")
        if len(parts) > 1 and (sweep.search in OPTUNA_SEARCHES or isinstance(value, (Float, Integer))):
            fail(f"space[{key!r}]: paired hyperparameters take tune.grid_search or tune.choice of tuples with "
                 f"search='grid' or 'random' (with optuna, write a define-by-run function)")
        for candidate in _corner_values(key, value, fail):
            if len(parts) > 1 and (not isinstance(candidate, (tuple, list)) or len(candidate) != len(parts)):
                fail(f"space[{key!r}]: each value must be a tuple of {len(parts)} ({', '.join(parts)}), "
                     f"got {candidate!r}")
            try:
                train.validate(TrainConfig.from_dict({**fixed, **expand_paired({key: candidate})}))
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


def _corner_values(key: str, value: Any, fail: Callable[[str], None] | None = None) -> list[Any]:
    """The values that could go wrong: every category, and both ends of a range."""
    fail = fail or (lambda message: None)
    if isinstance(value, dict) and set(value) == {"grid_search"}:
        if not isinstance(value["grid_search"], (list, tuple)) or not value["grid_search"]:
            fail(f"space[{key!r}]: grid_search needs a non-empty list")
        return list(value["grid_search"])
    if isinstance(value, Categorical):
        if not value.categories:
            fail(f"space[{key!r}]: choice needs a non-empty list")
        return list(value.categories)
    if isinstance(value, (Float, Integer)):
        low, high = value.lower, value.upper
        if low is None or high is None:
            fail(f"space[{key!r}]: {describe_domain(value)} needs finite bounds")
        if not low < high:
            fail(f"space[{key!r}]: {describe_domain(value)}: low must be below high")
        if type(value.sampler).__name__ == "LogUniform" and low <= 0:
            fail(f"space[{key!r}]: {describe_domain(value)}: loguniform needs low > 0")
        return [low, high - 1] if isinstance(value, Integer) else [low, high]
    if isinstance(value, Domain):
        fail(f"space[{key!r}]: unsupported domain {type(value).__name__}")
    if isinstance(value, list):
        fail(f"space[{key!r}]: a plain list is ambiguous; use tune.choice([...]) or tune.grid_search([...])")
    return [value]


def _validate_define_by_run(sweep: Sweep, fail: Callable[[str], None]) -> None:
    """Run the function on throwaway Optuna trials and check the names it proposes."""
    for params in sample_define_by_run(sweep.space, DEFINE_BY_RUN_SAMPLES, sweep.search_seed, fail):
        for key in params:
            if key not in field_names():
                fail(f"space function proposes unknown hyperparameter {key!r}")
            if key in NOT_SEARCHABLE:
                fail(f"space function proposes {key!r}, which cannot be searched: {NOT_SEARCHABLE[key]}")
            if key in sweep.fixed:
                fail(f"space function proposes {key!r}, which is fixed")


def sample_define_by_run(space: Callable, n: int, seed: int, fail: Callable[[str], None] | None = None
                         ) -> list[dict[str, Any]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        trial = study.ask()
        try:
            constants = space(trial) or {}
        except Exception as exc:
            if fail is None:
                raise
            fail(f"space function raised {type(exc).__name__}: {exc}")
        out.append({**trial.params, **constants})
        study.tell(trial, 0.0)
    return out


# ---------------------------------------------------------------- the configurations a space can produce

DEFINE_BY_RUN_SAMPLES = 64
RANDOM_SAMPLES = 64
ALL_CORNERS = 256  # enumerate every combination of corner values up to this many
GRID_LIMIT = 20000  # grids up to this many points are checked point by point


def candidate_configs(sweep: Sweep) -> list[dict[str, Any]]:
    """Full TrainConfig values (fixed + searched) of the configurations worth checking before Ray starts:
    every grid point; for a random/optuna space the corners (every category, both ends of every range) and a
    seeded random sample; for a define-by-run space a seeded random sample of what it proposes."""
    fixed = sweep.fixed_config()
    if callable(sweep.space):
        searched = sample_define_by_run(sweep.space, DEFINE_BY_RUN_SAMPLES, sweep.search_seed)
    elif sweep.search == "grid":
        searched = _grid_points(sweep.space)
    else:
        searched = _corners(sweep.space, sweep.search_seed) + _random_points(sweep.space, sweep.search_seed)
    searched = [dict(p) for p in sweep.start] + searched
    seen, out = set(), []
    for values in searched:
        config = {**fixed, **expand_paired(values)}
        key = repr(sorted(config.items(), key=lambda item: item[0]))
        if key not in seen:
            seen.add(key)
            out.append(config)
    return out


def _grid_points(space: dict[str, Any]) -> list[dict[str, Any]]:
    grids = grid_values(space)
    constants = {k: v for k, v in space.items() if k not in grids and not isinstance(v, Domain)}
    keys = list(grids)
    total = math.prod(len(grids[k]) for k in keys)
    if total > GRID_LIMIT:
        import random
        rng = random.Random(0)
        combos = [tuple(rng.choice(grids[k]) for k in keys) for _ in range(GRID_LIMIT)]
    else:
        combos = list(itertools.product(*(grids[k] for k in keys)))
    return [{**constants, **dict(zip(keys, combo))} for combo in combos]


def _random_points(space: dict[str, Any], seed: int, n: int = RANDOM_SAMPLES) -> list[dict[str, Any]]:
    from ray.tune.search.variant_generator import generate_variants

    return [next(generate_variants(dict(space), random_state=seed + i))[1] for i in range(n)]


def _corners(space: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """Every combination of corner values when there are few; else each corner value once, the other
    hyperparameters drawn at random."""
    corners = {key: _corner_values(key, value) for key, value in space.items()}
    if math.prod(len(v) for v in corners.values()) <= ALL_CORNERS:
        return [dict(zip(corners, combo)) for combo in itertools.product(*corners.values())]
    base = _random_points(space, seed + 10_000, sum(len(v) for v in corners.values()))
    out, index = [], 0
    for key, values in corners.items():
        for value in values:
            out.append({**base[index], key: value})
            index += 1
    return out


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
    built: dict[str, None] = {}
    for config in configs:
        try:
            train.check_buildable(TrainConfig.from_dict(config), image_shape, num_classes, built)
        except UserError as exc:
            raise UserError(f"{where}: {describe_config(config, sweep)} cannot run on "
                            f"{'x'.join(map(str, image_shape))} images: {exc}") from None
    return len(configs)


def sample_configs(sweep: Sweep, n: int = 5) -> list[dict[str, Any]]:
    """What trials would look like (for --dry-run): grid points in order, or random draws."""
    if callable(sweep.space):
        return sample_define_by_run(sweep.space, n, sweep.search_seed)
    from ray.tune.search.variant_generator import generate_variants

    space = dict(sweep.space)
    if len(sweep.seeds) > 1 and sweep.search == "grid":
        space["seed"] = {"grid_search": list(sweep.seeds)}
    if sweep.search == "grid":
        return [spec for _, spec in itertools.islice(generate_variants(space), n)]
    return [next(generate_variants(space, random_state=sweep.search_seed + i))[1] for i in range(n)]

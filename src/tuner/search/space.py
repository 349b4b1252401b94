"""Search spaces: how a space is described, what configurations it can produce (every grid point, the corners of
its ranges, seeded samples, what a define-by-run function proposes), and its start points keyed as the space is.

A space is a dict of Ray Tune domains keyed by TrainConfig field (paired keys "a+b" take tuples: tuner.runfolder's
key_parts and expand_paired), or an Optuna define-by-run function `space(trial) -> dict | None`. The sweep's
checks (tuner.sweep.validate) build every configuration listed here before Ray starts.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ray.tune.search.sample import Categorical, Domain, Float, Integer

from tuner.errors import UserError
from tuner.runfolder import expand_paired, key_parts

if TYPE_CHECKING:
    from tuner.sweep.spec import Sweep

DEFINE_BY_RUN_SAMPLES = 64
RANDOM_SAMPLES = 64
ALL_CORNERS = 256  # enumerate every combination of corner values up to this many
GRID_LIMIT = 20000  # grids up to this many points are checked point by point


# ---------------------------------------------------------------- describing domains


def describe_domain(value: Any) -> str:
    if is_grid(value):
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
    return {k: v["grid_search"] for k, v in space.items() if is_grid(v)}


def is_grid(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"grid_search"}


def grid_size(space: dict[str, Any]) -> int:
    """Points of the grid Tune expands a space into: the product of its grid_search lengths (1 without any)."""
    return math.prod(len(v) for v in grid_values(space).values())


def searched_names(space: dict[str, Any] | Callable, search_seed: int = 0) -> set[str]:
    """The hyperparameters a space searches: the parts of its keys, or what a define-by-run function proposes."""
    if callable(space):
        return {k for sample in sample_define_by_run(space, DEFINE_BY_RUN_SAMPLES, search_seed) for k in sample}
    return {part for key in space for part in key_parts(key)}


# ---------------------------------------------------------------- the configurations a space can produce


def candidate_configs(sweep: Sweep) -> list[dict[str, Any]]:
    """Full TrainConfig values (fixed + searched) of the configurations worth checking before Ray starts:
    every grid point; for a random/optuna space the corners (every category, both ends of every range) and a
    seeded random sample; for a define-by-run space a seeded random sample of what it proposes."""
    fixed = sweep.fixed_config()
    if callable(sweep.space):
        searched = sample_define_by_run(sweep.space, DEFINE_BY_RUN_SAMPLES, sweep.search_seed)
    elif sweep.search == "grid":
        searched = grid_points(sweep.space)
    else:
        searched = corners(sweep.space, sweep.search_seed) + random_points(sweep.space, sweep.search_seed)
    searched = [dict(p) for p in sweep.start] + searched
    seen, out = set(), []
    for values in searched:
        config = {**fixed, **expand_paired(values)}
        key = repr(sorted(config.items(), key=lambda item: item[0]))
        if key not in seen:
            seen.add(key)
            out.append(config)
    return out


def grid_points(space: dict[str, Any]) -> list[dict[str, Any]]:
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


def random_points(space: dict[str, Any], seed: int, n: int = RANDOM_SAMPLES) -> list[dict[str, Any]]:
    from ray.tune.search.variant_generator import generate_variants

    return [next(generate_variants(dict(space), random_state=seed + i))[1] for i in range(n)]


def corners(space: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """Every combination of corner values when there are few; else each corner value once, the other
    hyperparameters drawn at random."""
    corners = {key: corner_values(key, value) for key, value in space.items()}
    if math.prod(len(v) for v in corners.values()) <= ALL_CORNERS:
        return [dict(zip(corners, combo)) for combo in itertools.product(*corners.values())]
    base = random_points(space, seed + 10_000, sum(len(v) for v in corners.values()))
    out, index = [], 0
    for key, values in corners.items():
        for value in values:
            out.append({**base[index], key: value})
            index += 1
    return out



def corner_values(key: str, value: Any, fail: Callable[[str], None] | None = None) -> list[Any]:
    """The values that could go wrong: every category, and both ends of a range."""
    fail = fail or (lambda message: None)
    if is_grid(value):
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


def flat_space(space: dict[str, Any] | Callable, seed: int) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """A space as one flat dict of domains, for tools that draw every parameter on every trial (Katib): a dict space
    as it is, a define-by-run function flattened (flatten_define_by_run); (domains, the conditional ones, the
    constants a define-by-run function returns)."""
    if not callable(space):
        return dict(space), [], {}
    return flatten_define_by_run(space, seed)


def flatten_define_by_run(space: Callable, seed: int, n: int = DEFINE_BY_RUN_SAMPLES
                          ) -> tuple[dict[str, Domain], list[str], dict[str, Any]]:
    """A define-by-run space as one flat dict of Ray Tune domains, for tools that draw every parameter on every
    trial (Katib): (domains in the order first proposed, the conditional ones, the constants it returns), from n
    seeded draws. A parameter proposed with different ranges in different branches has no flat form."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    seen: dict[str, Any] = {}
    counts: dict[str, int] = {}
    constants: list[dict[str, Any]] = []
    for _ in range(n):
        trial = study.ask()
        constants.append(dict(space(trial) or {}))
        for name, distribution in trial.distributions.items():
            if seen.setdefault(name, distribution) != distribution:
                raise UserError(f"space[{name!r}]: the define-by-run function proposes it as {seen[name]} and as "
                                f"{distribution}; one flat range cannot hold both")
            counts[name] = counts.get(name, 0) + 1
        study.tell(trial, 0.0)
    if any(c != constants[0] for c in constants):
        raise UserError("the define-by-run function returns values that depend on what it draws; only a space "
                        "of drawn parameters (and constants) has a flat form")
    conditional = [name for name in seen if counts[name] < n]
    return {name: _ray_domain(d) for name, d in seen.items()}, conditional, constants[0]


def _ray_domain(distribution: Any) -> Domain:
    """An Optuna distribution as the Ray Tune domain that draws the same values."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    from ray import tune

    if isinstance(distribution, CategoricalDistribution):
        return tune.choice(list(distribution.choices))
    low, high, step, log = distribution.low, distribution.high, distribution.step, distribution.log
    if isinstance(distribution, FloatDistribution):
        return tune.quniform(low, high, step) if step else tune.loguniform(low, high) if log \
            else tune.uniform(low, high)
    assert isinstance(distribution, IntDistribution)
    if step > 1:  # Ray's qrandint includes its upper bound; Optuna's high is inclusive
        return tune.qrandint(low, high, step)
    return tune.lograndint(low, high + 1) if log else tune.randint(low, high + 1)


def start_points(sweep: Sweep) -> list[dict[str, Any]]:
    """The sweep's start points keyed as the space is (paired keys as tuples), for Ray's points_to_evaluate; what a
    point leaves unset is drawn from its domain (seeded), as Ray's searches need every searched key."""
    if callable(sweep.space) or not isinstance(sweep.space, dict):
        return [dict(p) for p in sweep.start]
    import numpy as np

    rng = np.random.default_rng(sweep.search_seed)
    out = []
    for point in sweep.start:
        keyed = {}
        for key, domain in sweep.space.items():
            parts = key_parts(key)
            if all(part in point for part in parts):
                keyed[key] = tuple(point[part] for part in parts) if len(parts) > 1 else point[key]
            elif isinstance(domain, Domain):
                keyed[key] = domain.sample(random_state=rng)
            elif is_grid(domain):
                keyed[key] = domain["grid_search"][int(rng.integers(len(domain["grid_search"])))]
        out.append(keyed)
    return out


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


def define_by_run_outside(space: Callable, point: dict[str, Any], seed: int) -> tuple[str, str] | None:
    """Where a start point leaves a define-by-run space: (key, why) for the first value the function's own suggest
    call cannot draw (Optuna would fail on it in the driver, after Ray starts, or run it with a warning), else None.
    The function runs on a trial that follows the point, as the search's queued trial will."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    study.enqueue_trial(dict(point))
    try:
        space(_StartTrial(study.ask(), point))
    except _Outside as exc:
        return exc.args[0], exc.args[1]
    return None


class _Outside(Exception):
    """A start value the suggest call being made cannot draw: (key, why)."""


class _StartTrial:
    """An Optuna trial that checks each start value against the suggest call that draws it, then draws as Optuna
    does (the queued point's value)."""

    def __init__(self, trial: Any, point: dict[str, Any]):
        self._trial, self._point = trial, point

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trial, name)

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        from optuna.distributions import CategoricalDistribution

        self._check(name, CategoricalDistribution(choices), f"suggest_categorical({name!r}, {list(choices)!r})")
        return self._trial.suggest_categorical(name, choices)

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        from optuna.distributions import FloatDistribution

        self._check(name, FloatDistribution(low, high, log=log, step=step),
                    f"suggest_float({name!r}, {low!r}, {high!r}{', log=True' if log else ''}"
                    f"{f', step={step!r}' if step else ''})")
        return self._trial.suggest_float(name, low, high, step=step, log=log)

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        from optuna.distributions import IntDistribution

        self._check(name, IntDistribution(low, high, log=log, step=step),
                    f"suggest_int({name!r}, {low!r}, {high!r}{', log=True' if log else ''}"
                    f"{f', step={step!r}' if step != 1 else ''})")
        return self._trial.suggest_int(name, low, high, step=step, log=log)

    def _check(self, name: str, distribution: Any, call: str) -> None:
        if name not in self._point:
            return
        value = self._point[name]
        try:
            inside = not isinstance(value, bool) or type(distribution).__name__ == "CategoricalDistribution"
            inside = inside and distribution._contains(distribution.to_internal_repr(value))
        except (ValueError, TypeError):
            inside = False
        if not inside:
            raise _Outside(name, f"which the space function's {call} cannot draw")

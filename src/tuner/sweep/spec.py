"""The Sweep: what a sweep file defines, and the facts that follow from it (its Tune parameter space, the grid's
size, the trials it starts, which seed the search runs on and which seeds confirm it).

A sweep file is a plain Python module that defines `sweep = Sweep(...)`:

    from ray import tune
    from tuner import Sweep          # or, as older sweep files do: from tuner.spec import Sweep

    sweep = Sweep(
        data="mnist", model="mlp",
        fixed={"batch_size": 128},
        space={"optimizer": tune.choice(["sgd", "adam"]), "lr": tune.loguniform(1e-4, 1e-1)},
        search="optuna", trial_scheduler="asha", num_samples=20, max_epochs=10,
    )

`space` holds Ray Tune primitives keyed by TrainConfig field, or (search="optuna") a
define-by-run function `space(trial) -> dict | None` for conditional spaces. Settings that
go together are paired: `"optimizer+lr": tune.grid_search([("sgd", 0.01), ("adam", 0.001)])`. Loading a sweep
file is tuner.sweep.load; checking one, before Ray starts, tuner.sweep.validate.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from tuner import select
from tuner.errors import UserError
from tuner.runfolder import expand_paired
from tuner.search import space as space_lib
from tuner.train.config import coerce
from tuner.train.usercode import SWEEP_MODULE  # noqa: F401  (re-exported: sweep.load and old imports use it here)

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
# SWEEP_MODULE: one fixed module name for the sweep file, so a resumed run (which loads RUN_DIR/sweep.py) unpickles
# its define-by-run space and finds its model and data functions ("tuner_sweep_file:my_net", tuner.train.usercode)


@dataclass
class Sweep:
    name: str = ""  # run folder prefix; default: the sweep file's name
    description: str = ""  # one line for the report header
    data: str = "mnist"  # data spec (tuner.data): mnist, cifar10, imagefolder:PATH, synthetic, ...; also a function
    #   of the sweep file, "package.module:function" or "torchvision:NAME" (tuner.train.datasources)
    model: str = "mlp"  # default model; search over models with space={"model": tune.choice([...])}; also a
    #   function of the sweep file, "package.module:function" or "torchvision:NAME" (tuner.train.factories)
    fixed: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields held constant
    space: dict[str, Any] | Callable[[Any], dict[str, Any] | None] = field(default_factory=dict)
    search: str = "random"  # grid | random | optuna (TPE) | optuna-tpe | ray-optuna (tuner.search.SEARCHES)
    search_options: dict[str, Any] = field(default_factory=dict)  # Optuna sampler settings, e.g. n_startup_trials
    trial_scheduler: str = "none"  # none | asha | hyperband | median | pbt | pb2 | ... (docs/search.md: replays
    #   of recorded sweeps found early stopping cutting slow starters that end best; "none" lets every trial finish)
    scheduler_options: dict[str, Any] = field(default_factory=dict)  # trial_scheduler pbt/pb2: perturbation_interval,
    #   hyperparam_mutations (pb2: hyperparam_bounds; default: the space's ranges of lr, momentum, weight_decay),
    #   quantile_fraction, ... (tuner.search.population)
    grace_period: int = 1  # epochs a trial runs before it can be stopped
    reduction_factor: float = 3  # asha/hyperband: keep 1/reduction_factor at each rung
    brackets: int = 1  # asha: brackets of successively longer grace periods (1: the classic ASHA)
    metric: str = "val_acc"  # selects trials and each trial's best epoch: val_acc or val_loss (validation only)
    mode: str | None = None  # max or min; follows from the metric (tuner.select.METRICS): omit it
    objectives: list[tuple[str, str]] | None = None  # optuna multi-objective: [("val_acc","max"),("num_params","min")]
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
    checkpoint_keep: int = 1  # checkpoints kept per trial: the latest holds the best epoch's weights too
    start: list[dict[str, Any]] = field(default_factory=list)  # configurations known to work, run first
    #   (e.g. [{"optimizer": "adam", "lr": 1e-3}]; unset hyperparameters are drawn); random/optuna searches only
    time_budget_s: float | None = None  # wall-clock budget for the whole sweep, planned for (tuner.plan)
    code: list[str] = field(default_factory=list)  # local packages the sweep imports (folders with __init__.py,
    #   or .py modules; relative to the sweep file): shipped to every Ray worker (py_modules), copied into the run
    #   folder (code/), hashed in spec.json; `--code DIR` adds one (tuner.sweep.codedirs)
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
        out["space"] = space_lib.describe_space(self.space)
        out["scheduler_options"] = {k: space_lib.describe_space(v) if isinstance(v, dict) else v
                                    for k, v in self.scheduler_options.items()}
        out["mode"] = self.direction if self.metric in select.METRICS else self.mode
        return out

    # ---- derived facts: written here once, read by the engine, the budget plan, the replay and the writer

    @property
    def search_trial_seed(self) -> int:
        """The training seed of every search trial of a random or Optuna search (a grid runs every seed)."""
        return self.seeds[0]

    @property
    def confirm_seeds(self) -> list[int]:
        """The seeds the confirm phase re-runs the search's best configurations on."""
        return list(self.seeds[1:]) if self.needs_confirm else []

    def without_confirm(self) -> Sweep:
        """The sweep with its search only: on its search seed, no confirm phase."""
        return dataclasses.replace(self, seeds=[self.search_trial_seed])

    @property
    def needs_confirm(self) -> bool:
        return self.search != "grid" and len(self.seeds) > 1 and self.confirm_top > 0

    def param_space(self) -> dict[str, Any]:
        """Tune's param_space of the search phase: the fixed values, the space, and the seed (a grid runs every seed;
        a search its first, the confirm phase the others)."""
        searched = dict(self.space) if isinstance(self.space, dict) else {}
        grid_seeds = self.search == "grid" and len(self.seeds) > 1
        seeds = {"grid_search": list(self.seeds)} if grid_seeds else self.search_trial_seed
        return {**self.fixed_config(), **searched, "seed": seeds}

    def grid_points(self) -> int:
        """Points Tune expands the param_space into (seeds of a grid included); 1 without a grid."""
        return space_lib.grid_size(self.param_space())

    def expected_trials(self) -> int:
        """Trials the search phase starts: grid points (seeds included) x num_samples (1 for grid search)."""
        return self.grid_points() * self.samples

    def searched_names(self) -> set[str]:
        """The hyperparameters the space searches (parts of paired keys; what a define-by-run space proposes)."""
        return space_lib.searched_names(self.space, self.search_seed)

    def first_config(self) -> dict[str, Any]:
        """The configuration that runs first: the first start point, else the search's first draw."""
        first = self.start[0] if self.start else space_lib.sample_configs(self, 1)[0]
        return {**self.fixed_config(), **expand_paired(first)}


def field_types() -> dict[str, Any]:
    """The Sweep's fields and their annotations (for type checks and for --set's coercion)."""
    return typing.get_type_hints(Sweep)


def coerce_sweep_field(key: str, value: Any, annotation: Any) -> Any:
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

"""A sweep's own code: the model and data functions it names, turned into references, and shipped to Ray's workers.

A sweep file may say `model=my_net`, `data=my_data`, `space={"model": tune.choice([small, big])}`: `normalize` turns
each function into its reference ("tuner_sweep_file:my_net", tuner.train.usercode), so every configuration, params.json
and trials.csv hold plain text and a resumed run (which loads RUN_DIR/sweep.py under the same module name) finds the
same functions. Ray's workers cannot import the sweep file (or a notebook's __main__): `shipped` pickles those
functions by value for the trainable, which installs them before it builds a model.
"""

from __future__ import annotations

import dataclasses
import pickle
import sys
from typing import Any

from ray.tune.search.sample import Categorical

from tuner.runfolder import key_parts
from tuner.search.space import candidate_configs, is_grid
from tuner.sweep import codedirs
from tuner.sweep.spec import Sweep
from tuner.train import usercode

MODEL = "model"


def normalize(sweep: Sweep) -> Sweep:
    """The sweep with every model or data function replaced by its reference string."""
    space = sweep.space
    if isinstance(space, dict):
        space = {key: _domain(key, value) for key, value in space.items()}
    fixed = {k: usercode.reference(v, "model") if k == MODEL else v for k, v in sweep.fixed.items()}
    start = [{k: usercode.reference(v, "model") if k == MODEL else v for k, v in point.items()}
             for point in sweep.start]
    return dataclasses.replace(sweep, model=usercode.reference(sweep.model, "model"),
                               data=usercode.reference(sweep.data, "data"), fixed=fixed, space=space, start=start)


def _domain(key: str, value: Any) -> Any:
    parts = key_parts(key)
    if MODEL not in parts:
        return value
    index = parts.index(MODEL)

    def convert(item: Any) -> Any:
        if len(parts) == 1:
            return usercode.reference(item, "model")
        if isinstance(item, (tuple, list)) and len(item) == len(parts):
            return type(item)(usercode.reference(v, "model") if i == index else v for i, v in enumerate(item))
        return item

    if is_grid(value):
        return {"grid_search": [convert(v) for v in value["grid_search"]]}
    if isinstance(value, Categorical):
        from ray import tune

        return tune.choice([convert(v) for v in value.categories])
    return convert(value)


def model_references(sweep: Sweep) -> set[str]:
    """Every model function the sweep's configurations can name (library models left out)."""
    names = {sweep.model, *(str(c.get(MODEL)) for c in candidate_configs(sweep))}
    return {name for name in names if usercode.is_reference(name) and not usercode.is_library(name)}


def shipped(sweep: Sweep) -> bytes | None:
    """The sweep's model functions, pickled for Ray's workers; None if it has none. Those of the sweep file, a notebook
    and a local package (one not installed in site-packages: on this machine's sys.path, maybe only the driver's) go
    by value with every module of their package, so a worker needs neither the file nor the path; an installed
    package's by reference, imported where the trial runs."""
    from ray import cloudpickle

    wanted = sorted(model_references(sweep))
    if not wanted:
        return None
    for name in wanted:
        module = sys.modules.get(name.partition(":")[0])
        for local in {_top(module), *(_top(_module_of(value)) for value in (vars(module).values() if module else ()))}:
            if local is not None and local.__name__ != "__main__" and _local(local) \
                    and not codedirs.is_shipped_by_ray(local.__name__):  # imported on the worker, not pickled
                cloudpickle.register_pickle_by_value(local)
    return cloudpickle.dumps({name: usercode.resolve(name) for name in wanted})


def _module_of(value: Any) -> Any:
    """The module a global of the sweep file is, or was defined in (`import mylayers`, `from mylayers import x`)."""
    if isinstance(value, type(sys)):
        return value
    return sys.modules.get(getattr(value, "__module__", None) or "") if callable(value) else None


def _top(module: Any) -> Any:
    if module is None or module.__name__ in (usercode.SWEEP_MODULE, "__main__"):
        return module
    return sys.modules.get(module.__name__.split(".")[0])


def _local(module: Any) -> bool:
    """Code of the user's that a worker may not have: a module file outside the installed packages and the standard
    library, and not tuner (which every worker runs)."""
    import sysconfig

    path = str(getattr(module, "__file__", None) or "")
    installed = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    return bool(path) and module.__name__.split(".")[0] != "tuner" and "site-packages" not in path \
        and "dist-packages" not in path and not any(path.startswith(folder) for folder in installed)


def install(payload: bytes | None) -> None:
    """On a worker: make the shipped functions resolvable (tuner.train.usercode.resolve)."""
    if payload:
        usercode.install(pickle.loads(payload))


def model_changes(sweep: Sweep, image_shape: tuple[int, int, int], num_classes: int) -> dict[str, list[str]]:
    """What tuner changes in each library model (torchvision, timm) the sweep can build, to fit the data."""
    from tuner.train import factories
    from tuner.train.config import TrainConfig

    out: dict[str, list[str]] = {}
    for config in candidate_configs(sweep):
        cfg = TrainConfig.from_dict(config)
        if not usercode.is_library(cfg.model):
            continue
        label = cfg.model + (f" ({', '.join(f'{k}={v}' for k, v in sorted(cfg.model_args.items()))})"
                             if cfg.model_args else "")
        if label not in out:
            out[label] = factories.adaptations(cfg.model, cfg.model_args, image_shape, num_classes)
    return {label: changes for label, changes in out.items() if changes}

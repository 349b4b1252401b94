"""Loading a sweep file, and the command line's changes to it (--set, --smoke)."""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import re
import sys
import traceback
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

from tuner.errors import UserError
from tuner.search.space import grid_values, searched_names
from tuner.sweep import codedirs, owncode
from tuner.sweep.spec import SMOKE_TRAIN_IMAGES, SWEEP_MODULE, Sweep, coerce_sweep_field, field_types
from tuner.sweep.validate import validate
from tuner.train.config import TrainConfig, field_names, is_setting


def load(path: str | Path, code: Iterable[str | Path] = (), run_dir: Path | None = None) -> Sweep:
    """Import a sweep file and return its validated Sweep. `code`: local packages given besides the file's own
    `code` (--code, relative to the working folder); `run_dir`: the sweep file is that run folder's copy, whose
    packages are the run folder's copies (runfolder.CODE_FOLDER), wherever the originals are now."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"sweep file {path} not found")
    given = codedirs.resolve(code, Path.cwd())
    codedirs.importable(given)
    copies = codedirs.use_code(run_dir) if run_dir is not None else []
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
        unknown = _unknown_field(exc)
        if unknown is not None:
            raise UserError(f"{path}{line}: Sweep has no field {unknown!r}{_did_you_mean(unknown)}") from None
        raise UserError(f"{path}{line}: {type(exc).__name__}: {exc}") from None
    sweep = getattr(module, "sweep", None)
    if sweep is None:
        raise UserError(f"{path} defines no `sweep = Sweep(...)`")
    if not isinstance(sweep, Sweep):
        raise UserError(f"{path}: `sweep` is a {type(sweep).__name__}, expected a tuner Sweep "
                        "(from tuner import Sweep)")
    if not sweep.name:
        sweep.name = path.stem
    if not isinstance(sweep.code, (list, tuple)):
        raise UserError(f"{path}: code must be a list of package folders, got {sweep.code!r}")
    try:
        own = copies if run_dir is not None else codedirs.resolve(sweep.code, path.parent)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    codedirs.importable(own)
    sweep.code = [str(p) for p in codedirs.resolve([*own, *given], path.parent)]
    canonical_names(sweep)
    try:
        sweep = owncode.normalize(sweep)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    validate(sweep, where=str(path))
    return sweep


def _unknown_field(exc: BaseException) -> str | None:
    """The keyword of `Sweep(max_epoch=10)`: Python's TypeError for an argument the Sweep does not have."""
    found = re.fullmatch(r"(?:Sweep\.)?__init__\(\) got an unexpected keyword argument '(\w+)'", str(exc))
    return found.group(1) if isinstance(exc, TypeError) and found else None


def _did_you_mean(key: str) -> str:
    """' (did you mean max_epochs?)' among the Sweep's fields; a TrainConfig field belongs in fixed= or space=."""
    close = difflib.get_close_matches(key, [f.name for f in fields(Sweep)], n=1)
    if close:
        return f" (did you mean {close[0]}?)"
    if key in field_names():
        return f" ({key} is a training setting: put it in fixed={{...}} or space={{...}})"
    return ""


def _registries() -> dict[str, dict[str, Any]]:
    """The registry each named setting picks from: a Sweep's search and trial scheduler, a fixed training setting."""
    from tuner.search import SEARCHES, TRIAL_SCHEDULERS
    from tuner.train import augment, models, optim

    return {"search": SEARCHES, "trial_scheduler": TRIAL_SCHEDULERS, "model": models.MODELS,
            "optimizer": optim.OPTIMIZERS, "scheduler": optim.SCHEDULERS, "augment": augment.AUGMENTS}


def canonical(value: Any, known: Iterable[str]) -> Any:
    """A registry name written in another case ("ASHA") as the registry spells it, where one name matches."""
    if not isinstance(value, str) or value in known:
        return value
    matches = [name for name in known if name.lower() == value.lower()]
    return matches[0] if len(matches) == 1 else value


def canonical_names(sweep: Sweep) -> None:
    """Registry names matched case-insensitively: the Sweep's search and trial_scheduler, its fixed settings."""
    for key, known in _registries().items():
        if key in ("search", "trial_scheduler"):
            setattr(sweep, key, canonical(getattr(sweep, key), known))
        elif key in sweep.fixed:
            sweep.fixed[key] = canonical(sweep.fixed[key], known)


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
    hints = field_types()
    for key, value in assignments.items():
        if key in ("fixed", "space", "objectives", "code"):
            raise UserError(f"--set {key}=... is not supported; edit the sweep file" +
                            (" or give --code DIR" if key == "code" else ""))
        try:
            if key.startswith("fixed.") and key.removeprefix("fixed.") in field_names():
                _fix(sweep, key.removeprefix("fixed."), value)
            elif key in sweep_fields:
                setattr(sweep, key, coerce_sweep_field(key, value, hints[key]))
            elif is_setting(key):
                _fix(sweep, key, value)
            else:
                known = list(sweep_fields) + field_names()
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise UserError(f"--set: unknown key {key!r}{hint}; use a Sweep field or a TrainConfig field")
        except UserError as exc:  # the value came from the command line: say so, not where the sweep file uses it
            message = str(exc)
            raise UserError(message if message.startswith("--set") else f"--set {key}={value}: {message}") from None
    canonical_names(sweep)
    return sweep


def _fix(sweep: Sweep, key: str, value: str) -> None:
    """The key leaves the space and the start points: a fixed value holds for every trial. A registry name is
    checked here, where the message can name --set as its source."""
    cfg = TrainConfig.from_dict({key: value})
    if key not in field_names():  # a model's own hyperparameter (model.depth)
        fixed = cfg.model_args[key.partition(".")[2]]
    else:
        fixed = getattr(cfg, key)
        known = _registries().get(key)
        if known is not None and key != "search" and key != "trial_scheduler":
            fixed = canonical(fixed, known)
            if fixed not in known:
                close = difflib.get_close_matches(str(fixed), list(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; choose one of: {', '.join(sorted(known))}"
                raise UserError(f"unknown {key} {fixed!r}{hint}")
    sweep.fixed[key] = fixed
    if isinstance(sweep.space, dict):
        sweep.space.pop(key, None)
    elif callable(sweep.space):  # and start points lose what the space no longer proposes (momentum, adam fixed)
        sweep.space = FixedOver.wrap(sweep.space, {key: fixed})
        names = searched_names(sweep.space, sweep.search_seed)
        sweep.start = [{k: v for k, v in point.items() if k in names} for point in sweep.start]
    sweep.start = [{k: v for k, v in point.items() if k != key} for point in sweep.start]


class FixedOver:
    """A define-by-run space with settings fixed by --set: the function is not asked to propose them; where it
    asks, it gets the fixed value, so its branches follow it (--set optimizer=adam: no momentum is drawn)."""

    def __init__(self, space: Any, fixed: dict[str, Any]):
        self.space, self.fixed = space, fixed

    @classmethod
    def wrap(cls, space: Any, fixed: dict[str, Any]) -> FixedOver:
        if isinstance(space, cls):
            return cls(space.space, {**space.fixed, **fixed})
        return cls(space, fixed)

    @property
    def __name__(self) -> str:
        return getattr(self.space, "__name__", "space")

    def __call__(self, trial: Any) -> Any:
        return self.space(_Pinned(trial, self.fixed))


class _Pinned:
    """An Optuna trial whose suggest_* calls return the fixed value for a fixed name."""

    def __init__(self, trial: Any, fixed: dict[str, Any]):
        self._trial, self._fixed = trial, fixed

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._trial, name)
        if not name.startswith("suggest_"):
            return attribute

        def suggest(key: str, *args: Any, **kwargs: Any) -> Any:
            return self._fixed[key] if key in self._fixed else attribute(key, *args, **kwargs)

        return suggest


SMOKE_SUFFIX = "-smoke"


def smoke(sweep: Sweep) -> Sweep:
    """2 trials x 1 epoch on a small subset: does this sweep file run at all?"""
    space = sweep.space
    if isinstance(space, dict):
        from ray import tune

        space = {k: tune.choice(v) for k, v in grid_values(space).items()} | \
                {k: v for k, v in space.items() if k not in grid_values(space)}
    name = sweep.name if sweep.name.endswith(SMOKE_SUFFIX) else sweep.name + SMOKE_SUFFIX  # its run folder says so
    return dataclasses.replace(sweep, name=name, space=space, search="random" if sweep.search == "grid" else sweep.search,
                               num_samples=2, max_epochs=1, seeds=sweep.without_confirm().seeds, trial_scheduler="none",
                               subset=SMOKE_TRAIN_IMAGES, time_budget_s=None)


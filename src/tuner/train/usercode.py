"""The user's own code that a configuration names: a model or data function by reference.

A configuration holds references, never function objects, so that it stays plain data (params.json, trials.csv,
spec.json, best.json):

    "package.module:function"     imported where it runs
    "tuner_sweep_file:function"   defined in the sweep file (loaded under this module name, so a resumed run, which
                                  loads RUN_DIR/sweep.py, finds the same function; `tuner rerun` loads it too)
    "__main__:function"           defined in a notebook (no file): shipped by value to Ray's workers
    "torchvision:NAME", "timm:NAME"   a library's builder (tuner.train.factories)

Ray's workers cannot import the sweep file or a notebook's `__main__`: the sweep layer ships those functions by value
with the trials (`install`), and `resolve` looks there first. No torch here: reading a configuration needs none.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuner.errors import UserError

SWEEP_MODULE = "tuner_sweep_file"  # the module name a sweep file is loaded under (tuner.sweep.load)
LIBRARIES = ("torchvision", "timm")  # "library:NAME" references tuner.train.factories builds itself
_SHIPPED: dict[str, Callable[..., Any]] = {}  # references installed by the sweep layer on a Ray worker


def is_reference(name: Any) -> bool:
    """A "module:function" (or "library:NAME") reference, as opposed to a registry name such as "mlp"."""
    if not isinstance(name, str) or name.count(":") != 1:
        return False
    module, function = name.split(":")
    return bool(module) and bool(function) and all(part.isidentifier() for part in module.split(".")) \
        and all(part.isidentifier() for part in function.split("."))


def is_library(name: str) -> bool:
    return is_reference(name) and name.partition(":")[0] in LIBRARIES


def reference(obj: Any, what: str = "function") -> Any:
    """A callable as its reference string; anything else unchanged. A script run as __main__ that is also the sweep
    file (tuner.run from `python my_sweep.py`) names its functions as the sweep file's."""
    if not callable(obj) or isinstance(obj, str):
        return obj
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise UserError(f"{what} {getattr(obj, '__name__', obj)!r} cannot be found again by name: define it at the "
                        "top level of the sweep file or a module (not a lambda or a nested function)")
    if module == "__main__" and sys.modules.get(SWEEP_MODULE) is sys.modules.get("__main__"):
        module = SWEEP_MODULE
    return f"{module}:{qualname}"


def install(functions: dict[str, Callable[..., Any]] | None) -> None:
    """Make shipped functions resolvable in this process (a Ray worker)."""
    _SHIPPED.update(functions or {})


def resolve(name: str, what: str = "model") -> Callable[..., Any]:
    """The callable a "module:function" reference names; UserError if it cannot be found."""
    if name in _SHIPPED:
        return _SHIPPED[name]
    module_name, _, qualname = name.partition(":")
    if module_name == SWEEP_MODULE and SWEEP_MODULE not in sys.modules:
        raise UserError(f"{what} {name!r} is defined in a sweep file that is not loaded here")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(f"{what} {name!r}: cannot import {module_name!r} ({exc}); is it on PYTHONPATH?") from None
    except Exception as exc:
        raise UserError(f"{what} {name!r}: importing {module_name!r} raised {type(exc).__name__}: {exc}") from None
    obj: Any = module
    for part in qualname.split("."):
        if not hasattr(obj, part):
            raise UserError(f"{what} {name!r}: {module_name!r} has no {qualname!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UserError(f"{what} {name!r} is a {type(obj).__name__}, not a function")
    return obj


def load_sweep_module(path: Path, *names: Any) -> None:
    """Execute a run folder's sweep.py as the sweep file's module (for `tuner rerun`, a loaded run's model) where one
    of `names` (a model, a data spec) is the sweep file's, unless the same file is loaded already."""
    if not path.is_file() or not any(str(name).startswith(f"{SWEEP_MODULE}:") for name in names):
        return
    loaded = getattr(sys.modules.get(SWEEP_MODULE), "__file__", None)
    if loaded and Path(loaded).is_file() and Path(loaded).read_bytes() == path.read_bytes():
        return
    spec = importlib.util.spec_from_file_location(SWEEP_MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[SWEEP_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[SWEEP_MODULE]
        raise UserError(f"{path}: {type(exc).__name__}: {exc}") from None


def source_hash(name: str) -> str | None:
    """A hash of the file that defines a reference's module (the data cache key of a data function), or None."""
    module = sys.modules.get(name.partition(":")[0])
    path = getattr(module, "__file__", None)
    if not path or not Path(path).is_file():
        return None
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:12]

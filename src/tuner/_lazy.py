"""Names a package offers without importing the modules that hold them until first use (PEP 562)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def exports(package: str, where: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's `__getattr__` and `__dir__` for names that live in its modules: `where` maps a name to its
    module, relative to the package (a leading "tuner." makes it absolute)."""
    def module_of(name: str) -> str:
        return where[name] if where[name].startswith("tuner.") else f"{package}.{where[name]}"

    def getattr_(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(module_of(name)), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def dir_() -> list[str]:
        return sorted(set(importlib.import_module(package).__dict__) | set(where))

    return getattr_, dir_

"""A sweep's local packages (`--code DIR`, `Sweep(code=[...])`): importable here, copied into the run folder, and
shipped to every Ray worker on every node as Ray's runtime environment (`py_modules`).

A package named this way is imported by reference where a trial runs (tuner.sweep.owncode leaves it out of what it
pickles by value), so everything in it travels, submodules a function imports late and data files included. The
run folder keeps a copy (code/<package>/, runfolder.CODE_FOLDER) and spec.json its files' hashes: `--resume` and
`tuner rerun` import the copy (use_code), wherever the original has gone since.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tuner.errors import UserError
from tuner.runfolder import CODE_FOLDER

IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
_SHIPPED_BY_RAY: set[str] = set()  # packages this process's Ray job carries in its runtime environment


def resolve(entries: Iterable[str | Path], base: Path) -> list[Path]:
    """The packages (a folder with __init__.py) or modules (a .py file) `entries` name, relative ones from `base`;
    UserError for one that is missing, not importable by its name, or a second of the same name."""
    paths: dict[str, Path] = {}
    for entry in entries:
        path = Path(entry).expanduser()
        path = (path if path.is_absolute() else base / path).resolve()
        name = path.stem if path.suffix == ".py" else path.name
        if not path.exists():
            raise UserError(f"code: {entry} not found (from {base})")
        if path.is_dir() and not (path / "__init__.py").is_file():
            raise UserError(f"code: {entry} is a folder without __init__.py: give a package (or a module's .py file)")
        if path.is_file() and path.suffix != ".py":
            raise UserError(f"code: {entry} is neither a package folder nor a .py module")
        if not name.isidentifier():
            raise UserError(f"code: {entry}: {name!r} cannot be imported by name (not a Python identifier)")
        if name in paths and paths[name] != path:
            raise UserError(f"code: two packages named {name!r}: {paths[name]} and {path}")
        paths[name] = path
    return list(paths.values())


def importable(paths: Iterable[Path]) -> None:
    """Put each package's parent folder first on this process's import path (the sweep file imports it)."""
    for parent in dict.fromkeys(str(p.parent) for p in paths):
        if parent not in sys.path:
            sys.path.insert(0, parent)


def copy(run_dir: Path, paths: Iterable[Path]) -> dict[str, Any]:
    """Copy the packages into RUN_DIR/code/; returns spec.json's record: {name: {source, files: {path: sha256}}}."""
    record = {}
    for path in paths:
        target = run_dir / CODE_FOLDER / path.name
        if path.is_dir():
            shutil.copytree(path, target, ignore=IGNORED, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        files = sorted(f for f in ([target] if target.is_file() else target.rglob("*")) if f.is_file())
        record[path.stem if path.is_file() else path.name] = {
            "source": str(path),
            "files": {str(f.relative_to(run_dir / CODE_FOLDER)): hashlib.sha256(f.read_bytes()).hexdigest()
                      for f in files}}
    return record


def use_code(run_dir: Path) -> list[Path]:
    """The run folder's copies of the sweep's local packages (code/<package>), put first on this process's import
    path so that its sweep.py and model references import them; empty when the sweep shipped none."""
    folder = run_dir / CODE_FOLDER
    if not folder.is_dir():
        return []
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return sorted(p for p in folder.iterdir() if p.name != "__pycache__" and not p.name.startswith("."))


def runtime_env(paths: list[Path]) -> dict[str, Any] | None:
    """Ray's runtime environment that puts the packages on every worker's import path (uploaded once per job)."""
    return {"py_modules": [str(p) for p in paths]} if paths else None


def shipped_by_ray(paths: list[Path]) -> None:
    """Note that this process's Ray job was started with `paths` in its runtime environment."""
    _SHIPPED_BY_RAY.update(p.stem if p.is_file() else p.name for p in paths)


def is_shipped_by_ray(module_name: str) -> bool:
    """Whether a module's package reaches the workers through the runtime environment (then it is imported there,
    not pickled by value). A Ray started before tuner (a notebook's, a test's) has none: the package then goes by
    value, as any local package does."""
    return module_name.split(".")[0] in _SHIPPED_BY_RAY

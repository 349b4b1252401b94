"""The module paths of tuner before its subpackages (0.1's flat layout), kept importable.

Recorded run folders depend on them: each sweep.py says `from tuner.spec import Sweep`, and Ray Tune's
tuner.pkl names the callbacks and the trial-folder function by the path they had when the run started
(`tuner.progress.ProgressLine`, `tuner.results.trial_dirname`, ...), which --resume unpickles.
`python -m tuner.data`, `tuner.models` and `tuner.tables` keep working the same way. Each old path is the
module it became: `import tuner.spec` returns tuner.sweep.spec itself, not a copy.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

OLD_PATHS = {
    "tuner.spec": "tuner.sweep.spec",
    "tuner.config": "tuner.train.config",
    "tuner.data": "tuner.train.datasets",
    "tuner.models": "tuner.train.models",
    "tuner.optim": "tuner.train.optim",
    "tuner.augment": "tuner.train.augment",
    "tuner.probe": "tuner.train.probe",
    "tuner.plan": "tuner.sweep.budget",
    "tuner.engine": "tuner.sweep.engine",
    "tuner.results": "tuner.sweep.writer",
    "tuner.progress": "tuner.sweep.progress",
    "tuner.lifecycle": "tuner.sweep.lifecycle",
    "tuner.trainable": "tuner.sweep.trainable",
    "tuner.storage": "tuner.sweep.storage",
    "tuner.warm": "tuner.search.warm",
    "tuner.tables": "tuner.replay.packing",
    "tuner.tracking": "tuner.integrations.mlflow_tracking",
}


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """The target module ran when it was imported."""

    def get_code(self, fullname: str):  # noqa: ANN201 - runpy (python -m OLD.PATH) runs the target's code
        return importlib.util.find_spec(self.target).loader.get_code(self.target)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: object = None, target: object = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in OLD_PATHS:
            return None
        new = OLD_PATHS[fullname]
        origin = importlib.util.find_spec(new).origin
        return importlib.machinery.ModuleSpec(fullname, _Alias(new), origin=origin)


def install() -> None:
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.append(_Finder())

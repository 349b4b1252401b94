"""spec.json as every reader sees it (contract: docs/run-folder.md): `RunSpec`, the one reader of the sweep as run,
and `read_spec`, which checks the file before anything reads it.

The sweep writes spec.json with tuner.runfolder.write_json; --resume, warm starts, `tuner rerun` and tuner.analysis
read it here. Plain Python: reading a run folder needs neither torch nor Ray.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner import select
from tuner.errors import UserError
from tuner.runfolder import SPEC_FILE, key_parts, read_json


@dataclass
class RunSpec:
    """spec.json as every reader sees it, with the defaults of a run recorded by an older tuner filled in once."""

    sweep: dict[str, Any] = field(default_factory=dict)  # the Sweep's fields (space described as text)
    fixed_config: dict[str, Any] = field(default_factory=dict)  # TrainConfig values every trial shares
    cli: dict[str, Any] = field(default_factory=dict)  # the command line's changes (re-applied by --resume)
    expected_trials: int | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] | None = None  # the time budget's plan (tuner.sweep.budget)
    rounds: list[int] | None = None  # trials drawn in all after each round (a grown sweep has several)
    mlflow: dict[str, str] | None = None  # the sweep's MLflow parent run
    warm_start: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)  # everything spec.json holds, as read

    @property
    def name(self) -> str:
        return str(self.sweep.get("name") or "")

    @property
    def metric(self) -> str:
        return str(self.sweep.get("metric") or "val_acc")

    @property
    def mode(self) -> str:
        return select.direction(self.metric) if self.metric in select.METRICS else str(self.sweep.get("mode", "max"))

    @property
    def objectives(self) -> list[str]:
        """A multi-objective sweep's metrics, the first its metric; empty for a single-objective sweep."""
        return select.objective_names(self.sweep.get("objectives"))

    @property
    def max_epochs(self) -> int:
        return int(self.sweep.get("max_epochs") or 0)

    @property
    def seeds(self) -> list[int]:
        return list(self.sweep.get("seeds") or [0])

    @property
    def space(self) -> Any:
        return self.sweep.get("space", {})

    @property
    def searched(self) -> list[str] | None:
        """The hyperparameters the space searches; None where spec.json cannot say (a define-by-run space
        recorded before tuner wrote them down)."""
        if "searched" in self.raw:
            return list(self.raw["searched"])
        if isinstance(self.space, dict):
            return sorted({part for key in self.space for part in key_parts(key)})
        return None

    def to_json(self) -> dict[str, Any]:
        return self.raw

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> RunSpec:
        known = {f for f in cls.__dataclass_fields__ if f != "raw"}
        return cls(**{k: v for k, v in raw.items() if k in known}, raw=dict(raw))


SPEC_TYPES = {"sweep": dict, "fixed_config": dict, "cli": dict, "environment": dict, "plan": (dict, type(None)),
              "rounds": (list, type(None)), "mlflow": (dict, type(None)), "warm_start": (dict, type(None))}


def read_spec(run_dir: Path, what: str | None = None, required: tuple[str, ...] = ()) -> RunSpec:
    """spec.json of a run folder; a missing file is an empty RunSpec, an unreadable one (not JSON, an entry of the
    wrong type, a `required` entry missing) a UserError."""
    path = run_dir / SPEC_FILE
    raw = read_json(path, what)
    if raw is None:
        return RunSpec()
    missing = [key for key in required if key not in raw]
    if missing:
        raise UserError(f"{what or path}: {path} has no {', '.join(map(repr, missing))} entry (tuner writes it; "
                        f"was the file edited or cut short?)")
    for key, kind in SPEC_TYPES.items():
        if key in raw and not isinstance(raw[key], kind):
            raise UserError(f"{what or path}: {path}'s {key!r} is {type(raw[key]).__name__}, not what tuner writes")
    return RunSpec.from_json(raw)

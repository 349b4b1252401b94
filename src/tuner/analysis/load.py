"""Read a run folder (contract: docs/run-folder.md) into one RunData, also when the sweep is unfinished.

A finished run has trials.csv, history.csv, best.json and run.json. A sweep that is still
running or was killed has only spec.json, sweep.py and Ray's experiment folder: its trials
are rebuilt from each trial's result.json, and `missing` says what is not there yet.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tuner import select
from tuner.config import trial_values
from tuner.errors import UserError
from tuner.results import FIT_STATUS, HISTORY_COLUMNS, TRIAL_DIR_PREFIX, failure_count


@dataclass
class RunData:
    run_dir: Path
    spec: dict[str, Any]
    trials: pd.DataFrame  # ranked best first, as trials.csv
    history: pd.DataFrame
    best: dict[str, Any] | None
    info: dict[str, Any] | None  # run.json
    missing: list[str] = field(default_factory=list)

    @property
    def sweep(self) -> dict[str, Any]:
        return self.spec.get("sweep", {})

    @property
    def name(self) -> str:
        return self.sweep.get("name") or self.run_dir.name

    @property
    def metric(self) -> str:
        return self.sweep.get("metric", "val_acc")

    @property
    def mode(self) -> str:
        return select.direction(self.metric) if self.metric in select.METRICS else self.sweep.get("mode", "max")

    @property
    def max_epochs(self) -> int:
        return int(self.sweep.get("max_epochs") or max(self.trials["epochs"].max(), 1))

    @property
    def config_columns(self) -> list[str]:
        return [c for c in self.trials.columns if c.startswith("config/")]

    @property
    def usable(self) -> pd.DataFrame:
        return self.trials[~self.trials["status"].isin(select.UNUSABLE)]

    @property
    def finished(self) -> bool:
        return not self.missing


def load_run(run_dir: str | Path) -> RunData:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run folder {run_dir} does not exist")
    markers = [run_dir / name for name in ("spec.json", "trials.csv", "ray")]
    if not any(p.exists() for p in markers):
        raise UserError(f"{run_dir} is not a tuner run folder (no spec.json, trials.csv or ray/)")
    spec = _read_json(run_dir / "spec.json") or {}
    missing = []
    if (run_dir / "trials.csv").exists():
        trials = _read_csv(run_dir / "trials.csv")
        history = _read_csv(run_dir / "history.csv") if (run_dir / "history.csv").exists() else \
            pd.DataFrame(columns=HISTORY_COLUMNS)
    else:
        trials, history = _from_ray(run_dir, spec)
        missing.append("trials.csv and history.csv (the sweep has not finished: trials were read from Ray's "
                       "result files)")
    if trials.empty:
        raise UserError(f"{run_dir}: no trial has reported a result yet")
    best = _read_json(run_dir / "best.json")
    if best is None:
        missing.append("best.json (no configuration chosen or tested yet)")
    info = _read_json(run_dir / "run.json")
    if info is None:
        missing.append("run.json (wall time and what ended the sweep)")
    if not spec:
        missing.append("spec.json (the sweep's settings)")
    return RunData(run_dir, spec, trials, history, best, info, missing)


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON ({exc})") from None


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UserError(f"{path} is not a readable CSV file ({exc})") from None


def _from_ray(run_dir: Path, spec: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trials and history from Ray's per-trial result.json files (JSON lines, one per reported epoch)."""
    sweep = spec.get("sweep", {})
    fixed = spec.get("fixed_config", {})
    metric = sweep.get("metric", "val_acc")
    max_epochs = int(sweep.get("max_epochs", 0) or 0)
    rows, history = [], []
    for result_file in sorted(run_dir.glob(f"ray*/{TRIAL_DIR_PREFIX}*/result.json")):
        records = [json.loads(line) for line in result_file.read_text().splitlines() if line.strip()]
        records = [r for r in records if r.get("epoch", 0) >= 1]
        if not records:
            continue
        trial_id = result_file.parent.name.removeprefix(TRIAL_DIR_PREFIX)
        config = trial_values(records[-1].get("config", {}))
        frame = pd.DataFrame(records).drop_duplicates("epoch", keep="last").reset_index(drop=True)
        best = select.best_epoch(frame, metric)
        if best is None:
            best = frame.iloc[-1]
        last = records[-1]
        status = FIT_STATUS.get(last.get("status"), "RUNNING" if last["epoch"] < max_epochs else "TERMINATED")
        row = {"trial_id": trial_id, "status": status, "epochs": len(frame)}
        row.update({f"config/{k}": _plain(config.get(k)) for k in _searched(sweep, config, fixed)})
        row.update({"val_acc": best["val_acc"], "val_loss": best["val_loss"], "best_epoch": int(best["epoch"]),
                    "train_acc": best["train_acc"], "train_time_s": float(frame["epoch_time_s"].sum()),
                    "seed": config.get("seed", 0), "num_params": last.get("num_params"),
                    "phase": "confirm" if result_file.parent.parent.name.endswith("confirm") else "search",
                    "error": "", "failures": _failures(result_file.parent / "error.txt")})
        rows.append(row)
        history += [{"trial_id": trial_id, **{c: r.get(c) for c in HISTORY_COLUMNS[1:]}}
                    for r in frame.to_dict("records")]
    trials = select.rank_trials(pd.DataFrame(rows), metric)
    return trials, pd.DataFrame(history, columns=HISTORY_COLUMNS)


def _failures(error_file: Path) -> int:
    return failure_count(error_file.read_text()) if error_file.exists() else 0


def _searched(sweep: dict[str, Any], config: dict[str, Any], fixed: dict[str, Any]) -> list[str]:
    space = sweep.get("space")
    keys = {p for k in space for p in k.split("+")} if isinstance(space, dict) else \
        {k for k in config if k not in fixed and k != "seed"}
    if len(sweep.get("seeds", [0])) > 1:
        keys.add("seed")
    return sorted(keys)


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value

"""Read a run folder (contract: docs/run-folder.md) into one RunData, also when the sweep is unfinished.

A finished run has trials.csv, history.csv, best.json and run.json. A sweep that is still
running or was killed has only spec.json, sweep.py and Ray's experiment folder: its trials
are rebuilt from each trial's result.json by the same builder the sweep writes trials.csv with
(tuner.runfolder.trials_table), and `missing` says what is not there yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tuner import runfolder, runspec, select
from tuner.errors import UserError
from tuner.runfolder import BEST_FILE, HISTORY_COLUMNS, HISTORY_FILE, RAY_FOLDER, RUN_FILE, SPEC_FILE, TRIALS_FILE
from tuner.runspec import RunSpec
from tuner.status import UNUSABLE


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
    def saved(self) -> RunSpec:
        return RunSpec.from_json(self.spec)

    @property
    def sweep(self) -> dict[str, Any]:
        return self.spec.get("sweep", {})

    @property
    def name(self) -> str:
        return self.saved.name or self.run_dir.name

    @property
    def metric(self) -> str:
        return self.saved.metric

    @property
    def mode(self) -> str:
        return self.saved.mode

    @property
    def max_epochs(self) -> int:
        return self.saved.max_epochs or int(max(self.trials["epochs"].max(), 1))

    @property
    def config_columns(self) -> list[str]:
        return [c for c in self.trials.columns if c.startswith(select.CONFIG_PREFIX)]

    @property
    def hyperparameters(self) -> list[str]:
        """The config/ columns that identify a configuration: every one but the seed (tuner.select's rule)."""
        return select.config_columns(self.trials)

    @property
    def usable(self) -> pd.DataFrame:
        return self.trials[~self.trials["status"].isin(UNUSABLE)]

    @property
    def finished(self) -> bool:
        return not self.missing

    @property
    def objectives(self) -> list[str]:
        """A multi-objective sweep's metrics (the first its metric); empty for a single-objective sweep."""
        return self.saved.objectives

    @property
    def pareto(self) -> pd.DataFrame:
        """tuner.select.pareto over the sweep's objectives (rule 7); empty for a single-objective sweep."""
        return select.pareto(self.trials, self.objectives) if len(self.objectives) > 1 else pd.DataFrame()


def load_run(run_dir: str | Path) -> RunData:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run folder {run_dir} does not exist")
    markers = [run_dir / name for name in (SPEC_FILE, TRIALS_FILE, RAY_FOLDER)]
    if not any(p.exists() for p in markers):
        raise UserError(f"{run_dir} is not a tuner run folder (no {SPEC_FILE}, {TRIALS_FILE} or {RAY_FOLDER}/)")
    saved = runspec.read_spec(run_dir)
    missing = []
    if (run_dir / TRIALS_FILE).exists():
        trials = runfolder.read_csv(run_dir / TRIALS_FILE)
        history = runfolder.read_csv(run_dir / HISTORY_FILE) if (run_dir / HISTORY_FILE).exists() else \
            pd.DataFrame(columns=HISTORY_COLUMNS)
    else:
        trials, history = _from_ray(run_dir, saved)
        missing.append(f"{TRIALS_FILE} and {HISTORY_FILE} (the sweep has not finished: trials were read from Ray's "
                       "result files)")
    if trials.empty:
        raise UserError(f"{run_dir}: no trial has reported a result yet")
    best = runfolder.read_json(run_dir / BEST_FILE)
    info = runfolder.read_json(run_dir / RUN_FILE)
    nothing_usable = trials[~trials["status"].isin(UNUSABLE)].dropna(subset=[saved.metric]).empty \
        if saved.metric in trials else True
    if best is None and not (info is not None and nothing_usable):  # a finished run with no usable trial has none
        missing.append(f"{BEST_FILE} (no configuration chosen or tested yet)")
    if info is None:
        missing.append(f"{RUN_FILE} (wall time and what ended the sweep)")
    if not saved.raw:
        missing.append(f"{SPEC_FILE} (the sweep's settings)")
    return RunData(run_dir, saved.raw, trials, history, best, info, missing)


def _from_ray(run_dir: Path, saved: RunSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trials and history from Ray's per-trial result.json files, as trials.csv would hold them."""
    records = runfolder.records_from_results(run_dir, saved)
    keys = runfolder.searched_keys(saved.searched, [r.config for r in records] if saved.searched is None else [],
                                   saved.fixed_config, len(saved.seeds))
    trials, history = runfolder.trials_table(records, keys, saved.metric, saved.max_epochs)
    return select.rank_trials(trials, saved.metric), history

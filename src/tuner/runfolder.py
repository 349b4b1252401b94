"""The run folder's vocabulary (contract: docs/run-folder.md): its file names, trials.csv's and history.csv's
columns, the one builder of the trials table, its JSON and CSV files read and written (spec.json's reader, RunSpec,
is tuner.runspec).

The sweep's writer (tuner.sweep.writer) and every reader (tuner.analysis, tuner.replay's tables, warm starts,
`tuner rerun`, --resume) use these names and functions and no literals of their own. Plain Python, numpy and
pandas: reading a run folder needs neither torch nor Ray.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tuner import select
from tuner.errors import UserError
from tuner.status import FitEnd, Status, status_of

if TYPE_CHECKING:
    from tuner.runspec import RunSpec

SWEEP_FILE = "sweep.py"  # the sweep file as run (what --resume executes)
SPEC_FILE = "spec.json"  # the sweep as run: fields, command-line changes, plan, environment
TRIALS_FILE = "trials.csv"
HISTORY_FILE = "history.csv"
BEST_FILE = "best.json"
MODEL_FILE = "best_model.pt"
PREDICTIONS_FILE = "test_predictions.csv"
TEST_LOG = "test_evaluations.jsonl"  # one line each time the test set was read
RUN_FILE = "run.json"
ERRORS_DIR = "errors"
RAY_LOG = "ray_start.log"  # what Ray prints while it starts (its token notice, ...), kept out of the terminal
REPORT_FILE = "report.html"
REPORT_DIR = "report_files"
STUDY_FILE = "optuna.journal"
MLFLOW_FILE = "mlflow.db"
RAY_FOLDER = "ray"  # Ray Tune's experiment of the first search round; ray_confirm for its confirm phase
CONFIRM_FOLDER = "ray_confirm"
TRIAL_DIR_PREFIX = "trial_"  # ray*/trial_<id>/: Ray's result.json, params.json, error.txt and checkpoints
CHECKPOINT_PREFIX = "checkpoint_"  # Ray Tune's checkpoint folders in a trial's folder
RECORDED_FILE = "recorded.json"  # in a checkpoint --resume continues from: the last epoch the run folder records
STATE_FILE = "state.pt"  # inside a trial's checkpoint_*/ folder: the resumable training state
ROUND_MARK = "@"  # phase labels of a grown sweep: "search@2", "confirm@2" (trials.csv: phase, round)
RUNG_KEY = "rung"  # a budgeted search's trial config: the rung it runs at (trials.csv: rung; not a TrainConfig field)
CONTINUED_FROM = "continued_from"  # a budgeted search's promotion by continuation: the trial whose last state it
#                                    continues (trials.csv: continued_from)
CONTINUABLE = "continuable"  # a budgeted trial a promotion may continue: its last checkpoint keeps everything
SEARCH_KEYS = (RUNG_KEY, CONTINUED_FROM, CONTINUABLE)  # what only the search reads in a trial's config
CODE_FOLDER = "code"  # copies of the local packages a sweep ships (--code, Sweep.code): code/<package>/
PAIR_MARK = "+"  # paired hyperparameters: "optimizer+lr": ("sgd", 0.01)
PBT_PATH = "pbt_path"  # trials.csv: the hyperparameter changes of a population-based scheduler (path_text)

HISTORY_COLUMNS = ["trial_id", "epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "epoch_time_s"]
CONFIG_PREFIX = select.CONFIG_PREFIX


# ---------------------------------------------------------------- keys and values


def key_parts(key: str) -> list[str]:
    """The hyperparameters a space key names: "optimizer+lr" -> ["optimizer", "lr"]."""
    return key.split(PAIR_MARK)


def expand_paired(values: dict[str, Any]) -> dict[str, Any]:
    """Paired hyperparameters: {"optimizer+lr": ("sgd", 0.01)} -> {"optimizer": "sgd", "lr": 0.01}."""
    out = {}
    for key, value in values.items():
        parts = key_parts(key)
        if len(parts) > 1:
            out.update(zip(parts, value))
        else:
            out[key] = value
    return out


def trial_values(config: dict[str, Any]) -> dict[str, Any]:
    """A Tune trial's config as plain TrainConfig values: paired keys split, and a confirm-phase trial's `confirm`
    (the configuration it re-runs) merged beside its seed."""
    confirm = config.get("confirm", {})
    rest = {k: v for k, v in config.items() if k != "confirm"}
    return expand_paired({**confirm, **rest})


def training_values(config: dict[str, Any]) -> dict[str, Any]:
    """trial_values without what only the search reads (a budgeted search's rung, and the trial a promotion continues):
    the TrainConfig a trial trains."""
    return {k: v for k, v in trial_values(config).items() if k not in SEARCH_KEYS}


def path_text(path: list[dict[str, Any]]) -> str:
    """A trial's hyperparameter path (train.fit's tracker.path) as one line: "@2 from 3f2a_00001: lr 0.01->0.012;
    @4 ..." (at the end of epoch 2 it took trial 3f2a_00001's state, lr changed from the donor's 0.01 to 0.012)."""
    steps = []
    for step in path:
        changes = ", ".join(f"{k} {_short(v[0])}->{_short(v[1])}" for k, v in step.items() if k not in ("epoch", "from"))
        source = f" from {step['from']}" if step.get("from") else ""
        steps.append(f"@{step['epoch']}{source}: {changes or 'no change'}")
    return "; ".join(steps)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def format_value(value: Any) -> Any:
    """A value as trials.csv writes it: tuples and lists as "a,b"."""
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return value


def plain(value: Any) -> Any:
    """numpy scalars to Python ones; NaN (a hyperparameter this trial's branch of the space skipped) to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def searched_keys(searched: Iterable[str] | None, configs: Iterable[dict[str, Any]], fixed: dict[str, Any],
                  seeds: int) -> list[str]:
    """trials.csv's config/ columns: the hyperparameters the space searches (`searched`: the parts of its keys, or
    what a define-by-run function proposes), and the seed where the sweep has several. For a define-by-run space
    pass the trials' `configs` too: every key a trial set to something other than the fixed value is searched."""
    keys = set(searched or ())
    keys |= {k for c in configs for k, v in c.items()
             if k != "seed" and (k not in fixed or format_value(v) != format_value(fixed[k]))}
    if seeds > 1:
        keys.add("seed")
    return sorted(keys)


# ---------------------------------------------------------------- phases, rounds and trial folders


def round_folders(number: int) -> tuple[str, str]:
    """Ray's experiment folders of a sweep's round (1: the sweep as written; 2, ...: each --resume --num-samples)."""
    return (RAY_FOLDER, CONFIRM_FOLDER) if number == 1 else (f"{RAY_FOLDER}_{number}", f"{CONFIRM_FOLDER}_{number}")


def round_label(phase: str, number: int) -> str:
    return phase if number == 1 else f"{phase}{ROUND_MARK}{number}"


def parse_label(label: str) -> tuple[str, int]:
    """"confirm@2" -> ("confirm", 2)."""
    phase, _, number = label.partition(ROUND_MARK)
    return phase, int(number or 1)


def folder_phase(folder_name: str) -> str:
    """The phase label of a Ray experiment folder of the run: ray -> search, ray_confirm_2 -> confirm@2."""
    rest = folder_name.removeprefix(RAY_FOLDER).lstrip("_")
    phase = "confirm" if rest.startswith("confirm") else "search"
    number = rest.removeprefix("confirm").lstrip("_")
    return round_label(phase, int(number) if number.isdigit() else 1)


def trial_dirname(trial_id: str) -> str:
    return f"{TRIAL_DIR_PREFIX}{trial_id}"


def trial_id_of(folder: str | Path) -> str:
    return Path(folder).name.removeprefix(TRIAL_DIR_PREFIX)


def trial_folders(run_dir: Path, trial_id: str = "*") -> list[Path]:
    """Ray's folders of the run's trials (every round and phase), sorted."""
    return sorted(p for p in run_dir.glob(f"{RAY_FOLDER}*/{trial_dirname(trial_id)}") if p.is_dir())


EXCEPTION_LINE = re.compile(r"[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)(?:\([\w.]+\))?(?::|$)")


def error_line(text: str) -> str:
    """The line of an error that says what went wrong: in a traceback (Ray's error.txt) the last exception's
    `Type: message` line, the first line of its message; in a plain message its first line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    headers = [line for line in lines if EXCEPTION_LINE.match(line)]
    return (headers[-1] if headers else lines[0] if lines else "no message")[:300]


def failure_count(error_txt: str) -> int:
    """Times a trial failed, from Ray's error.txt (one 'Failure # N' block per crash or lost process)."""
    return sum(line.startswith("Failure # ") for line in error_txt.splitlines())


# ---------------------------------------------------------------- the trials table


@dataclass
class TrialRecord:
    """What the trials table needs of one trial, from Ray's Result objects (the writer) or its result.json."""

    trial_id: str
    phase: str  # label: search, confirm, search@2, ...
    config: dict[str, Any]  # plain TrainConfig values (trial_values)
    epochs: pd.DataFrame  # one row per epoch (>= 1) as reported, the last report of an epoch kept
    status: Status
    error: str = ""
    failures: int = 0
    pbt_path: str = ""  # population-based schedulers: path_text of its hyperparameter changes


def epoch_rows(reported: pd.DataFrame | list[dict[str, Any]] | None) -> pd.DataFrame:
    """The reported results of one trial, one row per epoch (a resumed epoch reported twice keeps its last)."""
    frame = pd.DataFrame(reported) if reported is not None else pd.DataFrame()
    if "epoch" not in frame:
        return pd.DataFrame()
    return frame[frame["epoch"] >= 1].drop_duplicates("epoch", keep="last").reset_index(drop=True)


def trials_table(records: list[TrialRecord], keys: list[str], metric: str,
                 max_epochs: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trials, history) as trials.csv and history.csv hold them, trials in the records' order (unranked)."""
    trials, history = [], []
    for record in records:
        epochs, config = record.epochs, record.config
        phase, number = parse_label(record.phase)
        row = {"trial_id": record.trial_id, "status": str(record.status), "epochs": len(epochs)}
        row.update({f"{CONFIG_PREFIX}{k}": format_value(config.get(k)) for k in keys})
        row.update(_best_epoch(epochs, metric))
        row["schedule_epochs"] = config.get("epochs", max_epochs)  # the lr schedule's length
        row["rung"] = config.get(RUNG_KEY)  # budgeted search: the rung (0: the smallest budget); else empty
        row[select.FULL_BUDGET] = row["schedule_epochs"] >= max_epochs  # False: a lower rung, never chosen
        row["train_time_s"] = float(epochs["epoch_time_s"].sum()) if len(epochs) else 0.0
        row["seed"] = config.get("seed", 0)
        row["num_params"] = _last_int(epochs, "num_params")
        row["latency_ms"] = _last_float(epochs, "latency_ms")  # measured once the run ended by itself
        row.update({"phase": phase, "round": number, "error": record.error, "failures": record.failures})
        if record.pbt_path:
            row[PBT_PATH] = record.pbt_path
        if config.get(CONTINUED_FROM):
            row[CONTINUED_FROM] = config[CONTINUED_FROM]
        trials.append(row)
        for epoch in epochs.to_dict("records"):
            history.append({"trial_id": record.trial_id, **{c: epoch.get(c) for c in HISTORY_COLUMNS[1:]}})
    table = pd.DataFrame(trials)
    if "rung" in table:
        table["rung"] = table["rung"].astype("Int64")
    return table, pd.DataFrame(history, columns=HISTORY_COLUMNS)


def _best_epoch(epochs: pd.DataFrame, metric: str) -> dict[str, Any]:
    best = select.best_epoch(epochs, metric)
    if best is None:
        return {"val_acc": math.nan, "val_loss": math.nan, "best_epoch": 0, "train_acc": math.nan}
    return {"val_acc": float(best["val_acc"]), "val_loss": float(best["val_loss"]), "best_epoch": int(best["epoch"]),
            "train_acc": float(best["train_acc"])}


def _last_int(epochs: pd.DataFrame, column: str) -> int | None:
    if not len(epochs) or column not in epochs or pd.isna(epochs[column].iloc[-1]):
        return None
    return int(epochs[column].iloc[-1])


def _last_float(epochs: pd.DataFrame, column: str) -> float:
    values = epochs[column].dropna() if column in epochs else ()
    return float(values.iloc[-1]) if len(values) else math.nan


def records_from_results(run_dir: Path, spec: RunSpec) -> list[TrialRecord]:
    """Every trial of a run folder whose sweep has not written trials.csv (running, or killed), from Ray's
    per-trial result.json (JSON lines, one per report). A trial short of max_epochs is RUNNING: a killed
    sweep's trials cannot be told from running ones."""
    records = []
    for folder in trial_folders(run_dir):
        reports = _json_lines(folder / "result.json")
        epochs = epoch_rows(reports)
        if not len(epochs):
            continue
        last = reports[-1]
        error_file = folder / "error.txt"
        failures = failure_count(error_file.read_text(errors="replace")) if error_file.exists() else 0
        status = status_of(last.get("status"), int(last.get("epoch", 0)), spec.max_epochs, finished=False)
        records.append(TrialRecord(trial_id_of(folder), folder_phase(folder.parent.name),
                                   trial_values(last.get("config", {})), epochs, status,
                                   str(last.get("error", ""))[:300] if last.get("status") == FitEnd.CONFIG_ERROR
                                   else "", failures, str(last.get(PBT_PATH) or "")))
    return records


def _json_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line Ray is writing right now
            break
    return out


# ---------------------------------------------------------------- JSON and CSV files of the run folder


def read_json(path: Path, what: str | None = None) -> dict[str, Any] | None:
    """A JSON object file of the run folder: None if it is missing; a UserError if it is not a JSON object."""
    if not path.exists():
        return None
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{what + ': ' if what else ''}{path} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise UserError(f"{what + ': ' if what else ''}{path} is not a JSON object")
    return value


SECRET_QUERY_KEYS = ("token", "access_token", "key", "api_key", "apikey", "secret", "password", "passwd", "pwd",
                     "sig", "signature", "auth", "credential", "awsaccesskeyid", "x-amz-[a-z0-9-]+",
                     "x-goog-[a-z0-9-]+")
_USERINFO = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@?#]+@")
_SECRET_QUERY = re.compile(rf"([?&;](?:{'|'.join(SECRET_QUERY_KEYS)}))=[^&;\s#\"']*", re.IGNORECASE)


def redact(text: str) -> str:
    """The one redaction of credentials in text tuner records (a command line, a URI): `user:pass@` in a URI and the
    values of known secret query keys (token, key, secret, password, sig, X-Amz-*, ...) become `***`."""
    return _SECRET_QUERY.sub(r"\1=***", _USERINFO.sub(r"\1***@", text))


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(v) for v in value]
    return value


def write_json(path: Path, value: dict[str, Any]) -> None:
    """Write a JSON file whole or not at all (write beside it, then rename): a kill mid-write leaves the old one.
    Every string is redacted first (no credential in spec.json, run.json or anything uploaded)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_redacted(value), indent=2, default=str))
    os.replace(tmp, path)


def read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
        raise UserError(f"{path} is not a readable CSV file ({exc})") from None

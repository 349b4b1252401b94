"""Recorded learning-curve tables: what `tuner.replay` replays searches against.

A table is a finished run folder whose trials ran without a trial scheduler (any grid run: its trials.csv
and history.csv, one or more seeds per point), or the same packed into one compressed file with each
trial's test accuracy:

    python -m tuner.tables pack runs/tables/s4_mnist_lr benchmarks/tables/s4_mnist_lr.tar.gz
    python -m tuner.tables show benchmarks/tables/s4_mnist_lr.tar.gz

Packing reads each trial's best-epoch weights from its last checkpoint and evaluates them on the test set:
a benchmark's ground truth (as in NAS-Bench and LCBench), reported by a replay beside its choices and never
used to make them. DIVERGED and STUCK trials stay in a table and replay as they ended; trials that a trial
scheduler, the time budget or Ctrl-C cut short, crashed trials and missing epochs make it unusable.
"""

from __future__ import annotations

import io
import json
import math
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tuner import select
from tuner.errors import UserError
from tuner.runfolder import HISTORY_FILE, RUN_FILE, SPEC_FILE, SWEEP_FILE, TRIALS_FILE
from tuner.status import ENDED_BY_ITSELF as REPLAYABLE  # a table holds whole curves only
from tuner.status import Status

TEST_FILE = "test.csv"  # a packed table's test accuracy per trial
PACKED_FILES = (SPEC_FILE, SWEEP_FILE, TRIALS_FILE, HISTORY_FILE, TEST_FILE, RUN_FILE)
CURVE_COLUMNS = ("val_acc", "val_loss", "train_loss", "train_acc", "lr", "epoch_time_s")


@dataclass
class Curve:
    """One recorded trial: per-epoch values, how it ended, its test accuracy (packed tables)."""

    trial_id: str
    seed: int
    status: str
    epochs: list[dict[str, float]]
    test_acc: float = math.nan

    @property
    def length(self) -> int:
        return len(self.epochs)

    def best(self, metric: str) -> float:
        return select.best_value((e[metric] for e in self.epochs), metric)


@dataclass
class Point:
    """One configuration of the table with its curves per seed."""

    values: dict[str, Any]  # searched hyperparameter -> value (no seed)
    curves: dict[int, Curve] = field(default_factory=dict)
    mean: float = math.nan  # mean over seeds of the metric at each curve's best epoch (usable seeds)
    test_mean: float = math.nan

    @property
    def usable(self) -> bool:
        return not math.isnan(self.mean)


@dataclass
class Table:
    name: str
    source: str
    spec: dict[str, Any]
    trials: pd.DataFrame
    history: pd.DataFrame
    keys: list[str]  # searched hyperparameters (without the seed)
    metric: str
    max_epochs: int
    seeds: list[int]
    points: dict[tuple, Point]
    has_test: bool

    @property
    def sweep(self) -> dict[str, Any]:
        return self.spec.get("sweep", {})

    @property
    def trial_epochs(self) -> int:
        return int(self.trials["epochs"].sum())

    @property
    def best(self) -> Point:
        """The configuration tuner chooses when it has the whole table (tuner.select's rules)."""
        return self.points[self._best_key]

    def point_key(self, values: dict[str, Any]) -> tuple:
        return tuple(_norm(values.get(k)) for k in self.keys)

    def lookup(self, config: dict[str, Any]) -> Point:
        """The recorded point for a configuration: categories must match; a number the table lacks maps to the
        nearest recorded one (on a log scale where the recorded values span more than a factor of 10). A
        hyperparameter the configuration does not set (a conditional space skipped it, or it follows from
        another, as gamma from the scheduler) takes whatever the matching points recorded, TrainConfig's
        default where there is a choice."""
        candidates = list(self.points.values())
        given = [k for k in self.keys if config.get(k) is not None]
        order = sorted(given, key=lambda k: _is_number(config[k])) + [k for k in self.keys if k not in given]
        for key in order:
            recorded = {_norm(p.values.get(key)) for p in candidates}
            if key not in given:
                default = _norm(_default(key))
                chosen = default if default in recorded else sorted(recorded, key=str)[0]
            elif _is_number(config[key]) and all(v is None or _is_number(v) for v in recorded) and \
                    any(v is not None for v in recorded):
                numbers = sorted(v for v in recorded if v is not None)
                chosen = min(numbers, key=lambda v: _distance(float(config[key]), v, numbers))
            else:
                chosen = _norm(config[key])
                if chosen not in recorded:
                    raise UserError(f"table {self.name} has no trial with {key}={config[key]!r} "
                                    f"(recorded: {', '.join(sorted(map(str, recorded)))})")
            candidates = [p for p in candidates if _norm(p.values.get(key)) == chosen]
        return candidates[0]

    def searched_space(self) -> dict[str, Any]:
        """A Ray Tune space over the table: a choice per categorical hyperparameter (and numbers with 3 values
        or fewer), a range over the others (log-uniform where they span more than a factor of 10). Hyperparameters
        that follow from the others in every recorded point (gamma from the scheduler) are left out."""
        from ray import tune

        space = {}
        followers = self._followers()
        for key in self.keys:
            if key in followers:
                continue
            values = sorted({_norm(p.values.get(key)) for p in self.points.values()} - {None}, key=str)
            if not values:
                continue
            if len(values) <= 3 or not all(_is_number(v) for v in values):
                space[key] = tune.choice(values)
                continue
            low, high = min(values), max(values)
            integers = all(float(v).is_integer() for v in values)
            log = low > 0 and high / low > 10
            if integers:
                space[key] = tune.lograndint(int(low), int(high) + 1) if log else tune.randint(int(low), int(high) + 1)
            else:
                space[key] = tune.loguniform(low, high) if log else tune.uniform(low, high)
        return space

    def grid_space(self) -> dict[str, Any]:
        """The table itself as one paired grid_search (every recorded point)."""
        from ray import tune

        points = [tuple(p.values.get(k) for k in self.keys) for p in self.points.values()]
        if len(self.keys) == 1:
            return {self.keys[0]: tune.grid_search([point[0] for point in points])}
        return {"+".join(self.keys): tune.grid_search(points)}

    def _followers(self) -> set[str]:
        """Hyperparameters whose recorded value follows from the others searched (gamma from the scheduler; where
        two follow each other, as momentum .9 only with SGD, the number goes and the category stays)."""
        searched = list(self.keys)
        numbers_first = sorted(self.keys, key=lambda k: not any(_is_number(_norm(p.values.get(k)))
                                                               for p in self.points.values()))
        for key in numbers_first:
            others = [k for k in searched if k != key]
            seen: dict[tuple, set] = {}
            for point in self.points.values():
                seen.setdefault(tuple(_norm(point.values.get(k)) for k in others), set()).add(
                    _norm(point.values.get(key)))
            if len(self.points) > 1 and all(len(v) == 1 for v in seen.values()):
                searched.remove(key)
        return set(self.keys) - set(searched)

    # filled by load()
    _best_key: tuple = ()


def _norm(value: Any) -> Any:
    """One representation per value: NaN and None are missing, numpy scalars become Python ones."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return value  # keep floats as floats (lr 1.0 stays 1.0)
    return value


def _default(key: str) -> Any:
    """A hyperparameter a conditional space did not propose takes TrainConfig's default (momentum 0 for Adam)."""
    from tuner.train.config import TrainConfig

    return getattr(TrainConfig(), key, None)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(float(value))


def _distance(wanted: float, value: float, recorded: list[float]) -> float:
    low, high = min(recorded), max(recorded)
    if low > 0 and high / low > 10 and wanted > 0:
        return abs(math.log(wanted) - math.log(value))
    return abs(wanted - value)


# ---------------------------------------------------------------- loading


def load(location: str | Path) -> Table:
    """A run folder or a packed .tar.gz; raises UserError saying why it cannot be replayed."""
    path = Path(location)
    if not path.exists():
        raise UserError(f"table {path} does not exist")
    files = _read_packed(path) if path.is_file() else read_folder(path)
    for name in (SPEC_FILE, TRIALS_FILE, HISTORY_FILE):
        if name not in files:
            raise UserError(f"{path} is not a table: no {name} (a finished run folder or a packed .tar.gz)")
    spec = json.loads(files[SPEC_FILE])
    trials = pd.read_csv(io.StringIO(files[TRIALS_FILE]))
    history = pd.read_csv(io.StringIO(files[HISTORY_FILE]))
    test = pd.read_csv(io.StringIO(files[TEST_FILE])) if TEST_FILE in files else None
    return _build(path, spec, trials, history, test)


def read_folder(path: Path) -> dict[str, str]:
    return {name: (path / name).read_text() for name in PACKED_FILES if (path / name).is_file()}


def _read_packed(path: Path) -> dict[str, str]:
    try:
        with tarfile.open(path) as tar:
            return {Path(m.name).name: tar.extractfile(m).read().decode() for m in tar.getmembers()
                    if m.isfile() and Path(m.name).name in PACKED_FILES}
    except (tarfile.TarError, OSError) as exc:
        raise UserError(f"{path} is not a readable table archive: {exc}") from None


def _build(path: Path, spec: dict[str, Any], trials: pd.DataFrame, history: pd.DataFrame,
           test: pd.DataFrame | None) -> Table:
    sweep = spec.get("sweep", {})
    name = sweep.get("name") or path.name.split(".")[0]
    if sweep.get("trial_scheduler", "none") != "none":
        raise UserError(f"table {path}: its trials ran under trial_scheduler={sweep.get('trial_scheduler')!r}; a "
                        "table needs every trial's whole curve (record it with trial_scheduler='none')")
    cut = trials[~trials["status"].isin(REPLAYABLE)]
    if len(cut):
        row = cut.iloc[0]
        raise UserError(f"table {path}: trial {row['trial_id']} is {row['status']}; a table replays only trials that "
                        f"ended by themselves ({', '.join(sorted(REPLAYABLE))}); resume or re-run the sweep")
    metric = sweep.get("metric", "val_acc")
    max_epochs = int(sweep.get("max_epochs") or trials["epochs"].max())
    keys = [c.removeprefix("config/") for c in select.config_columns(trials)]
    tests = dict(zip(test["trial_id"].astype(str), test["test_acc"])) if test is not None else {}
    by_trial = {str(tid): frame.sort_values("epoch") for tid, frame in history.groupby("trial_id")}
    points: dict[tuple, Point] = {}
    trials = trials.sort_values("trial_id", kind="stable").reset_index(drop=True)  # the order Tune generated them
    for _, row in trials.iterrows():
        trial_id = str(row["trial_id"])
        frame = by_trial.get(trial_id)
        epochs = [] if frame is None else frame["epoch"].astype(int).tolist()
        if epochs != list(range(1, int(row["epochs"]) + 1)) or not epochs:
            raise UserError(f"table {path}: trial {trial_id} has epochs {epochs[:3]}{'...' if len(epochs) > 3 else ''}"
                            f" in history.csv but {int(row['epochs'])} in trials.csv: a missing epoch")
        if row["status"] == Status.TERMINATED and len(epochs) != max_epochs:
            raise UserError(f"table {path}: trial {trial_id} is TERMINATED after {len(epochs)} of {max_epochs} epochs")
        values = {k: _norm(row[f"config/{k}"]) for k in keys}
        key = tuple(values[k] for k in keys)
        point = points.setdefault(key, Point(values))
        seed = int(row.get("seed", 0))
        if seed in point.curves:
            continue  # the same configuration and seed twice: one seed of evidence (tuner.select)
        records = frame[["epoch", *CURVE_COLUMNS]].to_dict("records")
        point.curves[seed] = Curve(trial_id, seed, row["status"], records, float(tests.get(trial_id, math.nan)))
    table = Table(name, str(path), spec, trials, history, keys, metric, max_epochs,
                  sorted({s for p in points.values() for s in p.curves}), points, test is not None)
    _score(table)
    return table


def _score(table: Table) -> None:
    scores = [select.TrialScore(curve.trial_id, repr(key), seed, curve.status, curve.best(table.metric))
              for key, point in table.points.items() for seed, curve in point.curves.items()]
    ranked = select.score_configurations(scores, table.metric)
    if not ranked:
        raise UserError(f"table {table.source}: no usable trial (all diverged or got stuck)")
    by_repr = {repr(key): key for key in table.points}
    for config in ranked:
        point = table.points[by_repr[config.configuration]]
        point.mean = config.mean
        usable = [point.curves[s] for s in point.curves if point.curves[s].trial_id in config.trial_ids]
        point.test_mean = float(np.mean([c.test_acc for c in usable])) if usable else math.nan
    table._best_key = by_repr[ranked[0].configuration]


# ---------------------------------------------------------------- budgeted tables


def load_budgets(full: Table, locations: list[str]) -> dict[int, Table]:
    """A budgeted table: ordinary tables of `full`'s grid recorded at smaller max_epochs (each trial's schedule laid
    over its own epochs), by budget. Each must hold the same configurations, seeds, data, model and fixed settings
    as `full`; raises UserError naming the first difference."""
    budgets: dict[int, Table] = {}
    for location in locations:
        short = load(location)
        where = f"budgeted table {short.source}"
        if short.max_epochs >= full.max_epochs:
            raise UserError(f"{where}: {short.max_epochs} epochs is not a budget below the full table's "
                            f"{full.max_epochs}")
        if short.max_epochs in budgets:
            raise UserError(f"{where}: a second table at {short.max_epochs} epochs "
                            f"(also {budgets[short.max_epochs].source})")
        for what in ("data", "model", "metric"):
            if short.sweep.get(what) != full.sweep.get(what):
                raise UserError(f"{where}: {what} {short.sweep.get(what)!r}, the full table's is "
                                f"{full.sweep.get(what)!r}: not the same grid")
        if _settings(short) != _settings(full):
            differ = sorted(k for k in set(_settings(short)) | set(_settings(full))
                            if _settings(short).get(k) != _settings(full).get(k))
            raise UserError(f"{where}: fixed setting {differ[0]!r} differs from the full table's: not the same grid")
        if short.keys != full.keys or set(short.points) != set(full.points):
            missing = sorted(map(str, set(full.points) - set(short.points)))
            raise UserError(f"{where}: not the same grid as {full.source} (searched {', '.join(short.keys)} "
                            f"against {', '.join(full.keys)}" + (f"; missing {missing[0]}" if missing else "") + ")")
        if short.seeds != full.seeds:
            raise UserError(f"{where}: seeds {short.seeds}, the full table's are {full.seeds}")
        budgets[short.max_epochs] = short
    return budgets


def _settings(table: Table) -> dict[str, Any]:
    """The fixed settings of a table's sweep that must match across budgets (the ones laid over the budget aside)."""
    return {k: v for k, v in (table.sweep.get("fixed") or {}).items()
            if k not in ("epochs", "schedule_for", "step_size", "cycle_epochs")}


# ---------------------------------------------------------------- describing


def describe(table: Table) -> str:
    best = table.best
    lines = [f"table {table.name} ({table.source}): {len(table.points)} configurations x {len(table.seeds)} seeds "
             f"{table.seeds}, {len(table.trials)} trials, {table.trial_epochs} trial-epochs, up to {table.max_epochs} "
             f"epochs, metric {table.metric}",
             f"  searched: {', '.join(table.keys)}",
             "  best: " + ", ".join(f"{k}={v}" for k, v in best.values.items()) +
             f"  mean {table.metric} {best.mean:.4f}" + (f", test {best.test_mean:.4f}" if table.has_test else ""),
             "  statuses: " + ", ".join(f"{n} {s}" for s, n in table.trials["status"].value_counts().items())]
    return "\n".join(lines)

"""Writing the run folder (contract: docs/run-folder.md): trials.csv, history.csv, best.json, best_model.pt,
test_predictions.csv, test_evaluations.jsonl, run.json, errors/.

Which configuration is chosen is tuner.select's decision; the chosen model is evaluated on the test set
here, once.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tuner import select, train
from tuner.config import trial_values
from tuner.data import Dataset
from tuner.lifecycle import TrialEnds
from tuner.spec import Sweep, sample_define_by_run
from tuner.trainable import CONFIG_ERROR, load_state

HISTORY_COLUMNS = ["trial_id", "epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "epoch_time_s"]
FIT_STATUS = {"diverged": "DIVERGED", "stuck": "STUCK", "early_stopped": "STOPPED_EARLY", "completed": "TERMINATED",
              CONFIG_ERROR: "ERROR"}
UNFINISHED = {"interrupted": "INTERRUPTED", "time_budget": "STOPPED_BY_BUDGET"}  # by what ended the sweep
STATUSES = ("TERMINATED", "STOPPED_EARLY", "STOPPED_BY_BUDGET", "INTERRUPTED", "DIVERGED", "STUCK", "ERROR")
TRIAL_DIR_PREFIX = "trial_"
TEST_LOG = "test_evaluations.jsonl"
ROUND_MARK = "@"  # phase labels of a grown sweep: "search@2", "confirm@2" (trials.csv: phase, round)


def trial_dirname(trial: Any) -> str:
    """Trial folders are named by trial id, so a Result's path names its trial."""
    return f"{TRIAL_DIR_PREFIX}{trial.trial_id}"


def trial_id_of(result: Any) -> str:
    return Path(result.path).name.removeprefix(TRIAL_DIR_PREFIX)


def trial_status(result: Any, max_epochs: int, cut_off: str | None = None) -> str:
    """A trial's status from its last result; `cut_off` is the status of a trial that was still running when the
    sweep stopped (INTERRUPTED, STOPPED_BY_BUDGET), None when it ended by itself or by its trial scheduler."""
    if result.error is not None:
        return "ERROR"
    last = result.metrics or {}
    fit_status = last.get("status", "running")
    if fit_status in FIT_STATUS:
        return FIT_STATUS[fit_status]
    if cut_off:
        return cut_off
    return "STOPPED_EARLY" if last.get("training_iteration", 0) < max_epochs else "TERMINATED"


def format_value(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return value


def searched_keys(sweep: Sweep, configs: list[dict[str, Any]]) -> list[str]:
    if isinstance(sweep.space, dict):
        keys = {part for key in sweep.space for part in key.split("+")}
    else:  # Tune configs hold the fixed values too: a key is searched if the space names it or a trial changed it
        fixed = sweep.fixed_config()
        keys = {k for c in configs for k, v in c.items()
                if k != "seed" and (k not in fixed or format_value(v) != format_value(fixed[k]))}
        keys |= {k for sample in sample_define_by_run(sweep.space, 32, sweep.search_seed) for k in sample}
    if len(sweep.seeds) > 1:
        keys.add("seed")
    return sorted(keys)


def collect(grids: list[tuple[str, Any]], sweep: Sweep, ended_by: str = "completed",
            ends: dict[str, TrialEnds] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """(trials, history, results by trial id) from Tune ResultGrids, one per phase (search, confirm);
    trials that never started are left out. Trials still running when the sweep stopped (Ctrl-C, the time
    budget: each phase's TrialEnds in `ends` knows which) get the status UNFINISHED[ended_by]."""
    phases = {trial_id_of(r): (phase, r) for phase, grid in grids for r in grid if _started(r)}
    configs = {tid: trial_values(r.config or {}) for tid, (_, r) in phases.items()}
    keys = searched_keys(sweep, list(configs.values()))
    cut_off = UNFINISHED.get(ended_by)
    trials, history = [], []
    for trial_id, (label, result) in sorted(phases.items()):
        phase, _, round_number = label.partition(ROUND_MARK)
        frame = result.metrics_dataframe if result.metrics_dataframe is not None else pd.DataFrame()
        epochs = frame[frame["epoch"] >= 1].drop_duplicates("epoch", keep="last") if "epoch" in frame \
            else pd.DataFrame()
        watch = (ends or {}).get(label)
        unfinished = cut_off if watch is not None and watch.unfinished(trial_id) else None
        row = {"trial_id": trial_id, "status": trial_status(result, sweep.max_epochs, unfinished),
               "epochs": len(epochs)}
        row.update({f"config/{k}": format_value(configs[trial_id].get(k)) for k in keys})
        row.update(_best_epoch(epochs, sweep.metric))
        row["schedule_epochs"] = configs[trial_id].get("epochs", sweep.max_epochs)  # the lr schedule's length
        row["train_time_s"] = float(epochs["epoch_time_s"].sum()) if len(epochs) else 0.0
        row["seed"] = configs[trial_id].get("seed", 0)
        row["num_params"] = int(epochs["num_params"].iloc[-1]) if len(epochs) else None
        row["phase"] = phase
        row["round"] = int(round_number or 1)
        row["error"] = _error_text(result)
        row["failures"] = failures(result)
        trials.append(row)
        for record in epochs.to_dict("records"):
            history.append({"trial_id": trial_id, **{c: record.get(c) for c in HISTORY_COLUMNS[1:]}})
    results = {tid: r for tid, (_, r) in phases.items()}
    return pd.DataFrame(trials), pd.DataFrame(history, columns=HISTORY_COLUMNS), results


def confirm_pairs(grids: list[tuple[str, Any]], sweep: Sweep, count: int) -> list[dict[str, Any]]:
    """What a confirm phase runs: the best `count` configurations of the search phases (tuner.select, on the search
    seed), each with the seeds it has not run on yet, as full configurations with their seed."""
    trials, _, by_id = collect(grids, sweep)
    searched = trials[trials["phase"] == "search"] if len(trials) else trials
    everything = {c.configuration: c for c in select.configurations(trials, sweep.metric)}
    pairs = []
    for best in select.top_configurations(searched, sweep.metric, count):
        config = {k: v for k, v in trial_values(by_id[best.best_trial_id].config).items() if k != "seed"}
        members = everything[best.configuration].all_trial_ids
        ran = {int(s) for s in trials.loc[trials["trial_id"].isin(members), "seed"]}
        pairs += [{**config, "seed": seed} for seed in sweep.seeds if seed not in ran]
    return pairs


def _error_text(result: Any) -> str:
    if result.error is not None:
        return _first_line(result.error)
    last = result.metrics or {}
    return str(last.get("error", ""))[:300] if last.get("status") == CONFIG_ERROR else ""


def failures(result: Any) -> int:
    """Times the trial failed (raised, or its process or node died), from Tune's error.txt in the trial folder:
    Tune retries a trial from its last checkpoint up to max_failures times, then records it as ERROR."""
    try:
        with result.filesystem.open_input_stream(f"{result.path}/error.txt") as stream:
            text = stream.read().decode(errors="replace")
    except (FileNotFoundError, OSError):
        return 0
    return failure_count(text)


def failure_count(error_txt: str) -> int:
    return sum(line.startswith("Failure # ") for line in error_txt.splitlines())


def _started(result: Any) -> bool:
    return result.error is not None or bool((result.metrics or {}).get("training_iteration"))


def _best_epoch(epochs: pd.DataFrame, metric: str) -> dict[str, Any]:
    best = select.best_epoch(epochs, metric)
    if best is None:
        return {"val_acc": math.nan, "val_loss": math.nan, "best_epoch": 0, "train_acc": math.nan}
    return {"val_acc": float(best["val_acc"]), "val_loss": float(best["val_loss"]), "best_epoch": int(best["epoch"]),
            "train_acc": float(best["train_acc"])}


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(error).__name__


def evaluate_chosen(result: Any, dataset: Dataset, device: str = "auto") -> tuple[train.Evaluation, dict[str, Any]]:
    """Load the trial's best-epoch weights from its latest checkpoint and evaluate them on the test set once."""
    state = load_state(result.checkpoint)
    model, normalizer, cfg = train.load_model(state, dataset.image_shape, device)
    evaluation = train.evaluate_split(model, normalizer, cfg, dataset.x_test, dataset.y_test, dataset.num_classes,
                                      device)
    return evaluation, state


def write(run_dir: Path, sweep: Sweep, grids: list[tuple[str, Any]], dataset: Dataset, run_info: dict[str, Any],
          device: str = "auto", ends: dict[str, TrialEnds] | None = None) -> dict[str, Any]:
    """Write trials.csv, history.csv and errors/; unless the sweep was interrupted, choose a configuration and
    evaluate it on the test set (best.json, best_model.pt, test_predictions.csv); then run.json."""
    trials, history, results = collect(grids, sweep, run_info["ended_by"], ends)
    ranked = select.rank_trials(trials, sweep.metric)
    ranked.to_csv(run_dir / "trials.csv", index=False)
    history.to_csv(run_dir / "history.csv", index=False)
    _write_errors(run_dir, results)
    best = None
    if run_info["ended_by"] != "interrupted":
        choice = select.choose(trials, sweep.metric)
        if choice is not None:
            best = _write_best(run_dir, sweep, choice, results[choice.trial["trial_id"]], dataset, device)
    counts = trials["status"].value_counts().to_dict() if len(trials) else {}
    run_info = {**run_info, "trials_by_status": counts, "trials": len(trials),
                "trial_epochs": int(trials["epochs"].sum()) if len(trials) else 0}
    (run_dir / "run.json").write_text(json.dumps(run_info, indent=2, default=str))
    return {"trials": ranked, "best": best, "run": run_info}


def _write_errors(run_dir: Path, results: dict[str, Any]) -> None:
    errored = {tid: r for tid, r in results.items() if r.error is not None or _error_text(r)}
    if not errored:
        return
    folder = run_dir / "errors"
    folder.mkdir(exist_ok=True)
    for trial_id, result in errored.items():
        (folder / f"{trial_id}.txt").write_text(str(result.error) if result.error is not None else _error_text(result))


def _write_best(run_dir: Path, sweep: Sweep, choice: select.Choice, result: Any, dataset: Dataset,
                device: str) -> dict[str, Any]:
    """best.json for the chosen trial. The test set is read once per chosen trial: a resumed sweep that chooses the
    same trial again keeps the evaluation it has (test_evaluations.jsonl logs every evaluation)."""
    chosen = choice.trial
    checkpoint = str(result.checkpoint.path) if result.checkpoint else None
    previous = _read_json(run_dir / "best.json")
    if previous and previous.get("trial_id") == chosen["trial_id"] and previous.get("checkpoint") == checkpoint \
            and (run_dir / previous.get("model_file", "best_model.pt")).exists():
        test = {k: previous[k] for k in ("test_acc", "test_loss", "per_class_acc", "confusion_matrix", "classes",
                                          "evaluation")}
        config = previous["config"]
    else:
        evaluation, state = evaluate_chosen(result, dataset, device)
        torch.save(state["best_model"], run_dir / "best_model.pt")
        pd.DataFrame({"index": np.arange(len(dataset.y_test)), "label": dataset.y_test,
                      "prediction": evaluation.predictions}).to_csv(run_dir / "test_predictions.csv", index=False)
        number = _log_evaluation(run_dir, chosen["trial_id"], checkpoint, evaluation.acc)
        test = {"test_acc": evaluation.acc, "test_loss": evaluation.loss, "per_class_acc": evaluation.per_class_acc,
                "confusion_matrix": evaluation.confusion, "classes": dataset.classes, "evaluation": number}
        config = state["config"]
    searched = {k.removeprefix("config/"): _plain(v) for k, v in chosen.items() if k.startswith("config/")}
    best = {
        "trial_id": chosen["trial_id"], "status": chosen["status"], "metric": sweep.metric, "mode": sweep.direction,
        "val_acc": float(chosen["val_acc"]), "val_loss": float(chosen["val_loss"]),
        "best_epoch": int(chosen["best_epoch"]), "epochs": int(chosen["epochs"]), "searched": searched,
        "config": config, "num_params": _plain(chosen.get("num_params")), "seeds": choice.to_json(),
        "selection": f"tuner.select: best mean validation {sweep.metric} over seeds among the configurations run on "
                     f"the most seeds; the weights of the best epoch by {sweep.metric}; test set evaluated once, "
                     "afterwards",
        **test, "checkpoint": checkpoint, "model_file": "best_model.pt",
    }
    (run_dir / "best.json").write_text(json.dumps(best, indent=2))
    return best


def _log_evaluation(run_dir: Path, trial_id: str, checkpoint: str | None, test_acc: float) -> int:
    """Append one line per reading of the test set; returns this evaluation's number (1 for the first)."""
    log = run_dir / TEST_LOG
    number = len(log.read_text().splitlines()) + 1 if log.exists() else 1
    with log.open("a") as out:
        out.write(json.dumps({"evaluation": number, "trial_id": trial_id, "checkpoint": checkpoint,
                              "test_acc": test_acc, "at": datetime.now().isoformat(timespec="seconds")}) + "\n")
    return number


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _plain(value: Any) -> Any:
    """numpy scalars to Python ones; NaN (a hyperparameter this trial's branch of the space skipped) to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def ranking_table(trials: pd.DataFrame, metric: str = "val_acc", top: int = 10) -> str:
    """Top-k configurations for the terminal, in tuner.select's order: searched values, the metric (mean ± std over
    seeds where there are several), seeds, epochs, statuses."""
    if trials.empty:
        return "no trial reported a result"
    table = select.ranking(trials, metric).head(top)
    config_cols = select.config_columns(trials)
    header = ["#", *[c.removeprefix("config/") for c in config_cols], metric, "seeds", "epochs", "status"]
    rows = [[str(i + 1), *[_short(r[c]) for c in config_cols], _metric_text(r, metric), str(r["seeds"]),
             str(r["epochs"]), r["status"]] for i, (_, r) in enumerate(table.iterrows())]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def _metric_text(row: pd.Series, metric: str) -> str:
    mean, std = row[f"{metric} mean"], row[f"{metric} std"]
    if pd.isna(mean):
        return "-"
    show = (lambda v: f"{v:.2%}") if metric.endswith("acc") else (lambda v: f"{v:.4f}")
    return f"{show(mean)} ± {show(std)}" if not pd.isna(std) else show(mean)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)

"""Writing the run folder (contract: docs/run-folder.md): trials.csv, history.csv, best.json, best_model.pt,
test_predictions.csv, test_evaluations.jsonl, run.json, errors/.

The trials table is tuner.runfolder's (the same builder reads a running sweep's folder); which configuration
is chosen is tuner.select's decision; the chosen model is evaluated on the test set here, once.
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

from tuner import runfolder, select
from tuner.runfolder import BEST_FILE, ERRORS_DIR, MODEL_FILE, PREDICTIONS_FILE, TEST_LOG, TrialRecord
from tuner.search.population import POPULATION_SCHEDULERS
from tuner.status import CUT_OFF, FitEnd, Status, SweepEnd, status_of
from tuner.status import counts as status_counts
from tuner.sweep.lifecycle import TrialEnds
from tuner.sweep.spec import Sweep
from tuner.sweep.trainable import load_state
from tuner.train import evaluation as evaluate_lib
from tuner.train.data import Dataset


def trial_dirname(trial: Any) -> str:
    """Tune's trial_dirname_creator: trial folders are named by trial id, so a Result's path names its trial."""
    return runfolder.trial_dirname(trial.trial_id)


def trial_id_of(result: Any) -> str:
    return runfolder.trial_id_of(result.path)


def trial_status(result: Any, max_epochs: int, cut_off: Status | None = None) -> Status:
    """A trial's status from the last result it recorded (result.json: Ray's own last result is its snapshot's, which
    a driver killed just after a trial's last epoch left behind it); `cut_off`: the status of a trial still running
    when the sweep stopped."""
    last = last_recorded(result)
    epoch = last.get("epoch", last.get("training_iteration"))
    return status_of(last.get("status"), int(epoch) if pd.notna(epoch) else 0, max_epochs,
                     errored=result.error is not None, cut_off=cut_off)


def last_recorded(result: Any) -> dict[str, Any]:
    frame = result.metrics_dataframe
    if frame is None or not len(frame):
        return result.metrics or {}
    return {k: v for k, v in frame.iloc[-1].to_dict().items() if not (isinstance(v, float) and math.isnan(v))}


def searched_keys(sweep: Sweep, configs: list[dict[str, Any]]) -> list[str]:
    """trials.csv's config/ columns for this sweep (tuner.runfolder.searched_keys)."""
    return runfolder.searched_keys(sweep.searched_names(), configs if callable(sweep.space) else [],
                                   sweep.fixed_config(), len(sweep.seeds))


def collect(grids: list[tuple[str, Any]], sweep: Sweep, ended_by: str = SweepEnd.COMPLETED,
            ends: dict[str, TrialEnds] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """(trials, history, results by trial id) from Tune ResultGrids, one per phase (search, confirm);
    trials that never started are left out. Trials still running when the sweep stopped (Ctrl-C, the time
    budget: each phase's TrialEnds in `ends` knows which) get the status CUT_OFF[ended_by]."""
    phases = {trial_id_of(r): (phase, r) for phase, grid in grids for r in grid if _started(r)}
    configs = {tid: runfolder.trial_values(r.config or {}) for tid, (_, r) in phases.items()}
    cut_off = CUT_OFF.get(SweepEnd(ended_by)) if ended_by in set(SweepEnd) else None
    records = []
    for trial_id, (label, result) in sorted(phases.items()):
        watch = (ends or {}).get(label)
        unfinished = cut_off if watch is not None and watch.unfinished(trial_id) else None
        epochs, path = _epochs_and_path(result, sweep)
        records.append(TrialRecord(trial_id, label, configs[trial_id], epochs,
                                   trial_status(result, sweep.max_epochs, unfinished), _error_text(result),
                                   failures(result), path))
    keys = searched_keys(sweep, list(configs.values()))
    trials, history = runfolder.trials_table(records, keys, sweep.metric, sweep.max_epochs)
    return trials, history, {tid: r for tid, (_, r) in phases.items()}


def _epochs_and_path(result: Any, sweep: Sweep) -> tuple[pd.DataFrame, str]:
    """A trial's epochs as it reported them; under a population-based scheduler, its model's lineage from its last
    checkpoint: the epochs of the trials it copied, up to each copy, then its own (their best epoch is the one
    whose weights the checkpoint holds), and its hyperparameter path."""
    if sweep.trial_scheduler not in POPULATION_SCHEDULERS or result.checkpoint is None:
        return runfolder.epoch_rows(result.metrics_dataframe), ""
    tracker = load_state(result.checkpoint)["tracker"]
    return runfolder.epoch_rows(tracker["history"]), runfolder.path_text(tracker.get("path", []))


def confirm_pairs(grids: list[tuple[str, Any]], sweep: Sweep, count: int) -> list[dict[str, Any]]:
    """What a confirm phase runs: the best `count` configurations of the search phases (tuner.select, on the search
    seed), each with the seeds it has not run on yet, as full configurations with their seed."""
    trials, _, by_id = collect(grids, sweep)
    searched = trials[trials["phase"] == "search"] if len(trials) else trials
    everything = {c.configuration: c for c in select.configurations(trials, sweep.metric)}
    pairs = []
    for best in select.top_configurations(searched, sweep.metric, count):
        config = {k: v for k, v in runfolder.training_values(by_id[best.best_trial_id].config).items() if k != "seed"}
        members = everything[best.configuration].all_trial_ids
        ran = {int(s) for s in trials.loc[trials["trial_id"].isin(members), "seed"]}
        pairs += [{**config, "seed": seed} for seed in sweep.confirm_seeds if seed not in ran]
    return pairs


def _error_text(result: Any) -> str:
    if result.error is not None:
        return runfolder.error_line(str(result.error).strip() or type(result.error).__name__)
    last = result.metrics or {}
    return str(last.get("error", ""))[:300] if last.get("status") == FitEnd.CONFIG_ERROR else ""


def failures(result: Any) -> int:
    """Times the trial failed (raised, or its process or node died), from Tune's error.txt in the trial folder:
    Tune retries a trial from its last checkpoint up to max_failures times, then records it as ERROR."""
    try:
        with result.filesystem.open_input_stream(f"{result.path}/error.txt") as stream:
            text = stream.read().decode(errors="replace")
    except (FileNotFoundError, OSError):
        return 0
    return runfolder.failure_count(text)


def _started(result: Any) -> bool:
    return result.error is not None or bool((result.metrics or {}).get("training_iteration"))


def evaluate_chosen(result: Any, dataset: Dataset, device: str = "auto") -> tuple[evaluate_lib.Evaluation, dict[str, Any]]:
    """Load the trial's best-epoch weights from its latest checkpoint and evaluate them on the test set once."""
    state = load_state(result.checkpoint)
    model, normalizer, cfg = evaluate_lib.load_model(state, dataset.image_shape, device)
    evaluation = evaluate_lib.evaluate_split(model, normalizer, cfg, dataset.x_test, dataset.y_test, dataset.num_classes,
                                      device)
    return evaluation, state


def write(run_dir: Path, sweep: Sweep, grids: list[tuple[str, Any]], dataset: Dataset, run_info: dict[str, Any],
          device: str = "auto", ends: dict[str, TrialEnds] | None = None) -> dict[str, Any]:
    """Write trials.csv, history.csv and errors/; unless the sweep was interrupted, choose a configuration and
    evaluate it on the test set (best.json, best_model.pt, test_predictions.csv); then run.json."""
    trials, history, results = collect(grids, sweep, run_info["ended_by"], ends)
    ranked = select.rank_trials(trials, sweep.metric)
    ranked.to_csv(run_dir / runfolder.TRIALS_FILE, index=False)
    history.to_csv(run_dir / runfolder.HISTORY_FILE, index=False)
    _write_errors(run_dir, results)
    best = None
    if run_info["ended_by"] != SweepEnd.INTERRUPTED:
        choice = select.choose(trials, sweep.metric, sweep.objectives)
        if choice is not None:
            best = _write_best(run_dir, sweep, choice, results[choice.trial["trial_id"]], dataset, device)
    counts = status_counts(list(trials["status"])) if len(trials) else {}
    run_info = {**run_info, "trials_by_status": counts, "trials": len(trials),
                "trial_epochs": int(trials["epochs"].sum()) if len(trials) else 0}
    runfolder.write_json(run_dir / runfolder.RUN_FILE, run_info)
    return {"trials": ranked, "history": history, "best": best, "run": run_info}


def _write_errors(run_dir: Path, results: dict[str, Any]) -> None:
    errored = {tid: r for tid, r in results.items() if r.error is not None or _error_text(r)}
    if not errored:
        return
    folder = run_dir / ERRORS_DIR
    folder.mkdir(exist_ok=True)
    for trial_id, result in errored.items():
        (folder / f"{trial_id}.txt").write_text(str(result.error) if result.error is not None else _error_text(result))


def _write_best(run_dir: Path, sweep: Sweep, choice: select.Choice, result: Any, dataset: Dataset,
                device: str) -> dict[str, Any]:
    """best.json for the chosen trial. The test set is read once per chosen trial: a resumed sweep that chooses the
    same trial again keeps the evaluation it has (test_evaluations.jsonl logs every evaluation)."""
    chosen = choice.trial
    checkpoint = str(result.checkpoint.path) if result.checkpoint else None
    previous = _read_json(run_dir / BEST_FILE)
    if previous and previous.get("trial_id") == chosen["trial_id"] and previous.get("checkpoint") == checkpoint \
            and (run_dir / previous.get("model_file", MODEL_FILE)).exists():
        test = {k: previous[k] for k in ("test_acc", "test_loss", "per_class_acc", "confusion_matrix", "classes",
                                          "evaluation")}
        config = previous["config"]
    else:
        evaluation, state = evaluate_chosen(result, dataset, device)
        torch.save(state["best_model"], run_dir / MODEL_FILE)
        pd.DataFrame({"index": np.arange(len(dataset.y_test)), "label": dataset.y_test,
                      "prediction": evaluation.predictions}).to_csv(run_dir / PREDICTIONS_FILE, index=False)
        number = _log_evaluation(run_dir, chosen["trial_id"], checkpoint, evaluation.acc)
        test = {"test_acc": evaluation.acc, "test_loss": evaluation.loss, "per_class_acc": evaluation.per_class_acc,
                "confusion_matrix": evaluation.confusion, "classes": dataset.classes, "evaluation": number}
        config = state["config"]
    searched = {k.removeprefix("config/"): runfolder.plain(v) for k, v in chosen.items() if k.startswith("config/")}
    best = {
        "trial_id": chosen["trial_id"], "status": chosen["status"], "metric": sweep.metric, "mode": sweep.direction,
        "val_acc": float(chosen["val_acc"]), "val_loss": float(chosen["val_loss"]),
        "best_epoch": int(chosen["best_epoch"]), "epochs": int(chosen["epochs"]), "searched": searched,
        "config": config, "num_params": runfolder.plain(chosen.get("num_params")), "seeds": choice.to_json(),
        "image_shape": list(dataset.image_shape),  # what the model takes: tuner.load_run(RUN_DIR).model() rebuilds it
        "selection": f"tuner.select: best mean validation {sweep.metric} over seeds among the configurations run on "
                     f"the most seeds; the weights of the best epoch by {sweep.metric}; test set evaluated once, "
                     "afterwards",
        **test, "checkpoint": checkpoint, "model_file": MODEL_FILE,
    }
    runfolder.write_json(run_dir / BEST_FILE, best)
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

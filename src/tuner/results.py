"""The run folder (contract in DESIGN.md): trials.csv, history.csv, best.json, best_model.pt, run.json.

Selection uses validation only. Trials that errored, diverged or got stuck are listed but
never chosen; when a configuration ran under several seeds it is ranked by its mean.
The chosen model is evaluated on the test set once, here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tuner import train
from tuner.data import Dataset
from tuner.spec import Sweep, sample_define_by_run
from tuner.config import trial_values
from tuner.trainable import load_state

HISTORY_COLUMNS = ["trial_id", "epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "epoch_time_s"]
NOT_CHOSEN = {"ERROR", "DIVERGED", "STUCK"}
FIT_STATUS = {"diverged": "DIVERGED", "stuck": "STUCK", "early_stopped": "STOPPED_EARLY", "completed": "TERMINATED"}
TRIAL_DIR_PREFIX = "trial_"


def trial_dirname(trial: Any) -> str:
    """Trial folders are named by trial id, so a Result's path names its trial."""
    return f"{TRIAL_DIR_PREFIX}{trial.trial_id}"


def trial_id_of(result: Any) -> str:
    return Path(result.path).name.removeprefix(TRIAL_DIR_PREFIX)


def trial_status(result: Any, max_epochs: int) -> str:
    if result.error is not None:
        return "ERROR"
    last = result.metrics or {}
    fit_status = last.get("status", "running")
    if fit_status in FIT_STATUS:
        return FIT_STATUS[fit_status]
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


def collect(grids: list[tuple[str, Any]], sweep: Sweep) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """(trials, history, results by trial id) from Tune ResultGrids, one per phase (search, confirm);
    trials that never started are left out."""
    phases = {trial_id_of(r): (phase, r) for phase, grid in grids for r in grid if _started(r)}
    configs = {tid: trial_values(r.config or {}) for tid, (_, r) in phases.items()}
    keys = searched_keys(sweep, list(configs.values()))
    trials, history = [], []
    for trial_id, (phase, result) in sorted(phases.items()):
        frame = result.metrics_dataframe if result.metrics_dataframe is not None else pd.DataFrame()
        epochs = frame.drop_duplicates("epoch", keep="last") if "epoch" in frame else pd.DataFrame()
        row = {"trial_id": trial_id, "status": trial_status(result, sweep.max_epochs), "epochs": len(epochs)}
        row.update({f"config/{k}": format_value(configs[trial_id].get(k)) for k in keys})
        row.update(_best_epoch(epochs, sweep))
        row["train_time_s"] = float(epochs["epoch_time_s"].sum()) if len(epochs) else 0.0
        row["seed"] = configs[trial_id].get("seed", 0)
        row["num_params"] = int(epochs["num_params"].iloc[-1]) if len(epochs) else None
        row["phase"] = phase
        row["error"] = _first_line(result.error) if result.error is not None else ""
        row["failures"] = failures(result)
        trials.append(row)
        for record in epochs.to_dict("records"):
            history.append({"trial_id": trial_id, **{c: record.get(c) for c in HISTORY_COLUMNS[1:]}})
    results = {tid: r for tid, (_, r) in phases.items()}
    return pd.DataFrame(trials), pd.DataFrame(history, columns=HISTORY_COLUMNS), results


def top_configs(grid: Any, sweep: Sweep, count: int) -> list[dict[str, Any]]:
    """Full configurations (seed left out) of the best `count` usable trials of a search."""
    trials, _, by_id = collect([("search", grid)], sweep)
    ranked = rank(trials, sweep)
    usable = ranked[~ranked["status"].isin(NOT_CHOSEN)].head(count) if len(ranked) else ranked
    return [{k: v for k, v in trial_values(by_id[tid].config).items() if k != "seed"} for tid in usable["trial_id"]]


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


def _best_epoch(epochs: pd.DataFrame, sweep: Sweep) -> dict[str, Any]:
    if not len(epochs) or epochs[sweep.metric].isna().all():
        return {"val_acc": math.nan, "val_loss": math.nan, "best_epoch": 0, "train_acc": math.nan}
    values = epochs[sweep.metric]
    best = epochs.loc[values.idxmax() if sweep.mode == "max" else values.idxmin()]
    return {"val_acc": float(best["val_acc"]), "val_loss": float(best["val_loss"]), "best_epoch": int(best["epoch"]),
            "train_acc": float(best["train_acc"])}


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(error).__name__


def rank(trials: pd.DataFrame, sweep: Sweep) -> pd.DataFrame:
    """Trials best first by the sweep's metric (their best epoch); unusable trials last."""
    if trials.empty:
        return trials
    metric = "val_acc" if sweep.metric not in trials else sweep.metric
    usable = ~trials["status"].isin(NOT_CHOSEN)
    ordered = trials.assign(_usable=usable).sort_values(["_usable", metric], ascending=[False, sweep.mode == "min"],
                                                         na_position="last")
    return ordered.drop(columns="_usable").reset_index(drop=True)


def one_per_seed(trials: pd.DataFrame, key: str) -> pd.DataFrame:
    """One trial per (configuration, seed): a search can propose the same point twice, and the same seed
    reruns it to the same numbers, which are not a second seed's evidence."""
    return trials.drop_duplicates([key, "seed"]) if "seed" in trials else trials


def seed_groups(trials: pd.DataFrame, sweep: Sweep) -> pd.DataFrame:
    """One row per configuration (all searched values but the seed): mean, std and count over seeds."""
    config_cols = [c for c in trials.columns if c.startswith("config/") and c != "config/seed"]
    usable = trials[~trials["status"].isin(NOT_CHOSEN)]
    if usable.empty:
        return pd.DataFrame()
    keys = usable[config_cols].apply(lambda row: "|".join(map(str, row)), axis=1) if config_cols else "all"
    keyed = one_per_seed(usable.assign(_key=keys), "_key")
    groups = keyed.groupby("_key")
    table = groups[sweep.metric if sweep.metric in keyed else "val_acc"].agg(["mean", "std", "count"])
    table["trial_ids"] = groups["trial_id"].agg(list)
    return table.sort_values("mean", ascending=sweep.mode == "min").reset_index(drop=True)


def choose(trials: pd.DataFrame, sweep: Sweep) -> tuple[pd.Series | None, dict[str, Any] | None]:
    """The chosen trial and, when configurations ran under several seeds, its group's mean/std."""
    ranked = rank(trials, sweep)
    if ranked.empty or ranked.iloc[0]["status"] in NOT_CHOSEN:
        return None, None
    groups = seed_groups(trials, sweep)
    if len(groups) and groups["count"].max() > 1:
        top = groups.iloc[0]
        members = ranked[ranked["trial_id"].isin(top["trial_ids"])]
        info = {"n": int(top["count"]), "mean": float(top["mean"]), "std": float(np.nan_to_num(top["std"])),
                "trial_ids": list(top["trial_ids"]), "rule": f"configuration with the best mean {sweep.metric} "
                "over seeds; its best seed's checkpoint is tested"}
        return members.iloc[0], info
    return ranked.iloc[0], None


def evaluate_chosen(result: Any, dataset: Dataset, device: str = "auto") -> tuple[train.Evaluation, dict[str, Any]]:
    """Load the trial's best-epoch weights from its latest checkpoint and evaluate them on the test set once."""
    state = load_state(result.checkpoint)
    model, normalizer, cfg = train.load_model(state, dataset.image_shape, device)
    evaluation = train.evaluate_split(model, normalizer, cfg, dataset.x_test, dataset.y_test, dataset.num_classes,
                                      device)
    return evaluation, state


def write(run_dir: Path, sweep: Sweep, grids: list[tuple[str, Any]], dataset: Dataset, run_info: dict[str, Any],
          device: str = "auto") -> dict[str, Any]:
    """Write trials.csv, history.csv, best.json, best_model.pt, test_predictions.csv and run.json."""
    trials, history, results = collect(grids, sweep)
    ranked = rank(trials, sweep)
    ranked.to_csv(run_dir / "trials.csv", index=False)
    history.to_csv(run_dir / "history.csv", index=False)
    _write_errors(run_dir, results)
    chosen, seeds = choose(trials, sweep)
    best = None
    if chosen is not None:
        best = _write_best(run_dir, sweep, chosen, seeds, results[chosen["trial_id"]], dataset, device)
    counts = trials["status"].value_counts().to_dict() if len(trials) else {}
    run_info = {**run_info, "trials_by_status": counts, "trials": len(trials),
                "trial_epochs": int(trials["epochs"].sum()) if len(trials) else 0}
    (run_dir / "run.json").write_text(json.dumps(run_info, indent=2, default=str))
    return {"trials": ranked, "best": best, "run": run_info}


def _write_errors(run_dir: Path, results: dict[str, Any]) -> None:
    errored = {tid: r for tid, r in results.items() if r.error is not None}
    if not errored:
        return
    folder = run_dir / "errors"
    folder.mkdir(exist_ok=True)
    for trial_id, result in errored.items():
        (folder / f"{trial_id}.txt").write_text(str(result.error))


def _write_best(run_dir: Path, sweep: Sweep, chosen: pd.Series, seeds: dict | None, result: Any, dataset: Dataset,
                device: str) -> dict[str, Any]:
    evaluation, state = evaluate_chosen(result, dataset, device)
    torch.save(state["best_model"], run_dir / "best_model.pt")
    pd.DataFrame({"index": np.arange(len(dataset.y_test)), "label": dataset.y_test,
                  "prediction": evaluation.predictions}).to_csv(run_dir / "test_predictions.csv", index=False)
    searched = {k.removeprefix("config/"): _plain(v) for k, v in chosen.items() if k.startswith("config/")}
    best = {
        "trial_id": chosen["trial_id"], "status": chosen["status"], "metric": sweep.metric, "mode": sweep.mode,
        "val_acc": float(chosen["val_acc"]), "val_loss": float(chosen["val_loss"]),
        "best_epoch": int(chosen["best_epoch"]), "epochs": int(chosen["epochs"]), "searched": searched,
        "config": state["config"], "num_params": _plain(chosen.get("num_params")), "seeds": seeds,
        "selection": "highest validation metric at the trial's best epoch; test set evaluated once, afterwards",
        "test_acc": evaluation.acc, "test_loss": evaluation.loss, "per_class_acc": evaluation.per_class_acc,
        "confusion_matrix": evaluation.confusion, "classes": dataset.classes,
        "checkpoint": str(result.checkpoint.path) if result.checkpoint else None,
        "model_file": "best_model.pt",
    }
    (run_dir / "best.json").write_text(json.dumps(best, indent=2))
    return best


def _plain(value: Any) -> Any:
    """numpy scalars to Python ones; NaN (a hyperparameter this trial's branch of the space skipped) to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def ranking_table(trials: pd.DataFrame, top: int = 10) -> str:
    """Top-k trials for the terminal: config, val acc (%), epochs, status."""
    if trials.empty:
        return "no trial reported a result"
    config_cols = [c for c in trials.columns if c.startswith("config/")]
    shown = trials.head(top)
    header = ["#", *[c.removeprefix("config/") for c in config_cols], "val_acc", "epochs", "status"]
    rows = [[str(i + 1), *[_short(r[c]) for c in config_cols],
             "-" if pd.isna(r["val_acc"]) else f"{r['val_acc']:.2%}", str(r["epochs"]), r["status"]]
            for i, (_, r) in enumerate(shown.iterrows())]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)

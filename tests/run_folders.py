"""Run folders and tables written by hand, as the sweep writes them, for tests of what reads them."""

import json
import math

import pandas as pd

LRS = [1e-3, 1e-2, 1e-1, 1.0]
EPOCHS = 4


def final_acc(lr: float, seed: int) -> float:
    """lr .1 is best (mean .8995), 1e-2 next (mean .879, but its seed 1 is the best single trial), 1.0 diverges at
    epoch 2; other learning rates lie on a smooth bump around 10^-1.5."""
    known = {1e-3: 0.70, 1e-2: 0.86 + 0.04 * seed, 1e-1: 0.90, 1.0: 0.5}
    value = known[lr] if lr in known else 0.5 + 0.35 * math.exp(-abs(math.log10(lr) + 1.5))
    return value - 0.001 * seed


def write_table(folder, lrs=LRS, seeds=(0, 1), epoch_time=lambda lr: 1.0, status_of=None, drop_epoch=None,
                scheduler="none", epochs=EPOCHS, fixed=None):
    """A run folder as a grid sweep writes it: spec.json, trials.csv, history.csv. Each curve ends at final_acc
    after `epochs` (a budgeted table's shorter recordings finish their schedule too)."""
    max_epochs = epochs
    folder.mkdir(parents=True, exist_ok=True)
    trials, history, index = [], [], 0
    for lr in lrs:
        for seed in seeds:
            trial_id = f"abcde_{index:05d}"
            index += 1
            status = (status_of or {}).get(lr, "DIVERGED" if lr == 1.0 else "TERMINATED")
            epochs = min(2, max_epochs) if status == "DIVERGED" else max_epochs
            for epoch in range(1, epochs + 1):
                if drop_epoch == (trial_id, epoch):
                    continue
                acc = final_acc(lr, seed) * (0.7 + 0.3 * epoch / max_epochs)
                history.append({"trial_id": trial_id, "epoch": epoch, "lr": lr, "train_loss": 1 - acc,
                                "train_acc": acc, "val_loss": (1 - acc) if status != "DIVERGED" or epoch < 2
                                else math.nan, "val_acc": acc, "epoch_time_s": epoch_time(lr)})
            best = max(h["val_acc"] for h in history if h["trial_id"] == trial_id)
            trials.append({"trial_id": trial_id, "status": status, "epochs": epochs, "config/lr": lr,
                           "config/seed": seed, "val_acc": best, "val_loss": 1 - best, "best_epoch": epochs,
                           "train_acc": best, "train_time_s": epochs, "seed": seed, "num_params": 100,
                           "phase": "search", "error": "", "failures": 0})
    spec = {"sweep": {"name": "tiny", "data": "synthetic", "model": "mlp", "fixed": fixed or {"hidden": [8]},
                      "search": "grid", "trial_scheduler": scheduler, "metric": "val_acc", "max_epochs": max_epochs,
                      "seeds": list(seeds)}}
    (folder / "spec.json").write_text(json.dumps(spec))
    pd.DataFrame(trials).to_csv(folder / "trials.csv", index=False)
    pd.DataFrame(history).to_csv(folder / "history.csv", index=False)
    return folder



STATUSES = ["TERMINATED", "STOPPED_EARLY", "STOPPED_BY_BUDGET", "INTERRUPTED", "DIVERGED", "STUCK", "ERROR"]


def every_status_run(folder):
    """trials.csv, history.csv and spec.json of a 7-trial random search, one trial per status."""
    folder.mkdir()
    trials, history = [], []
    for index, status in enumerate(STATUSES):
        trial_id = f"abcde_{index:05d}"
        epochs = 0 if status == "ERROR" else 3 if status in ("TERMINATED", "DIVERGED", "STUCK") else 2
        acc = {"DIVERGED": 0.1, "STUCK": 0.1}.get(status, 0.5 + 0.05 * index)
        trials.append({"trial_id": trial_id, "status": status, "epochs": epochs, "config/lr": 10 ** -(index % 4 + 1),
                       "val_acc": acc if epochs else float("nan"), "val_loss": 1.0 if epochs else float("nan"),
                       "best_epoch": epochs, "train_acc": acc if epochs else float("nan"), "schedule_epochs": 3,
                       "train_time_s": 0.5 * epochs, "seed": 0, "num_params": 100, "phase": "search", "round": 1,
                       "error": "boom" if status == "ERROR" else "", "failures": 0})
        history += [{"trial_id": trial_id, "epoch": e, "lr": 0.01, "train_loss": 1.0, "train_acc": acc,
                     "val_loss": 1.0, "val_acc": acc, "epoch_time_s": 0.5} for e in range(1, epochs + 1)]
    pd.DataFrame(trials).to_csv(folder / "trials.csv", index=False)
    pd.DataFrame(history).to_csv(folder / "history.csv", index=False)
    sweep = {"name": "statuses", "data": "synthetic", "model": "mlp", "search": "random", "trial_scheduler": "asha",
             "metric": "val_acc", "max_epochs": 3, "seeds": [0], "space": {"lr": "loguniform(0.0001, 0.1)"}}
    (folder / "spec.json").write_text(json.dumps({"sweep": sweep, "fixed_config": {"data": "synthetic"}}))
    return folder

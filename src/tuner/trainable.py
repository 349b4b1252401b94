"""The Ray Tune function trainable: a thin adapter around train.fit.

It restores from Tune's checkpoint if the trial is being retried or resumed, trains on the
data set the driver put into the object store once (tune.with_parameters), and reports
every epoch with a checkpoint holding the full resumable state.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune

from tuner import train
from tuner.config import TrainConfig, trial_values
from tuner.data import Dataset

STATE_FILE = "state.pt"
REPORTED = ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "epoch_time_s", "status", "num_params")


def load_state(checkpoint: tune.Checkpoint) -> dict[str, Any]:
    with checkpoint.as_directory() as folder:
        return torch.load(Path(folder) / STATE_FILE, map_location="cpu", weights_only=False)


def run_trial(config: dict[str, Any], data: Dataset) -> None:
    cfg = TrainConfig.from_dict(trial_values(config))
    if cfg.device == "auto" and not ray.get_gpu_ids():
        cfg = cfg.replace(device="cpu")  # no GPU reserved for this trial: never borrow one
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    torch.set_num_threads(max(1, int(cpus)))
    checkpoint = tune.get_checkpoint()
    resume = load_state(checkpoint) if checkpoint else None

    def report(record: dict[str, Any], state: Any) -> None:
        with tempfile.TemporaryDirectory() as folder:
            torch.save(state(), Path(folder) / STATE_FILE)
            metrics = {**{k: record[k] for k in REPORTED}, "reported_at": time.time()}  # wall clock, for timelines
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    train.fit(cfg, data, on_epoch=report, resume=resume)

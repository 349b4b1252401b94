"""How long one epoch of a configuration takes on this machine, measured in a few seconds before a sweep starts.

The planner (tuner.plan) sizes a time-budgeted sweep with it, and the engine prints an honest estimate of a
sweep's duration from it. A probe builds the run as fit() would (model, optimizer, data on the device),
trains a few batches after a warm-up and evaluates a slice of the validation split, and scales both to one
epoch. Plain PyTorch; no Ray.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from tuner.train.config import TrainConfig
from tuner.train.data import Dataset
from tuner.train.evaluation import evaluate
from tuner.train.loop import Run

WARMUP_BATCHES = 3
TIMED_BATCHES = 12
EVAL_IMAGES = 2048


@dataclass
class Probe:
    epoch_s: float  # one epoch: training plus validation
    train_batch_s: float
    batches: int  # per epoch
    threads: int
    device: str
    precision: str
    measured_s: float  # what the probe itself took

    def describe(self) -> str:
        return (f"{self.epoch_s:.1f} s an epoch ({self.batches} batches of {self.train_batch_s * 1000:.0f} ms on "
                f"{self.threads} thread{'s' if self.threads != 1 else ''}, {self.device}, {self.precision})")


def measure(cfg: TrainConfig, dataset: Dataset, threads: int, device: str = "auto") -> Probe:
    """Time a few training steps and a validation slice of `cfg` on `threads` CPU threads (or the GPU)."""
    started = time.perf_counter()
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    try:
        run = Run(cfg.replace(device=device) if device != "auto" else cfg, dataset)
        batch_s = _train_seconds(run)
        eval_s = _eval_seconds(run)
    finally:
        torch.set_num_threads(previous)
    epoch = batch_s * run.steps_per_epoch + eval_s
    return Probe(epoch, batch_s, run.steps_per_epoch, max(1, threads), str(run.device), run.precision,
                 time.perf_counter() - started)


def _train_seconds(run: Run) -> float:
    """Seconds per training batch: the loop's own step (gather, augment, forward, backward, update)."""
    batch, data = run.cfg.batch_size, run.train_data
    run.model.train()
    steps = min(WARMUP_BATCHES + TIMED_BATCHES, run.steps_per_epoch)
    timed_from = min(WARMUP_BATCHES, steps - 1)
    perm = torch.randperm(len(data), generator=run.generator, device=run.device)
    start = time.perf_counter()
    for step in range(steps):
        if step == timed_from:
            _sync(run.device)
            start = time.perf_counter()
        run.train_step(perm[(step * batch) % len(data):][:batch])
    _sync(run.device)
    return (time.perf_counter() - start) / max(steps - timed_from, 1)


def _eval_seconds(run: Run) -> float:
    """Seconds for the whole validation pass, from a slice of it."""
    val = run.val_data
    n = min(len(val), EVAL_IMAGES)
    if n == 0:
        return 0.0
    subset = val.head(n)
    _sync(run.device)
    start = time.perf_counter()
    evaluate(run.step_model, subset, run.num_classes, run.cfg.eval_batch_size, run.precision)
    _sync(run.device)
    return (time.perf_counter() - start) * len(val) / n


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def estimate_text(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "unknown"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"

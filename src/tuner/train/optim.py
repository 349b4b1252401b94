"""OPTIMIZERS and SCHEDULERS registries, and Schedule: a scheduler that knows when it steps.

Cyclic and one-cycle schedules are defined in batches and must step after every batch;
the others step once per epoch, and plateau reads the validation loss. Stepping a
per-batch schedule per epoch (or the reverse) is how the studies' CIFAR runs sat at
loss ln 10 for every epoch; Schedule does the right thing from the name alone.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.optim import lr_scheduler as lrs

from tuner.train.config import PERTURBABLE, TrainConfig
from tuner.errors import unknown_name

Params = Iterable[torch.nn.Parameter]


def _sgd(params: Params, cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                           weight_decay=cfg.weight_decay, foreach=True)


def _adam_like(cls: type[torch.optim.Optimizer]) -> Callable[[Params, TrainConfig], torch.optim.Optimizer]:
    def make(params: Params, cfg: TrainConfig) -> torch.optim.Optimizer:
        return cls(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay, foreach=True)
    return make


def _rmsprop(params: Params, cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, foreach=True)


def _adagrad(params: Params, cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.Adagrad(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)


OPTIMIZERS: dict[str, Callable[[Params, TrainConfig], torch.optim.Optimizer]] = {
    "sgd": _sgd,
    "adam": _adam_like(torch.optim.Adam),
    "adamw": _adam_like(torch.optim.AdamW),
    "adamax": _adam_like(torch.optim.Adamax),
    "rmsprop": _rmsprop,
    "adagrad": _adagrad,
}


def build_optimizer(params: Params, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer not in OPTIMIZERS:
        raise unknown_name("optimizer", cfg.optimizer, OPTIMIZERS)
    return OPTIMIZERS[cfg.optimizer](params, cfg)


SchedulerFactory = Callable[[torch.optim.Optimizer, TrainConfig, int], Any]


@dataclass(frozen=True)
class SchedulerKind:
    make: SchedulerFactory | None  # (optimizer, config, steps_per_epoch) -> torch scheduler
    per_batch: bool = False
    reads_val_loss: bool = False
    accepts_warmup: bool = True


def _cyclic(opt: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> lrs.CyclicLR:
    half_cycle = max(1, round(cfg.cycle_epochs * steps_per_epoch))
    has_momentum = "momentum" in opt.defaults and cfg.momentum > 0
    return lrs.CyclicLR(opt, base_lr=cfg.lr * cfg.base_lr_ratio, max_lr=cfg.lr, step_size_up=half_cycle,
                        cycle_momentum=has_momentum)


def _onecycle(opt: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> lrs.OneCycleLR:
    return lrs.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=cfg.pct_start,
                          cycle_momentum="momentum" in opt.defaults and cfg.momentum > 0)


SCHEDULERS: dict[str, SchedulerKind] = {
    "none": SchedulerKind(None),
    "step": SchedulerKind(lambda o, c, s: lrs.StepLR(o, c.step_size, 0.1 if c.gamma is None else c.gamma)),
    "exponential": SchedulerKind(lambda o, c, s: lrs.ExponentialLR(o, 0.9 if c.gamma is None else c.gamma)),
    "cosine": SchedulerKind(lambda o, c, s: lrs.CosineAnnealingLR(o, max(1, c.epochs - c.warmup_epochs), c.min_lr)),
    "plateau": SchedulerKind(lambda o, c, s: lrs.ReduceLROnPlateau(o, "min", c.plateau_factor, c.plateau_patience,
                                                                   min_lr=c.min_lr), reads_val_loss=True),
    "cyclic": SchedulerKind(_cyclic, per_batch=True, accepts_warmup=False),
    "onecycle": SchedulerKind(_onecycle, per_batch=True, accepts_warmup=False),
}


def scheduler_kind(name: str) -> SchedulerKind:
    if name not in SCHEDULERS:
        raise unknown_name("scheduler", name, SCHEDULERS)
    return SCHEDULERS[name]


class Schedule:
    """Owns the learning-rate scheduler (plus optional warmup) and steps it at the right time.
    The settings are checked by tuner.train.checks.validate (warm-up with a per-batch schedule, plateau per batch, ...)."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int):
        cfg = cfg.scheduled()
        kind = scheduler_kind(cfg.scheduler)
        self.optimizer = optimizer
        self.per_batch = kind.per_batch if cfg.scheduler_interval == "auto" else cfg.scheduler_interval == "batch"
        self.reads_val_loss = kind.reads_val_loss
        self.warmup_epochs = cfg.warmup_epochs
        self.warmup = lrs.LinearLR(optimizer, start_factor=0.1, total_iters=cfg.warmup_epochs) \
            if cfg.warmup_epochs else None
        self.main = kind.make(optimizer, cfg, steps_per_epoch) if kind.make else None
        self.epochs_done = 0

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def after_batch(self) -> None:
        if self.per_batch and self.main is not None:
            self.main.step()

    def after_epoch(self, val_loss: float) -> None:
        self.epochs_done += 1
        if self.warmup is not None and self.epochs_done <= self.warmup_epochs:
            self.warmup.step()
            return
        if self.per_batch or self.main is None:
            return
        if self.reads_val_loss:
            self.main.step(val_loss)
        else:
            self.main.step()

    def state_dict(self) -> dict:
        return {"epochs_done": self.epochs_done,
                "warmup": self.warmup.state_dict() if self.warmup else None,
                "main": self.main.state_dict() if self.main is not None else None}

    def load_state_dict(self, state: dict) -> None:
        self.epochs_done = state["epochs_done"]
        if self.warmup is not None:
            self.warmup.load_state_dict(state["warmup"])
        if self.main is not None:
            self.main.load_state_dict(state["main"])


def rebase(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int,
           val_losses: Sequence[float]) -> Schedule:
    """Put cfg's PERTURBABLE values on a restored optimizer (its moments stay) and lay its schedule anew, as a
    run started with these values would have it after len(val_losses) epochs: the schedule is replayed over
    the epochs done (plateau fed the run's validation losses), so it continues from the restored epoch with
    the new base rate. A cyclic momentum (cyclic, onecycle) stays the schedule's, as in a fresh run."""
    for group in optimizer.param_groups:
        group.pop("initial_lr", None)  # the schedulers take their base rate from group["lr"] when it is unset
        for key in PERTURBABLE:
            if key in group:
                group[key] = getattr(cfg, key)
    with warnings.catch_warnings():  # "lr_scheduler.step() before optimizer.step()": no step is taken here
        warnings.simplefilter("ignore", UserWarning)
        schedule = Schedule(optimizer, cfg, steps_per_epoch)
        for loss in val_losses:
            for _ in range(steps_per_epoch if schedule.per_batch else 0):
                schedule.after_batch()
            schedule.after_epoch(loss if math.isfinite(loss) else math.inf)
    return schedule

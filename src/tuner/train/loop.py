"""fit(): one training run, plain PyTorch (no Ray), with the whole data set resident on the device.

    python -m tuner.train --set data=mnist --set model=mlp --set epochs=3

Every epoch reports `train_loss train_acc val_loss val_acc lr epoch_time_s` through
`on_epoch`; a run ends `completed`, `early_stopped`, `diverged` (non-finite loss) or
`stuck` (for `stuck_epochs` epochs in a row, training loss not 1% below the chance level ln(num_classes) and
validation accuracy under 1.5x chance or not rising: a slow start, such as plain SGD at lr .01 on a CNN, keeps
its loss near ln(num_classes) for epochs while its accuracy climbs, and is not stuck). `fit` can resume
from the state passed to `on_epoch`'s checkpoint function and ends bit-for-bit where an
uninterrupted run would. It can also continue another run (`start_from`: a budgeted search's promotion by
continuation): that run's last weights and optimizer state, its epochs counted on, a fresh schedule laid over the
added epochs (a warm restart).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tuner import select
from tuner.status import FitEnd
from tuner.train import augment as augment_lib
from tuner.train import datasets
from tuner.train.data import Dataset
from tuner.train import models, optim
from tuner.train.checks import validate
from tuner.train.config import PERTURBABLE, TrainConfig
from tuner.train.device import Normalizer, autocast, prepare_splits, resolve_device
from tuner.train.paths import pinned
from tuner.train.paths import resolve as resolve_path
from tuner.train.evaluation import evaluate, latency_ms

OnEpoch = Callable[[dict[str, Any], Callable[[], dict[str, Any]]], None]
COPIED_FROM = "copied_from"  # a resume state's key: the trial whose state a population-based scheduler copied
DIVERGENCE_CHECK_EVERY = 50  # steps between finiteness checks (each one syncs a GPU once)


@dataclass
class Tracker:
    """Best epoch so far, early-stopping and stuck counters: everything a resumed run must remember."""

    best_val_acc: float = -1.0  # for the stuck rule: is accuracy still rising?
    best_value: float = math.nan  # best_metric at best_epoch
    best_epoch: int = 0
    best_stop_metric: float = math.nan
    bad_epochs: int = 0
    stuck_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    path: list[dict[str, Any]] = field(default_factory=list)  # hyperparameter changes on resume (rebased)


@dataclass
class FitResult:
    status: str
    history: list[dict[str, Any]]
    best: dict[str, Any]  # the epoch record with the highest val_acc
    model: nn.Module
    normalizer: Normalizer
    config: TrainConfig
    num_params: int
    device: str
    precision: str
    state: dict[str, Any]  # final resumable state (see fit(resume=...))


class Run:
    """One fit() call's objects; small methods so the epoch loop reads top to bottom."""

    def __init__(self, cfg: TrainConfig, dataset: Dataset, start_epoch: int = 0, keep_last: bool = False):
        self.cfg = cfg
        self.start_epoch = start_epoch  # epochs another run trained before this one continued it (start_from)
        self.keep_last = keep_last  # the state a run ends with keeps its last weights and optimizer
        self.schedule_cfg = added_epochs(cfg, start_epoch)
        self.device = resolve_device(cfg.device)
        self.choice = resolve_path(cfg, self.device, dataset.image_shape, dataset.num_classes,
                                   trial_steps(cfg, dataset))
        self.precision = self.choice.precision
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick the fastest kernels
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        self.num_classes = dataset.num_classes
        self.image_shape = dataset.image_shape
        channels_last = self.choice.path.channels_last
        self.train_data, self.val_data = prepare_splits(dataset, cfg, self.device, channels_last)
        self.normalizer = self.train_data.normalizer
        torch.manual_seed(cfg.seed)
        self.generator = torch.Generator(device=self.device).manual_seed(cfg.seed + 1)
        model = models.build(cfg, dataset.image_shape, self.num_classes).to(self.device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.step_model = torch.compile(model) if self.choice.path.compile else model
        self.num_params = models.count_parameters(model)
        self.optimizer = optim.build_optimizer(model.parameters(), cfg)
        self.steps_per_epoch = math.ceil(len(self.train_data) / cfg.batch_size)
        self.schedule = optim.Schedule(self.optimizer, self.schedule_cfg, self.steps_per_epoch)
        self.scaler = torch.amp.GradScaler(self.device.type) if self.precision == "fp16" else None
        self.aug = augment_lib.get(cfg.augment)
        self.chance_loss = math.log(self.num_classes)
        self.tracker = Tracker()
        self.best_weights = _clone_state(model.state_dict())
        self.epoch = 0

    # -- state

    def state(self) -> dict[str, Any]:
        """Everything a resume needs to go on bit for bit; once the run has ended by itself (no epoch follows), its
        ended_state (unless keep_last: a run another may continue keeps everything)."""
        rng = {"torch": torch.get_rng_state(), "generator": self.generator.get_state().cpu()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        state = {"epoch": self.epoch, "config": self.cfg.to_dict(), "rng": rng,
                 "tracker": copy.deepcopy(self.tracker.__dict__), "best_model": _clone_state(self.best_weights),
                 "normalizer": {"mean": self.normalizer.mean, "std": self.normalizer.std},
                 "num_classes": self.num_classes, "training_path": self.choice.path.name,
                 "model": _clone_state(self.model.state_dict()), "start_epoch": self.start_epoch}
        if _last_status(self) != FitEnd.RUNNING and not self.keep_last:
            return ended_state(state)
        return {**state, "optimizer": _to_cpu(self.optimizer.state_dict()),
                "schedule": _to_cpu(self.schedule.state_dict()),
                "scaler": self.scaler.state_dict() if self.scaler else None}

    def restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state.get("model", state["best_model"]))
        if "optimizer" in state:  # an ended run's state has none: no epoch follows
            self.optimizer.load_state_dict(state["optimizer"])
            self.schedule.load_state_dict(state["schedule"])
        if self.scaler and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"]["torch"])
        self.generator.set_state(state["rng"]["generator"])
        if self.device.type == "cuda" and "cuda" in state["rng"]:
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        self.tracker = Tracker(**copy.deepcopy(state["tracker"]))
        if math.isnan(self.tracker.best_value) and self.tracker.best_epoch:  # a state saved before best_metric
            self.tracker.best_value = self.tracker.best_val_acc
        self.best_weights = _clone_state(state["best_model"])
        self.epoch = state["epoch"]
        self.rebase(state)

    def continue_from(self, state: dict[str, Any]) -> None:
        """Start from another run's last epoch: its weights, its optimizer's moments and its random streams; the
        learning rate starts again from the base rate on a schedule laid over the added epochs (optim.rebase with
        no epochs done: a warm restart), and the best epoch, early stopping and stuck counters start afresh."""
        if "optimizer" not in state or "model" not in state:
            raise ValueError("start_from needs a state with the last epoch's weights and optimizer (a running "
                             "run's state, or one kept with keep_last_state), not an ended run's")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule = optim.rebase(self.optimizer, self.schedule_cfg, self.steps_per_epoch, [])
        torch.set_rng_state(state["rng"]["torch"])
        self.generator.set_state(state["rng"]["generator"])
        self.best_weights = _clone_state(self.model.state_dict())
        self.epoch = state["epoch"]

    def rebase(self, state: dict[str, Any]) -> None:
        """A population-based scheduler restarts a trial from a state (its own or another trial's, named by
        state[COPIED_FROM]) with new values of PERTURBABLE in self.cfg: they go on the restored optimizer,
        the schedule continues with them (optim.rebase), and the change joins tracker.path."""
        old = state["config"]
        changed = {k: [old.get(k), getattr(self.cfg, k)] for k in PERTURBABLE
                   if old.get(k) != getattr(self.cfg, k)}
        if "optimizer" not in state or not (changed or state.get(COPIED_FROM)):
            return
        if changed:
            losses = [r["val_loss"] for r in self.tracker.history]
            self.schedule = optim.rebase(self.optimizer, self.schedule_cfg, self.steps_per_epoch, losses)
        self.tracker.path.append({"epoch": self.epoch, "from": state.get(COPIED_FROM, ""), **changed})

    # -- one epoch

    def train_epoch(self) -> tuple[float, float, bool]:
        """Returns (mean loss, accuracy, finite) over the epoch's batches."""
        self.model.train()
        cfg, data = self.cfg, self.train_data
        perm = torch.randperm(len(data), generator=self.generator, device=self.device)
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        for step, start in enumerate(range(0, len(data), cfg.batch_size)):
            idx = perm[start:start + cfg.batch_size]
            loss, out, y = self.train_step(idx)
            self.schedule.after_batch()
            loss_sum += loss.detach().float() * len(idx)
            correct += (out.detach().argmax(1) == y).sum()
            if step % DIVERGENCE_CHECK_EVERY == DIVERGENCE_CHECK_EVERY - 1 and not torch.isfinite(loss_sum):
                return math.nan, float(correct) / len(data), False
        mean_loss = float(loss_sum) / len(data)
        return mean_loss, float(correct) / len(data), math.isfinite(mean_loss)

    def train_step(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One optimiser step on the training images `idx` (gathered, augmented, normalised on the device);
        returns (loss, logits, labels)."""
        x, y = self.train_data.batch(idx, None if self.aug.is_identity else self.aug, self.generator)
        with autocast(self.device, self.precision):
            out = self.step_model(x)
            loss = F.cross_entropy(out, y, label_smoothing=self.cfg.label_smoothing)
        self._backward_and_step(loss)
        return loss, out, y

    def _backward_and_step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            if self.cfg.grad_clip:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            return
        loss.backward()
        if self.cfg.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()

    def end_of_epoch(self, record: dict[str, Any], finite: bool) -> str:
        """Update best/early-stop/stuck bookkeeping; returns the run's status after this epoch."""
        cfg, t = self.cfg, self.tracker
        improved = record["val_acc"] > t.best_val_acc
        t.best_val_acc = max(t.best_val_acc, record["val_acc"])
        if select.is_better(record[cfg.best_metric], t.best_value, cfg.best_metric) or not t.best_epoch:
            t.best_value, t.best_epoch = record[cfg.best_metric], record["epoch"]
            self.best_weights = _clone_state(self.model.state_dict())
        if not finite:
            return FitEnd.DIVERGED.value
        at_chance = record["train_loss"] >= 0.99 * self.chance_loss and (
            record["val_acc"] < 1.5 / self.num_classes or not improved)
        t.stuck_epochs = t.stuck_epochs + 1 if at_chance else 0
        if cfg.stuck_epochs and t.stuck_epochs >= cfg.stuck_epochs:
            return FitEnd.STUCK.value
        if cfg.early_stop_patience:
            value = select.sort_key(record[cfg.early_stop_metric], cfg.early_stop_metric)  # lower is better
            if math.isnan(t.best_stop_metric) or value < t.best_stop_metric - cfg.early_stop_min_delta:
                t.best_stop_metric, t.bad_epochs = value, 0
            else:
                t.bad_epochs += 1
                if t.bad_epochs >= cfg.early_stop_patience:
                    return FitEnd.EARLY_STOPPED.value
        return FitEnd.COMPLETED.value if record["epoch"] >= cfg.epochs else FitEnd.RUNNING.value

    def run_epoch(self) -> dict[str, Any]:
        started = time.perf_counter()
        self.epoch += 1
        train_loss, train_acc, finite = self.train_epoch()
        lr = self.schedule.lr
        val = evaluate(self.step_model, self.val_data, self.num_classes, self.cfg.eval_batch_size, self.precision)
        self.schedule.after_epoch(val.loss if math.isfinite(val.loss) else math.inf)
        record = {"epoch": self.epoch, "lr": lr, "train_loss": train_loss, "train_acc": train_acc,
                  "val_loss": val.loss, "val_acc": val.acc, "epoch_time_s": time.perf_counter() - started,
                  "num_params": self.num_params}
        record["status"] = self.end_of_epoch(record, finite)
        record["latency_ms"] = math.nan  # timed once, when the run has ended (every report names it: Tune checks)
        if record["status"] != FitEnd.RUNNING:
            record["latency_ms"] = latency_ms(self.model, self.image_shape, self.device, self.precision,
                                              self.choice.path.channels_last)
        self.tracker.history.append(dict(record))
        return record


def added_epochs(cfg: TrainConfig, start_epoch: int) -> TrainConfig:
    """The settings the schedule of a run continuing another from `start_epoch` runs with: laid over the epochs it
    adds (start_epoch+1 .. cfg.epochs), from settings written for schedule_for (or cfg.epochs) epochs."""
    if not start_epoch:
        return cfg
    return cfg.replace(epochs=cfg.epochs - start_epoch, schedule_for=cfg.schedule_for or cfg.epochs)


def trial_steps(cfg: TrainConfig, dataset: Dataset) -> int:
    """Training steps in a run of cfg.epochs (what a compile's time is spread over)."""
    images = min(cfg.subset or len(dataset.y_train), len(dataset.y_train)) * (1 - cfg.val_fraction)
    return cfg.epochs * math.ceil(images / cfg.batch_size)


def ended_state(state: dict[str, Any]) -> dict[str, Any]:
    """The state of a run no epoch will follow (it ended by itself, or a trial scheduler or the time budget ended
    it): the best epoch's weights and what reads them (the test evaluation, a restart that finds the run ended);
    the current weights only where the run ends with them (restore_best=False). The optimizer and schedule are left
    out: with Adam, a quarter of the state."""
    keep = state["config"].get("restore_best", True) is False
    return {k: v for k, v in state.items()
            if k not in ("optimizer", "schedule", "scaler") and (k != "model" or keep)}


def _clone_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A CPU copy (checkpoints and best-epoch weights live off the device)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def fit(config: TrainConfig | dict[str, Any], data: Dataset | None = None, on_epoch: OnEpoch | None = None,
        resume: dict[str, Any] | None = None, data_dir: str | None = None, start_from: dict[str, Any] | None = None,
        keep_last_state: bool = False) -> FitResult:
    """Train one configuration. `data` defaults to loading `config.data`; `resume` is a state from on_epoch (a
    config whose lr, momentum or weight decay differ from the state's takes them on from there: Run.rebase).
    `start_from` is another run's state (on_epoch's, before that run ended, or kept by keep_last_state): this run
    continues it (Run.continue_from), trains epochs state epoch+1 .. config.epochs and reports them under those
    numbers. `keep_last_state`: the state this run ends with keeps its last weights and optimizer, so that another
    run can start from it (an ended run's state otherwise keeps only the best epoch's weights: ended_state)."""
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    validate(cfg)
    dataset = data if data is not None else datasets.load(cfg.data, data_dir)
    origin = resume if resume is not None else start_from
    if origin is not None and origin.get("training_path"):  # go on as it started, bit for bit
        cfg = pinned(cfg, origin["training_path"])
    start_epoch = resume.get("start_epoch", 0) if resume is not None else start_from["epoch"] if start_from else 0
    if start_epoch >= cfg.epochs:
        raise ValueError(f"start_from: the state is at epoch {start_epoch}, epochs={cfg.epochs} adds none")
    run = Run(cfg, dataset, start_epoch, keep_last_state)
    if resume is not None:
        run.restore(resume)
    elif start_from is not None:
        run.continue_from(start_from)
    status = _last_status(run)
    ended = resume is not None and "optimizer" not in resume  # an ended run's state (ended_state): no epoch follows
    while status == FitEnd.RUNNING and not ended:
        record = run.run_epoch()
        status = record["status"]
        if on_epoch is not None:
            on_epoch(record, run.state)
    state = run.state()  # before the best weights are put back: keep_last_state keeps the last epoch's
    if cfg.restore_best:
        run.model.load_state_dict(run.best_weights)
    history = run.tracker.history
    best = next((r for r in history if r["epoch"] == run.tracker.best_epoch), history[-1] if history else {})
    return FitResult(status, history, best, run.model, run.normalizer, cfg, run.num_params, str(run.device),
                     run.precision, state)


def _last_status(run: Run) -> str:
    history = run.tracker.history
    return history[-1]["status"] if history and history[-1]["status"] != FitEnd.RUNNING else FitEnd.RUNNING.value


"""fit(): one training run, plain PyTorch (no Ray), with the whole data set resident on the device.

    python -m tuner.train --set data=mnist --set model=mlp --set epochs=3

Every epoch reports `train_loss train_acc val_loss val_acc lr epoch_time_s` through
`on_epoch`; a run ends `completed`, `early_stopped`, `diverged` (non-finite loss) or
`stuck` (for `stuck_epochs` epochs in a row, training loss not 1% below the chance level ln(num_classes) and
validation accuracy under 1.5x chance or not rising: a slow start, such as plain SGD at lr .01 on a CNN, keeps
its loss near ln(num_classes) for epochs while its accuracy climbs, and is not stuck). `fit` can resume
from the state passed to `on_epoch`'s checkpoint function and ends bit-for-bit where an
uninterrupted run would.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tuner import augment as augment_lib
from tuner import data as data_lib
from tuner import models, optim, select
from tuner.config import TrainConfig, field_names, parse_assignments
from tuner.errors import UserError, run_cli

OnEpoch = Callable[[dict[str, Any], Callable[[], dict[str, Any]]], None]
STATUSES = ("completed", "early_stopped", "diverged", "stuck")
DIVERGENCE_CHECK_EVERY = 50  # steps between finiteness checks (each one syncs a GPU once)


# ---------------------------------------------------------------- checks and device choices


def validate(cfg: TrainConfig) -> None:
    """Every check of a configuration that needs no data (names exist, numbers in range, settings that go
    together); raises UserError naming the setting. Checks that need the image shape: check_buildable."""
    data_lib.parse_spec(cfg.data)
    if cfg.model not in models.MODELS:
        raise UserError(f"unknown model {cfg.model!r}; choose one of: {', '.join(sorted(models.MODELS))}")
    kind = optim.scheduler_kind(cfg.scheduler)
    augment_lib.get(cfg.augment)
    if cfg.optimizer not in optim.OPTIMIZERS:
        raise UserError(f"unknown optimizer {cfg.optimizer!r}; choose one of: {', '.join(sorted(optim.OPTIMIZERS))}")
    positive = {"lr": cfg.lr, "epochs": cfg.epochs, "batch_size": cfg.batch_size,
                "eval_batch_size": cfg.eval_batch_size, "step_size": cfg.step_size, "cycle_epochs": cfg.cycle_epochs}
    for key, value in positive.items():
        if not value > 0:
            raise UserError(f"setting {key!r} must be > 0, got {value}")
    non_negative = {"weight_decay": cfg.weight_decay, "momentum": cfg.momentum, "grad_clip": cfg.grad_clip,
                    "label_smoothing": cfg.label_smoothing, "warmup_epochs": cfg.warmup_epochs,
                    "early_stop_patience": cfg.early_stop_patience, "stuck_epochs": cfg.stuck_epochs,
                    "subset": cfg.subset, "min_lr": cfg.min_lr, "early_stop_min_delta": cfg.early_stop_min_delta}
    for key, value in non_negative.items():
        if value < 0:
            raise UserError(f"setting {key!r} must be >= 0, got {value}")
    fractions = {"val_fraction": (cfg.val_fraction, 0, 1), "pct_start": (cfg.pct_start, 0, 1),
                 "base_lr_ratio": (cfg.base_lr_ratio, 0, 1), "plateau_factor": (cfg.plateau_factor, 0, 1)}
    for key, (value, low, high) in fractions.items():
        if not low < value < high:
            raise UserError(f"setting {key!r} must be between {low} and {high} (exclusive), got {value}")
    for key in ("dropout", "dropout2d"):
        value = getattr(cfg, key)
        if value is not None and not 0 <= value < 1:
            raise UserError(f"setting {key!r} must be in [0, 1), got {value}")
    if cfg.label_smoothing >= 1:
        raise UserError(f"setting 'label_smoothing' must be below 1, got {cfg.label_smoothing}")
    if cfg.gamma is not None and not 0 < cfg.gamma <= 1:
        raise UserError(f"setting 'gamma' must be in (0, 1], got {cfg.gamma}")
    for key in ("early_stop_metric", "best_metric"):
        if getattr(cfg, key) not in select.SELECTION_METRICS:
            raise UserError(f"{key} must be one of {', '.join(select.SELECTION_METRICS)}, got {getattr(cfg, key)!r}")
    if cfg.precision not in ("auto", "fp32", "bf16", "fp16"):
        raise UserError(f"precision must be auto, fp32, bf16 or fp16, got {cfg.precision!r}")
    if cfg.channels_last not in ("auto", "on", "off"):
        raise UserError(f"channels_last must be auto, on or off, got {cfg.channels_last!r}")
    if cfg.scheduler_interval not in ("auto", "batch", "epoch"):
        raise UserError(f"scheduler_interval must be auto, batch or epoch, got {cfg.scheduler_interval!r}")
    if cfg.normalize not in ("train", "half", "none"):
        raise UserError(f"normalize must be train, half or none, got {cfg.normalize!r}")
    if cfg.nesterov and (cfg.optimizer != "sgd" or cfg.momentum <= 0):
        raise UserError("nesterov=true needs optimizer sgd with momentum > 0")
    if cfg.warmup_epochs and not kind.accepts_warmup:
        raise UserError(f"scheduler {cfg.scheduler!r} has its own warm-up; set warmup_epochs=0 "
                        f"(onecycle: tune pct_start; cyclic: base_lr_ratio)")
    if kind.reads_val_loss and cfg.scheduler_interval == "batch":
        raise UserError(f"scheduler {cfg.scheduler!r} reads the validation loss and can only step per epoch")


MODEL_FIELDS = ("model", "hidden", "channels", "width", "depth", "mlp_dim", "token_dim", "heads", "patch", "dropout",
                "dropout2d", "batch_norm")


def check_buildable(cfg: TrainConfig, image_shape: tuple[int, int, int], num_classes: int,
                    built: dict[str, None] | None = None) -> None:
    """validate(), then build the model on the meta device (no memory, no arithmetic) and run one batch
    through it, then its optimizer and schedule: what fit() would build, minus the data. `built` remembers
    the model settings already built, so a grid of learning rates builds its model once."""
    validate(cfg)
    key = repr([getattr(cfg, name) for name in MODEL_FIELDS] + [image_shape, num_classes])
    if built is None or key not in built:
        with torch.device("meta"):
            model = models.build(cfg, image_shape, num_classes)
            try:
                model(torch.zeros(2, *image_shape))
            except (RuntimeError, ValueError) as exc:
                raise UserError(f"model {cfg.model!r} cannot take {'x'.join(map(str, image_shape))} images: "
                                f"{str(exc).splitlines()[0]}") from None
        if built is not None:
            built[key] = None
    optimizer = optim.build_optimizer([torch.nn.Parameter(torch.zeros(1))], cfg)
    optim.Schedule(optimizer, cfg, steps_per_epoch=1)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name!r} asked for, but this machine has no CUDA GPU")
    return device


# ms per training step, batch 64 of 3x32x32 (MLP: MNIST), on the project's 2-core AVX512-BF16 CPU, torch 2.14:
#   cnn      fp32 59.5   bf16 35.4   bf16 + channels_last 20.7   (fp32 NCHW max-pooling alone costs ~6 ms a layer)
#   tinyvgg  fp32 635    bf16 288    bf16 + channels_last 257
#   resnet12 fp32 857    bf16 507    bf16 + channels_last 460
#   mlp      fp32 2.85   bf16 2.46       vit  fp32 857   bf16 731      mixer  fp32 144  bf16 121
#   gru      fp32 16.7   bf16 33.8   (recurrent kernels have no fast bf16 path: stays fp32)
CPU_FP32_MODELS = {"gru"}


def resolve_precision(cfg: TrainConfig, device: torch.device) -> str:
    """auto: bf16 autocast where it measured faster (GPUs with bf16, else fp16; CPUs with AVX512-BF16)."""
    if cfg.precision != "auto":
        return cfg.precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "cpu" and cfg.model not in CPU_FP32_MODELS and _cpu_has_bf16():
        return "bf16"
    return "fp32"


def _cpu_has_bf16() -> bool:
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(check and check()) or bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def _use_channels_last(cfg: TrainConfig, device: torch.device) -> bool:
    if cfg.channels_last == "auto":
        return device.type in ("cuda", "cpu") and cfg.model in models.CONV_MODELS
    return cfg.channels_last == "on"


# ---------------------------------------------------------------- data on the device


@dataclass
class Normalizer:
    """Per-channel mean/std in [0, 1] units, from the training split; applied on the device."""

    mean: list[float]
    std: list[float]


class DeviceData:
    """uint8 images resident on the device; batches are gathered, augmented and normalised there."""

    def __init__(self, x: np.ndarray, y: np.ndarray, normalizer: Normalizer, device: torch.device,
                 channels_last: bool):
        self.x = torch.from_numpy(np.ascontiguousarray(x)).to(device)
        self.y = torch.from_numpy(np.ascontiguousarray(y)).to(device)
        self.device = device
        self.channels_last = channels_last
        mean = torch.tensor(normalizer.mean, device=device).view(1, -1, 1, 1)
        std = torch.tensor(normalizer.std, device=device).view(1, -1, 1, 1)
        self.inv_std = 1 / std  # [0, 1] images -> normalised: x * inv_std + shift
        self.scale = self.inv_std / 255  # uint8 images -> normalised in one multiply-add
        self.shift = -mean / std
        self.normalizer = normalizer

    def __len__(self) -> int:
        return len(self.y)

    def head(self, n: int) -> DeviceData:
        """The first n images, sharing this one's device tensors and normalisation."""
        part = copy.copy(self)
        part.x, part.y = self.x[:n], self.y[:n]
        return part

    def batch(self, idx: torch.Tensor, aug: augment_lib.Augment | None = None,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.x[idx].float()
        if aug is not None and not aug.is_identity:
            x = aug(x.div_(255), generator).mul_(self.inv_std).add_(self.shift)
        else:
            x = x.mul_(self.scale).add_(self.shift)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, self.y[idx]


def _normalizer(kind: str, train_images: np.ndarray) -> Normalizer:
    channels = train_images.shape[1]
    if kind == "half":
        return Normalizer([0.5] * channels, [0.5] * channels)
    if kind == "none":
        return Normalizer([0.0] * channels, [1.0] * channels)
    return Normalizer(*data_lib.channel_stats(train_images))


_SPLITS: dict[tuple, tuple[DeviceData, DeviceData]] = {}


def prepare_splits(dataset: data_lib.Dataset, cfg: TrainConfig, device: torch.device,
                   channels_last: bool) -> tuple[DeviceData, DeviceData]:
    """Train/val splits resident on the device, normalised by train-split statistics.

    The last one is kept per process: consecutive trials in a reused Ray actor skip the split,
    the statistics pass and the upload (0.5 s for MNIST, 1.5 s for CIFAR-10 here).
    """
    key = (dataset.name, dataset.x_train.shape, dataset.y_train[:4096].tobytes(), cfg.subset, cfg.val_fraction,
           cfg.split_seed, cfg.normalize, str(device), channels_last)
    if key not in _SPLITS:
        _SPLITS.clear()
        if cfg.subset:
            dataset = dataset.subset(cfg.subset, seed=cfg.split_seed)
        train_idx, val_idx = data_lib.stratified_split(dataset.y_train, cfg.val_fraction, cfg.split_seed)
        if len(val_idx) == 0 and cfg.val_fraction > 0:
            raise UserError(f"val_fraction {cfg.val_fraction} leaves no validation images")
        normalizer = _normalizer(cfg.normalize, dataset.x_train[train_idx])
        _SPLITS[key] = tuple(DeviceData(dataset.x_train[idx], dataset.y_train[idx], normalizer, device, channels_last)
                             for idx in (train_idx, val_idx))
    return _SPLITS[key]


@dataclass
class Evaluation:
    acc: float
    loss: float
    per_class_acc: list[float]
    confusion: list[list[int]]  # rows: true class, columns: predicted class
    predictions: np.ndarray

    def to_dict(self, prefix: str = "") -> dict[str, Any]:
        return {f"{prefix}acc": self.acc, f"{prefix}loss": self.loss, "per_class_acc": self.per_class_acc,
                "confusion_matrix": self.confusion}


def evaluate(model: nn.Module, data: DeviceData, num_classes: int, batch_size: int = 1024,
             precision: str = "fp32") -> Evaluation:
    """Accuracy, mean loss, per-class accuracy, confusion matrix and predictions, in one pass."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=data.device, dtype=torch.float64)
    preds = []
    with torch.inference_mode(), _autocast(data.device, precision):
        for start in range(0, len(data), batch_size):
            idx = torch.arange(start, min(start + batch_size, len(data)), device=data.device)
            x, y = data.batch(idx)
            out = model(x)
            loss_sum += F.cross_entropy(out.float(), y, reduction="sum").double()
            preds.append(out.argmax(1))
    model.train(was_training)
    pred = torch.cat(preds)
    confusion = torch.bincount(data.y * num_classes + pred, minlength=num_classes ** 2).view(num_classes, -1)
    per_class = confusion.diag().double() / confusion.sum(1).clamp(min=1).double()
    return Evaluation(acc=float((pred == data.y).double().mean()), loss=float(loss_sum) / max(len(data), 1),
                      per_class_acc=per_class.tolist(), confusion=confusion.tolist(), predictions=pred.cpu().numpy())


# ---------------------------------------------------------------- the loop


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

    def __init__(self, cfg: TrainConfig, dataset: data_lib.Dataset):
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.precision = resolve_precision(cfg, self.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick the fastest kernels
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        self.num_classes = dataset.num_classes
        channels_last = _use_channels_last(cfg, self.device)
        self.train_data, self.val_data = prepare_splits(dataset, cfg, self.device, channels_last)
        self.normalizer = self.train_data.normalizer
        torch.manual_seed(cfg.seed)
        self.generator = torch.Generator(device=self.device).manual_seed(cfg.seed + 1)
        model = models.build(cfg, dataset.image_shape, self.num_classes).to(self.device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.step_model = torch.compile(model) if cfg.compile else model
        self.num_params = models.count_parameters(model)
        self.optimizer = optim.build_optimizer(model.parameters(), cfg)
        self.steps_per_epoch = math.ceil(len(self.train_data) / cfg.batch_size)
        self.schedule = optim.Schedule(self.optimizer, cfg, self.steps_per_epoch)
        self.scaler = torch.amp.GradScaler(self.device.type) if self.precision == "fp16" else None
        self.aug = augment_lib.get(cfg.augment)
        self.chance_loss = math.log(self.num_classes)
        self.tracker = Tracker()
        self.best_weights = _clone_state(model.state_dict())
        self.epoch = 0

    # -- state

    def state(self) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state(), "generator": self.generator.get_state().cpu()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {"epoch": self.epoch, "config": self.cfg.to_dict(), "model": _clone_state(self.model.state_dict()),
                "optimizer": _to_cpu(self.optimizer.state_dict()), "schedule": _to_cpu(self.schedule.state_dict()),
                "scaler": self.scaler.state_dict() if self.scaler else None, "rng": rng,
                "tracker": copy.deepcopy(self.tracker.__dict__), "best_model": _clone_state(self.best_weights),
                "normalizer": {"mean": self.normalizer.mean, "std": self.normalizer.std},
                "num_classes": self.num_classes}

    def restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
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
        with _autocast(self.device, self.precision):
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
            return "diverged"
        at_chance = record["train_loss"] >= 0.99 * self.chance_loss and (
            record["val_acc"] < 1.5 / self.num_classes or not improved)
        t.stuck_epochs = t.stuck_epochs + 1 if at_chance else 0
        if cfg.stuck_epochs and t.stuck_epochs >= cfg.stuck_epochs:
            return "stuck"
        if cfg.early_stop_patience:
            sign = 1 if select.direction(cfg.early_stop_metric) == "min" else -1
            value = sign * record[cfg.early_stop_metric]
            if math.isnan(t.best_stop_metric) or value < t.best_stop_metric - cfg.early_stop_min_delta:
                t.best_stop_metric, t.bad_epochs = value, 0
            else:
                t.bad_epochs += 1
                if t.bad_epochs >= cfg.early_stop_patience:
                    return "early_stopped"
        return "completed" if record["epoch"] >= cfg.epochs else "running"

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
        self.tracker.history.append(dict(record))
        return record


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


def fit(config: TrainConfig | dict[str, Any], data: data_lib.Dataset | None = None, on_epoch: OnEpoch | None = None,
        resume: dict[str, Any] | None = None, data_dir: str | None = None) -> FitResult:
    """Train one configuration. `data` defaults to loading `config.data`; `resume` is a state from on_epoch."""
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    validate(cfg)
    dataset = data if data is not None else data_lib.load(cfg.data, data_dir)
    run = Run(cfg, dataset)
    if resume is not None:
        run.restore(resume)
    status = _last_status(run)
    while status == "running":
        record = run.run_epoch()
        status = record["status"]
        if on_epoch is not None:
            on_epoch(record, run.state)
    if cfg.restore_best:
        run.model.load_state_dict(run.best_weights)
    history = run.tracker.history
    best = next((r for r in history if r["epoch"] == run.tracker.best_epoch), history[-1] if history else {})
    return FitResult(status, history, best, run.model, run.normalizer, cfg, run.num_params, str(run.device),
                     run.precision, run.state())


def _last_status(run: Run) -> str:
    history = run.tracker.history
    return history[-1]["status"] if history and history[-1]["status"] != "running" else "running"


# ---------------------------------------------------------------- using a trained model


def load_model(state: dict[str, Any], image_shape: tuple[int, int, int], device: str = "auto",
               weights: str = "best_model") -> tuple[nn.Module, Normalizer, TrainConfig]:
    """Rebuild the model of a fit state (best-epoch weights by default) for evaluation."""
    cfg = TrainConfig.from_dict(state["config"])
    model = models.build(cfg, image_shape, state["num_classes"])
    model.load_state_dict(state[weights])
    return model.to(resolve_device(device)), Normalizer(**state["normalizer"]), cfg


def evaluate_split(model: nn.Module, normalizer: Normalizer, cfg: TrainConfig, x: np.ndarray, y: np.ndarray,
                   num_classes: int, device: str = "auto") -> Evaluation:
    """Evaluate on any uint8 images (the test set, once, for the chosen configuration)."""
    dev = resolve_device(device)
    data = DeviceData(x, y, normalizer, dev, _use_channels_last(cfg, dev))
    return evaluate(model.to(dev), data, num_classes, cfg.eval_batch_size, resolve_precision(cfg, dev))


# ---------------------------------------------------------------- command line


def format_record(record: dict[str, Any], total_epochs: int) -> str:
    return (f"epoch {record['epoch']}/{total_epochs} train_loss={record['train_loss']:.4f} "
            f"train_acc={record['train_acc']:.4f} val_loss={record['val_loss']:.4f} val_acc={record['val_acc']:.4f} "
            f"lr={record['lr']:.3g} epoch_time_s={record['epoch_time_s']:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tuner.train", description="Train one configuration and print "
                                     "per-epoch metrics (key=value lines, readable by Katib's stdout collector).")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any TrainConfig field, e.g. --set model=cnn --set lr=0.01; fields: "
                             + ", ".join(field_names()))
    parser.add_argument("--data-dir", help=f"data root (default ${data_lib.DATA_ENV}, else ~/.cache/tuner)")
    parser.add_argument("--test", action="store_true", help="evaluate the final model once on the test set")
    parser.add_argument("--save", metavar="PATH", help="write the final state (weights, optimizer, config) here")
    args = parser.parse_args(argv)
    cfg = TrainConfig.from_dict(parse_assignments(args.set))
    validate(cfg)
    dataset = data_lib.load(cfg.data, args.data_dir)
    print(data_lib.summary(dataset if not cfg.subset else dataset.subset(cfg.subset, seed=cfg.split_seed),
                           cfg.val_fraction, cfg.split_seed), flush=True)
    started = time.perf_counter()

    def show(record: dict[str, Any], _state: Callable) -> None:
        print(format_record(record, cfg.epochs), flush=True)

    result = fit(cfg, dataset, on_epoch=show)
    print(f"model {cfg.model}: {result.num_params:,} parameters on {result.device} ({result.precision})")
    best = result.best
    print(f"status={result.status} best_epoch={best['epoch']} val_acc={best['val_acc']:.4f} "
          f"val_loss={best['val_loss']:.4f} train_time_s={time.perf_counter() - started:.1f}")
    if args.test:
        test = evaluate_split(result.model, result.normalizer, cfg, dataset.x_test, dataset.y_test,
                              dataset.num_classes, cfg.device)
        print(f"test_acc={test.acc:.4f} test_loss={test.loss:.4f}")
    if args.save:
        torch.save(result.state, args.save)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

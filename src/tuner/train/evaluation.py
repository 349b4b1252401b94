"""Evaluating a model: accuracy, loss, per-class accuracy and the confusion matrix in one pass; a trained state
rebuilt for evaluation (the test set, once, for the chosen configuration)."""

from __future__ import annotations

import pickle
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tuner.errors import UserError
from tuner.train import models
from tuner.train.config import TrainConfig
from tuner.train.device import DeviceData, Normalizer, autocast, resolve_device
from tuner.train.paths import resolve as resolve_path


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
    with torch.inference_mode(), autocast(data.device, precision):
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



LATENCY_RUNS = 7  # timed batch-1 forward passes; latency_ms is their median
LATENCY_WARMUP = 2


def latency_ms(model: nn.Module, image_shape: tuple[int, int, int], device: torch.device,
               precision: str = "fp32", channels_last: bool = False) -> float:
    """Batch-1 inference time in milliseconds on `device`: the median of LATENCY_RUNS forward passes after
    LATENCY_WARMUP untimed ones, in eval mode at the run's precision (no gradients, so no state changes)."""
    was_training = model.training
    model.eval()
    x = torch.zeros((1, *image_shape), device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    times = []
    with torch.inference_mode(), autocast(device, precision):
        for run in range(LATENCY_WARMUP + LATENCY_RUNS):
            _synchronize(device)
            started = time.perf_counter()
            model(x)
            _synchronize(device)
            if run >= LATENCY_WARMUP:
                times.append((time.perf_counter() - started) * 1000)
    model.train(was_training)
    return statistics.median(times)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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
    path = resolve_path(cfg.replace(compile=False), dev, tuple(x.shape[1:]), num_classes, 0).path  # the eager model
    data = DeviceData(x, y, normalizer, dev, path.channels_last)
    return evaluate(model.to(dev), data, num_classes, cfg.eval_batch_size, path.precision)


def load_file(path: str | Path) -> dict[str, Any]:
    """torch.load with weights_only=True: tensors, dicts, lists and numbers only. Checkpoints live in shared
    storage (--results s3://...), and unpickling anything else would run whoever wrote it's code."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UserError(f"{path} holds objects other than tensors, dicts and numbers; refusing to load it "
                        f"(it was not written by tuner, or was tampered with): {str(exc).splitlines()[0]}") from None

"""Where and how a run computes: the device, the precision (autocast), the memory layout, and the data resident on
the device (uint8 images gathered, augmented and normalised there)."""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass

import numpy as np
import torch

from tuner.errors import UserError
from tuner.train import augment as augment_lib
from tuner.train import data as data_lib
from tuner.train import models
from tuner.train.config import TrainConfig


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


# The rule's evidence (where the cache has no measurement for this machine and configuration): ms per training
# step, batch 64 of 3x32x32 (MLP: MNIST), on the project's 2-core AVX512-BF16 CPU, torch 2.14:
#   cnn      fp32 59.5   bf16 35.4   bf16 + channels_last 20.7   (fp32 NCHW max-pooling alone costs ~6 ms a layer)
#   tinyvgg  fp32 635    bf16 288    bf16 + channels_last 257
#   resnet12 fp32 857    bf16 507    bf16 + channels_last 460
#   mlp      fp32 2.85   bf16 2.46       vit  fp32 857   bf16 731      mixer  fp32 144  bf16 121
#   gru      fp32 16.7   bf16 33.8   (recurrent kernels have no fast bf16 path: stays fp32)
CPU_FP32_MODELS = {"gru"}


def resolve_precision(cfg: TrainConfig, device: torch.device) -> str:
    """The rule where nothing was measured (tuner.train.paths.resolve measures first; docs/fastpath.md): bf16 on
    GPUs with bf16, else fp16; bf16 on CPUs with AVX512-BF16 (wrong on some: a Xeon model 207 trains faster in
    fp32)."""
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


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def use_channels_last(cfg: TrainConfig, device: torch.device) -> bool:
    if cfg.channels_last == "auto":
        return device.type in ("cuda", "cpu") and cfg.model in models.CONV_MODELS
    return cfg.channels_last == "on"




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


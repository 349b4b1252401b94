"""Data sets as uint8 arrays: the Dataset every trial trains on, seeded stratified splits, per-channel statistics,
a summary. Loading and caching them is tuner.train.datasets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuner.errors import UserError


@dataclass
class Dataset:
    """Images as uint8 (N, C, H, W) numpy arrays and int64 labels: cheap to pickle into Ray's object store."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def subset(self, n_train: int, n_test: int | None = None, seed: int = 0) -> Dataset:
        """A stratified random subset (for smoke runs); keeps every class."""
        train = _stratified_take(self.y_train, n_train, seed)
        test = _stratified_take(self.y_test, n_test if n_test is not None else max(n_train // 5, 1), seed)
        return Dataset(self.name, self.x_train[train], self.y_train[train],
                       self.x_test[test], self.y_test[test], list(self.classes))


def _stratified_take(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    if n >= len(labels):
        return np.arange(len(labels))
    rest, _ = stratified_split(labels, 1 - n / len(labels), seed)
    return rest


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of indices into (train, val) keeping every class's share; both sorted."""
    if not 0 <= val_fraction < 1:
        raise UserError(f"val_fraction must be in [0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    train, val = [], []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        n_val = int(round(len(idx) * val_fraction))
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def channel_stats(x: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images, in [0, 1] units, from 256-bin histograms (one cheap pass)."""
    levels = np.arange(256, dtype=np.float64)
    means, stds = [], []
    for channel in range(x.shape[1]):
        counts = np.bincount(x[:, channel].reshape(-1), minlength=256)
        total = counts.sum()
        mean = counts @ levels / total
        var = max(counts @ levels ** 2 / total - mean ** 2, 0.0)
        means.append(float(mean / 255))
        stds.append(float(np.sqrt(var) / 255) or 1.0)
    return means, stds



def summary(data: Dataset, val_fraction: float = 0.1, split_seed: int = 0) -> str:
    """Counts per class for train/val/test, image shape and the train split's per-channel mean/std."""
    train_idx, val_idx = stratified_split(data.y_train, val_fraction, split_seed)
    mean, std = channel_stats(data.x_train[train_idx])
    counts = {split: np.bincount(y, minlength=data.num_classes) for split, y in
              (("train", data.y_train[train_idx]), ("val", data.y_train[val_idx]), ("test", data.y_test))}
    width = max(len(c) for c in data.classes)
    lines = [f"data {data.name}: images {data.image_shape[0]}x{data.image_shape[1]}x{data.image_shape[2]} uint8, "
             f"{data.num_classes} classes, train {len(train_idx)} / val {len(val_idx)} / test {len(data.y_test)} "
             f"(val {val_fraction:.0%} of train, stratified, seed {split_seed})",
             "  mean " + ", ".join(f"{m:.4f}" for m in mean) + "   std " + ", ".join(f"{s:.4f}" for s in std),
             f"  {'class':<{width}} {'train':>7} {'val':>6} {'test':>6}"]
    for i, cls in enumerate(data.classes):
        lines.append(f"  {cls:<{width}} {counts['train'][i]:>7} {counts['val'][i]:>6} {counts['test'][i]:>6}")
    return "\n".join(lines)


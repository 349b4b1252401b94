"""Data from anywhere: a data spec that is a function of the user's, or a torchvision.datasets class.

    "package.module:function" (or a function in the sweep file, `data=my_data`) returns the train and test images:
        (x_train, y_train, x_test, y_test[, classes]), a dict with those keys, a tuner Dataset, or
        (train, test) where each is a torch Dataset of (image, label) pairs (PIL images, tensors or arrays) or an
        (images, labels) pair. Images are uint8 (or float in [0, 1]) as N x C x H x W, N x H x W x C or N x H x W.
    "torchvision:NAME"  torchvision.datasets.NAME found under the data folder (download=False: never a download).

Everything is decoded once into the uint8 arrays every trial keeps resident. Bad data (mixed image shapes, labels
out of range, one class, train and test of different shapes) is a UserError.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from tuner.errors import UserError
from tuner.train import usercode
from tuner.train.data import Dataset

SPLITS = ("x_train", "y_train", "x_test", "y_test")


def load_code(root: Path, arg: str | None, fetch: bool = True) -> Dataset:
    """A data function's result as a Dataset; `arg` is its reference."""
    function = usercode.resolve(arg or "", "data")
    try:
        value = function()
    except UserError as exc:
        raise UserError(f"data {arg!r}: {exc}") from None
    except Exception as exc:
        raise UserError(f"data {arg!r} raised {type(exc).__name__}: {exc}") from None
    return to_dataset(arg or "data", value)


def load_torchvision(root: Path, arg: str | None, fetch: bool = True) -> Dataset:
    """torchvision.datasets.NAME under the data root (its own folder layout), train and test splits, no download."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, arg or "", None)
    if not isinstance(cls, type):
        raise UserError(f"torchvision.datasets has no data set {arg!r} (e.g. torchvision:MNIST, torchvision:CIFAR100)")
    parts = [_torchvision_split(cls, root, split) for split in ("train", "test")]
    classes = getattr(parts[0], "classes", None)
    return to_dataset(f"torchvision:{arg}", (parts[0], parts[1]), classes)


def _torchvision_split(cls: type, root: Path, split: str) -> Any:
    attempts = ({"train": split == "train"}, {"split": split})
    last: Exception | None = None
    for kwargs in attempts:
        try:
            return cls(root=str(root), download=False, **kwargs)
        except TypeError as exc:  # the class takes the other keyword
            last = exc
        except (RuntimeError, OSError, ValueError) as exc:
            raise UserError(f"torchvision:{cls.__name__} ({split}) not found under data root {root}: "
                            f"{str(exc).splitlines()[0]} (tuner downloads nothing here; point --data-dir or "
                            f"$TUNER_DATA at the folder that has it)") from None
    raise UserError(f"torchvision:{cls.__name__} takes neither train= nor split=: {last}")


def to_dataset(name: str, value: Any, classes: list[str] | None = None) -> Dataset:
    """What a data function returned, as a checked Dataset."""
    if isinstance(value, Dataset):
        return check(value)
    if isinstance(value, dict):
        missing = [k for k in SPLITS if k not in value]
        if missing:
            raise UserError(f"data {name!r} returned a dict without {', '.join(missing)}")
        parts, classes = [value[k] for k in SPLITS], value.get("classes", classes)
    elif isinstance(value, (tuple, list)) and len(value) in (4, 5):
        parts, classes = list(value[:4]), value[4] if len(value) == 5 else classes
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        classes = classes or getattr(value[0], "classes", None)
        parts = [*_split(name, "train", value[0]), *_split(name, "test", value[1])]
    else:
        raise UserError(f"data {name!r} returned a {type(value).__name__}; return (x_train, y_train, x_test, y_test"
                        "[, classes]), a dict of those, or (train, test) torch Datasets")
    x_train, x_test = (_images(name, split, x) for split, x in (("train", parts[0]), ("test", parts[2])))
    y_train, y_test = (_labels(name, split, y) for split, y in (("train", parts[1]), ("test", parts[3])))
    if classes is None:
        classes = [str(i) for i in range(int(max(y_train.max(initial=0), y_test.max(initial=0))) + 1)]
    return check(Dataset(name, x_train, y_train, x_test, y_test, [str(c) for c in classes]))


def check(data: Dataset) -> Dataset:
    """The rules every data set keeps: uint8 N x C x H x W images, as many labels, labels in range, two classes."""
    name = data.name
    for split, x, y in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
        if x.dtype != np.uint8 or x.ndim != 4:
            raise UserError(f"data {name!r}: {split} images must be uint8 N x C x H x W, got {x.dtype} {x.shape}")
        if len(x) != len(y):
            raise UserError(f"data {name!r}: {len(x)} {split} images but {len(y)} labels")
        if not len(y):
            raise UserError(f"data {name!r}: no {split} images")
        if y.min() < 0 or y.max() >= len(data.classes):
            bad = int(y.min() if y.min() < 0 else y.max())
            raise UserError(f"data {name!r}: {split} label {bad} is out of range for {len(data.classes)} classes "
                            f"(labels must be 0 ... {len(data.classes) - 1})")
    if data.x_train.shape[1:] != data.x_test.shape[1:]:
        raise UserError(f"data {name!r}: train images are {_shape(data.x_train)} but test images "
                        f"{_shape(data.x_test)}")
    if len(np.unique(data.y_train)) < 2:
        raise UserError(f"data {name!r}: the training images hold one class only; a classifier needs two or more")
    return data


def _shape(x: np.ndarray) -> str:
    return "x".join(map(str, x.shape[1:]))


def _split(name: str, split: str, part: Any) -> tuple[Any, Any]:
    if isinstance(part, (tuple, list)) and len(part) == 2:
        return part[0], part[1]
    if hasattr(part, "__getitem__") and hasattr(part, "__len__"):
        fast = _array_attributes(part)
        return fast if fast is not None else _decode(name, split, part)
    raise UserError(f"data {name!r}: the {split} part is a {type(part).__name__}, not a Dataset or (images, labels)")


def _array_attributes(part: Any) -> tuple[Any, Any] | None:
    """torchvision's MNIST and CIFAR keep their images as one uint8 array (`data`) and labels (`targets`): read those
    directly when the data set transforms nothing."""
    data, targets = getattr(part, "data", None), getattr(part, "targets", None)
    if data is None or targets is None or getattr(part, "transform", None) or getattr(part, "target_transform", None):
        return None
    array = data.numpy() if hasattr(data, "numpy") else np.asarray(data)
    return (array, targets) if array.dtype == np.uint8 and array.ndim in (3, 4) else None


def _decode(name: str, split: str, part: Any) -> tuple[np.ndarray, np.ndarray]:
    images, labels, shape = [], [], None
    for i in range(len(part)):
        item = part[i]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise UserError(f"data {name!r}: {split} item {i} is a {type(item).__name__}; a Dataset must give "
                            "(image, label) pairs")
        image = _one_image(name, split, i, item[0])
        if shape is None:
            shape = image.shape
        elif image.shape != shape:
            raise UserError(f"data {name!r}: {split} image {i} is {_text(image.shape)} but earlier images are "
                            f"{_text(shape)}; resize them to one size (e.g. a transform in the Dataset)")
        images.append(image)
        labels.append(int(item[1]))
        if (i + 1) % 10000 == 0:
            print(f"  decoded {i + 1}/{len(part)} {split} images of {name}", file=sys.stderr)
    if not images:
        raise UserError(f"data {name!r}: the {split} Dataset is empty")
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def _text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _one_image(name: str, split: str, index: int, image: Any) -> np.ndarray:
    """A PIL image, tensor or array as uint8 C x H x W."""
    if hasattr(image, "convert") and hasattr(image, "mode"):  # PIL
        image = image.convert("L" if image.mode in ("L", "1", "I;16", "I", "F") else "RGB")
        array = np.asarray(image, dtype=np.uint8)
        return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    array = _to_uint8(name, f"{split} image {index}", _numpy(image))
    if array.ndim == 2:
        return array[None]
    if array.ndim != 3:
        raise UserError(f"data {name!r}: {split} image {index} has shape {array.shape}; expected C x H x W")
    return array


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except ValueError as exc:  # a list of arrays of different shapes
        raise UserError(f"data: images or labels of different shapes cannot be stacked ({exc})") from None


def _to_uint8(name: str, what: str, array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        if array.size and (array.min() < 0 or array.max() > 1):
            raise UserError(f"data {name!r}: {what} are floats outside [0, 1]; give uint8 images (0-255) or floats "
                            "in [0, 1] (as ToTensor makes them), not normalised ones: tuner normalises itself")
        return np.round(array * 255).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer) and array.size and array.min() >= 0 and array.max() <= 255:
        return array.astype(np.uint8)
    raise UserError(f"data {name!r}: {what} have dtype {array.dtype}; give uint8 images or floats in [0, 1]")


def _images(name: str, split: str, images: Any) -> np.ndarray:
    array = _to_uint8(name, f"the {split} images", _numpy(images))
    if array.ndim == 3:
        return np.ascontiguousarray(array[:, None])
    if array.ndim != 4:
        raise UserError(f"data {name!r}: {split} images have shape {array.shape}; expected N x C x H x W, "
                        "N x H x W x C or N x H x W")
    if array.shape[1] not in (1, 3, 4) and array.shape[-1] in (1, 3, 4):
        array = array.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(array)


def _labels(name: str, split: str, labels: Any) -> np.ndarray:
    array = _numpy(labels)
    if array.ndim != 1:
        raise UserError(f"data {name!r}: {split} labels must be one integer per image, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.mod(array, 1) == 0):
            raise UserError(f"data {name!r}: {split} labels must be integers (class indices), got {array.dtype}")
    return array.astype(np.int64)

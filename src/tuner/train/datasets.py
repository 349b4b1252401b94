"""DATASETS: the data sets tuner loads by name, decoded once and cached.

    python -m tuner.data mnist --data-dir ../shared/data

A data spec is `name[:arg]`: `mnist`, `fashion_mnist`, `cifar10`, `imagefolder:PATH[@SIZE]`
(a folder or .tar.gz of class folders, optionally with train/ and test/ inside; @SIZE
resizes to SIZE x SIZE) and `synthetic[:CxHxW]` (generated, for tests).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import os
import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tuner.errors import UserError, run_cli, unknown_name
from tuner.train import datasources, usercode
from tuner.train.data import Dataset, summary
from tuner.train.imagefolder import image_files, imagefolder_source, load_imagefolder

Loader = Callable[..., Dataset]  # (data root, the spec's argument, fetch: may it download?) -> Dataset
DATA_ENV = "TUNER_DATA"
CACHE_ENV = "TUNER_CACHE"
CACHE_VERSION = 1


# ---------------------------------------------------------------- locating data


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """--data-dir, else $TUNER_DATA, else ~/.cache/tuner."""
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    return Path.home() / ".cache" / "tuner"


def cache_dir() -> Path:
    """$TUNER_CACHE, else ~/.cache/tuner/cache: tuner's own folder, never the data's (a shared copy, or the folder a
    user's images live in, stays as it was)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path.home() / ".cache" / "tuner" / "cache"


def _missing(name: str, root: Path, looked_for: str) -> UserError:
    return UserError(
        f"data set {name!r} not found under data root {root} (looked for {looked_for}) and it could not be "
        f"downloaded; put it there or point --data-dir or ${DATA_ENV} at a folder that has it "
        f"(on the project's machines: {DATA_ENV}=../shared/data)")


# ---------------------------------------------------------------- loaders


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find_idx(raw_dir: Path, stem: str) -> Path | None:
    for candidate in (raw_dir / stem, raw_dir / f"{stem}.gz"):
        if candidate.exists():
            return candidate
    return None


def _idx_dataset(folder: str, name: str, classes: list[str]) -> Loader:
    def load(root: Path, arg: str | None, fetch: bool = True) -> Dataset:
        raw = root / folder / "raw"
        stems = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
        paths = [_find_idx(raw, s) for s in stems]
        if None in paths:
            _try_download(folder, root, name, f"{raw}/*-ubyte", fetch)
            paths = [_find_idx(raw, s) for s in stems]
        xtr, ytr, xte, yte = (_read_idx(p) for p in paths)
        return Dataset(name, xtr[:, None].copy(), ytr.astype(np.int64), xte[:, None].copy(), yte.astype(np.int64), classes)
    return load


def _try_download(tv_class: str, root: Path, name: str, looked_for: str, fetch: bool) -> None:
    """torchvision's download (unless `fetch` is False); its mirror-by-mirror chatter on stdout is kept back unless
    it succeeds."""
    if not fetch:
        raise _missing(name, root, looked_for)
    chatter = io.StringIO()
    try:
        root.mkdir(parents=True, exist_ok=True)
        with contextlib.redirect_stdout(chatter):
            download(tv_class, root)
    except Exception as exc:  # any network or filesystem failure means: not available here
        raise _missing(name, root, looked_for) from exc
    print(f"downloaded {name} into {root}", file=sys.stderr)


def download(tv_class: str, root: Path) -> None:
    """torchvision's own download of a data set class (MNIST, FashionMNIST, CIFAR10) into root."""
    import torchvision.datasets as tvd
    getattr(tvd, tv_class)(root=str(root), train=True, download=True)
    getattr(tvd, tv_class)(root=str(root), train=False, download=True)


MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]


def load_cifar10(root: Path, arg: str | None, fetch: bool = True) -> Dataset:
    """The pickled batches torchvision downloads (cifar-10-batches-py) if present, else the ImageFolder JPEG copy,
    else a download."""
    batches = root / "cifar-10-batches-py"
    jpeg = next((p for p in (root / "cifar10-jpeg.tar.gz", root / "cifar10-jpeg") if p.exists()), None)
    if not batches.exists() and jpeg is None:
        _try_download("CIFAR10", root, "cifar10", f"{batches} or {root / 'cifar10-jpeg.tar.gz'}", fetch)
    if batches.exists():
        x_train, y_train = _cifar_batches(batches, [f"data_batch_{i}" for i in range(1, 6)])
        x_test, y_test = _cifar_batches(batches, ["test_batch"])
        meta = _unpickle(batches / "batches.meta")
        return Dataset("cifar10", x_train, y_train, x_test, y_test, [str(c) for c in meta["label_names"]])
    data = load_imagefolder(root, str(jpeg))
    data.name = "cifar10"
    return data


def _cifar_batches(folder: Path, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR's python batches: 10,000 rows of 3x32x32 uint8 each, and their labels."""
    parts = [_unpickle(folder / name) for name in names]
    x = np.concatenate([np.asarray(p["data"], dtype=np.uint8) for p in parts]).reshape(-1, 3, 32, 32)
    y = np.concatenate([np.asarray(p.get("labels", p.get("fine_labels")), dtype=np.int64) for p in parts])
    return x, y


def _unpickle(path: Path) -> dict[str, Any]:
    """A CIFAR batch: a pickled dict of arrays, lists and strings (as published by its authors)."""
    with path.open("rb") as f:
        raw = pickle.load(f, encoding="latin1")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}


def load_synthetic(root: Path, arg: str | None, fetch: bool = True) -> Dataset:
    """Class templates under heavy noise, 15% of labels redrawn at random (so ~87% is the ceiling);
    deterministic. `synthetic[:CxHxW]`, default 1x28x28: 2,000 train and 500 test images."""
    try:
        c, h, w = (int(v) for v in (arg or "1x28x28").split("x"))
    except ValueError:
        raise UserError(f"synthetic shape must be CxHxW like 3x32x32, got {arg!r}") from None
    if min(c, h, w) < 1:
        raise UserError(f"synthetic shape must be CxHxW of positive sizes like 3x32x32, got {arg!r}")
    rng = np.random.default_rng(1234)
    num_classes, n_train, n_test = 10, 2000, 500
    coarse = rng.uniform(0, 1, (num_classes, c, -(-h // 4), -(-w // 4)))
    templates = np.kron(coarse, np.ones((1, 1, 4, 4)))[:, :, :h, :w]

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % num_classes
        rng.shuffle(y)
        x = 0.15 * templates[y] + 0.85 * rng.uniform(0, 1, (n, c, h, w))
        relabel = rng.uniform(size=n) < 0.15
        y[relabel] = rng.integers(0, num_classes, relabel.sum())
        return (x * 255).round().astype(np.uint8), y.astype(np.int64)

    xtr, ytr = make(n_train)
    xte, yte = make(n_test)
    return Dataset(f"synthetic:{c}x{h}x{w}", xtr, ytr, xte, yte, [f"class{i}" for i in range(num_classes)])


DATASETS: dict[str, Loader] = {
    "mnist": _idx_dataset("MNIST", "mnist", MNIST_CLASSES),
    "fashion_mnist": _idx_dataset("FashionMNIST", "fashion_mnist", FASHION_CLASSES),
    "cifar10": load_cifar10,
    "imagefolder": load_imagefolder,
    "synthetic": load_synthetic,
    "torchvision": datasources.load_torchvision,  # torchvision:NAME, a torchvision.datasets class (no download)
    "code": datasources.load_code,  # "package.module:function" or a sweep file's function (tuner.train.datasources)
}
UNCACHED = {"synthetic", "code"}  # a function may read anything: it runs once per sweep, never from a stale cache


def parse_spec(spec: str) -> tuple[str, str | None]:
    name, _, arg = spec.partition(":")
    if name not in DATASETS and usercode.is_reference(spec):
        return "code", spec
    if name not in DATASETS:
        raise unknown_name("data set", name, DATASETS)
    return name, arg or None


def load(spec: str, data_dir: str | os.PathLike | None = None, verbose: bool = True, fetch: bool = True) -> Dataset:
    """Load a data set by spec; decoded images are cached so the second load is a file read. `fetch` False: a data
    set missing here is an error, never a download."""
    name, arg = parse_spec(spec)
    root = data_root(data_dir)
    if name in UNCACHED:
        return DATASETS[name](root, arg, fetch=fetch)
    cache = cache_dir() / f"{_cache_key(name, arg, root)}.npz"
    if cache.exists():
        return _read_cache(cache)
    started = time.perf_counter()
    data = DATASETS[name](root, arg, fetch=fetch)
    _write_cache(cache, data)
    if verbose:
        source = imagefolder_source(arg, root) if name == "imagefolder" else root
        print(f"decoded {spec} from {source} in {time.perf_counter() - started:.1f} s; cached at {cache}",
              file=sys.stderr)
    return data


def load_sized(spec: str, subset: int = 0, data_dir: str | os.PathLike | None = None,
               test_images: int = 500, fetch: bool = True) -> Dataset:
    """The data a sweep trains on: the whole set, or (subset > 0, smoke runs) a stratified subset."""
    dataset = load(spec, data_dir, fetch=fetch)
    return dataset.subset(subset, test_images, seed=0) if subset else dataset


def _cache_key(name: str, arg: str | None, root: Path) -> str:
    """The data set, its root, and for an image folder every file it reads (path, size, mtime): an image added,
    removed or replaced in any class folder is a new key."""
    ident = f"v{CACHE_VERSION}|{name}|{arg}|{root.resolve()}"
    if name == "imagefolder" and arg:
        source = imagefolder_source(arg, root)
        files = image_files(source) if source.is_dir() else [source] if source.exists() else []
        digest = hashlib.sha1()
        for file in files:
            stat = file.stat()
            digest.update(f"{file.relative_to(source) if file != source else file.name}|{stat.st_size}|"
                          f"{stat.st_mtime_ns}\n".encode())
        ident += f"|{source.resolve()}|{digest.hexdigest()}"
    return f"{name}-{hashlib.sha1(ident.encode()).hexdigest()[:12]}"


def _write_cache(path: Path, data: Dataset) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
        np.savez(tmp, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test,
                 classes=np.array(data.classes), name=np.array(data.name))
        tmp.replace(path)
    except OSError as exc:
        print(f"warning: could not write data cache {path}: {exc}", file=sys.stderr)


def _read_cache(path: Path) -> Dataset:
    with np.load(path) as f:
        return Dataset(str(f["name"]), f["x_train"], f["y_train"], f["x_test"], f["y_test"],
                       [str(c) for c in f["classes"]])



EXAMPLES = """examples:
  tuner data mnist                              MNIST from $TUNER_DATA (downloaded there if missing)
  tuner data imagefolder:/path/to/images@32     your own images, one folder per class, resized to 32x32
  tuner data synthetic:3x32x32 --val-fraction 0.2   a synthetic set, a fifth held out for validation
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tuner data", formatter_class=argparse.RawDescriptionHelpFormatter,
                                     description="Load (and cache) a data set and print its summary (python -m "
                                                 "tuner.data is the same).", epilog=EXAMPLES)
    parser.add_argument("spec", help="mnist | fashion_mnist | cifar10 | imagefolder:PATH[@SIZE] | synthetic[:CxHxW]")
    parser.add_argument("--data-dir", help=f"data root (default ${DATA_ENV}, else ~/.cache/tuner)")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--split-seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(summary(load(args.spec, args.data_dir), args.val_fraction, args.split_seed))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

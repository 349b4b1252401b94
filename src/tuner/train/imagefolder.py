"""`imagefolder:PATH[@SIZE]`: a folder or tar archive of class folders (CLASS/IMAGE.jpg, optionally inside train/
and test/), read into a Dataset, and every check on the way: a class folder without images, an image outside a
class folder, a single class, an unreadable image or one over PIL's decompression-bomb limit, mixed sizes without
@SIZE, grayscale and colour modes. tuner.train.datasets registers it (DATASETS["imagefolder"]) and caches it.
"""

from __future__ import annotations

import io
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import numpy as np

from tuner.errors import UserError
from tuner.train.data import Dataset, stratified_split

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
SPLIT_FOLDERS = ("train", "test", "val")
GRAYSCALE_MODES = ("L", "1", "I;16", "I", "F", "LA")


def load_imagefolder(root: Path, arg: str | None, fetch: bool = True) -> Dataset:
    if not arg:
        raise UserError("imagefolder needs a path: imagefolder:PATH[@SIZE]")
    size_text = arg.partition("@")[2]
    size = _parse_size(size_text) if size_text else None
    path = imagefolder_source(arg, root)
    if not path.exists():
        raise UserError(f"imagefolder path {path} does not exist")
    files, folders = _tar_tree(path) if path.is_file() else _dir_tree(path)
    if not files:
        raise UserError(f"imagefolder {path} holds no images in class folders (expected CLASS/IMAGE.jpg)")
    _check_class_folders(path, folders, [name for name, _ in files])
    return _decode_tree(path, files, size)


def image_files(path: Path) -> list[Path]:
    """The image files under a folder, sorted: what an image folder reads, and what the data cache's key hashes."""
    return [f for f in sorted(path.rglob("*")) if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()]


def _check_class_folders(path: Path, folders: set[str], images: list[str]) -> None:
    """A class folder without images would silently drop a class the user meant to train on. Class folders are the
    folders beside a folder that holds images, and those inside a train/test/val folder (paths relative to the
    top, as a folder or a tar archive lists them)."""
    parents = {PurePosixPath(i).parent.parent for i in images} | {
        PurePosixPath(f) for f in folders if PurePosixPath(f).name in SPLIT_FOLDERS}
    holding = {parent for i in images for parent in PurePosixPath(i).parents}
    for folder in sorted(PurePosixPath(f) for f in folders):
        if folder.parent in parents and folder not in holding and not folder.name.startswith(".") \
                and folder.name not in SPLIT_FOLDERS:
            raise UserError(f"imagefolder {path}: class folder {folder} holds no images ("
                            f"{', '.join(sorted(IMAGE_SUFFIXES))}); add some or remove the folder")


def _parse_size(text: str) -> int:
    if not text.isdigit() or int(text) < 4:
        raise UserError(f"imagefolder size must be an integer >= 4, got {text!r}")
    return int(text)


def _dir_tree(path: Path) -> tuple[list[tuple[str, Callable[[], bytes]]], set[str]]:
    """The images under a folder (path relative to it, a reader) and every folder under it."""
    images = [(f.relative_to(path).as_posix(), f.read_bytes) for f in image_files(path)]
    return images, {f.relative_to(path).as_posix() for f in path.rglob("*") if f.is_dir()}


def _tar_tree(path: Path) -> tuple[list[tuple[str, Callable[[], bytes]]], set[str]]:
    """The images in a tar archive (path inside it, a reader) and every folder it holds, listed or implied."""
    images, folders = [], set()
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                name = PurePosixPath(member.name)
                folders.update(p.as_posix() for p in name.parents if p.as_posix() != ".")
                if member.isdir() and name.as_posix() != ".":
                    folders.add(name.as_posix())
                if member.isfile() and name.suffix.lower() in IMAGE_SUFFIXES:
                    payload = tar.extractfile(member).read()
                    images.append((name.as_posix(), lambda b=payload: b))
    except tarfile.TarError as exc:
        raise UserError(f"imagefolder {path} is not a readable tar archive: {exc}") from exc
    return images, folders


def _decode_tree(path: Path, files: list[tuple[str, Callable[[], bytes]]], size: int | None) -> Dataset:
    """Class = parent folder; split = a `train`/`test`/`val` folder above it if any."""
    from PIL import Image

    records = []
    for rel, _ in files:
        parts = Path(rel).parts
        if len(parts) < 2 or parts[-2] in SPLIT_FOLDERS:
            raise UserError(f"imagefolder {path}: {rel} is not inside a class folder; images belong in CLASS/IMAGE.jpg "
                            f"(or train/CLASS/IMAGE.jpg and test/CLASS/IMAGE.jpg)")
        split = next((p for p in parts[:-2] if p in SPLIT_FOLDERS), "train")
        records.append((split if split != "val" else "test", parts[-2]))
    classes = sorted({cls for _, cls in records})
    if len(classes) < 2:
        raise UserError(f"imagefolder {path} has one class ({classes[0]!r}): a classifier needs at least 2 classes, "
                        f"one folder of images each")
    index = {cls: i for i, cls in enumerate(classes)}
    images, shape = [], None
    for i, (rel, read) in enumerate(files):
        try:
            img = Image.open(io.BytesIO(read()))
            img = img.convert("L" if img.mode in GRAYSCALE_MODES else "RGB")
        except Image.DecompressionBombError as exc:
            raise UserError(f"imagefolder {path}: {rel} is over PIL's decompression-bomb limit "
                            f"({exc}); shrink it or leave it out") from None
        except (OSError, ValueError, SyntaxError) as exc:  # PIL's UnidentifiedImageError and truncated files
            raise UserError(f"imagefolder {path}: {rel} is not a readable image ({exc})") from None
        if size:
            img = img.resize((size, size), Image.BILINEAR)
        arr = np.asarray(img, dtype=np.uint8)
        arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        if shape is None:
            shape = arr.shape
        elif arr.shape[1:] != shape[1:]:
            raise UserError(f"imagefolder {path}: {rel} is {arr.shape[1:]} but earlier images are {shape[1:]}; "
                            f"add @SIZE to the spec to resize all images, e.g. imagefolder:{path}@32")
        images.append(arr)
        if (i + 1) % 10000 == 0:
            print(f"  decoded {i + 1}/{len(files)} images", file=sys.stderr)
    gray = sum(len(arr) == 1 for arr in images)
    if 0 < gray < len(images):  # one colour image makes the set RGB: a grayscale one is its value on each channel
        images = [np.repeat(arr, 3, axis=0) if len(arr) == 1 else arr for arr in images]
        print(f"  {path} mixes grayscale and colour images: its {gray} grayscale images are loaded as RGB",
              file=sys.stderr)
    x = np.stack(images)
    y = np.array([index[cls] for _, cls in records], dtype=np.int64)
    is_test = np.array([split == "test" for split, _ in records])
    if not is_test.any():
        keep, test = stratified_split(y, 0.2, seed=0)
        is_test = np.zeros(len(y), bool)
        is_test[test] = True
        print(f"  {path} has no test/ folder: a seeded stratified 20% is held out as test", file=sys.stderr)
    name = f"imagefolder:{path}"
    return Dataset(name, x[~is_test], y[~is_test], x[is_test], y[is_test], classes)


def imagefolder_source(arg: str | None, root: Path) -> Path:
    """The folder or archive `imagefolder:PATH` names, as load_imagefolder finds it (relative to the data root when
    it is not relative to the working folder)."""
    path = Path((arg or "").partition("@")[0]).expanduser()
    return root / path if not path.is_absolute() and not path.exists() and (root / path).exists() else path

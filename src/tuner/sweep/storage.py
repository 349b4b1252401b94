"""Run folders at a URI (s3://, gs://, file://): shared storage that every node of a cluster reaches.

`--results s3://bucket/runs/cifar` hands the URI to Ray Tune as `RunConfig(storage_path=...)`, so trial
checkpoints go straight there from whichever node runs the trial (a node that dies loses nothing). The
driver writes the rest of the run folder (trials.csv, best.json, report, ...) into a local staging folder
`runs/<name>`, copies sweep.py and spec.json there at once (so another machine can resume a killed run) and
the rest at the end. `--resume URI` fetches the run folder (all but Ray's experiment) into a fresh local copy
and restores Ray's experiment from the URI. Filesystems are pyarrow's, the ones Ray itself uses.
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tuner.errors import UserError

PARTIAL = ".partial-"  # a file being copied to a URI, renamed once whole


def read_state(filesystem: Any, path: str) -> dict[str, Any]:
    """A checkpoint's state.pt at `path` on a pyarrow filesystem (Ray's storage: a local folder or a URI), on the
    CPU; raises if it is missing or unreadable (written halfway)."""
    import torch
    from pyarrow import fs

    if isinstance(filesystem, fs.LocalFileSystem):
        return torch.load(path, map_location="cpu", weights_only=True)
    with filesystem.open_input_stream(path) as stream:
        return torch.load(io.BytesIO(stream.read()), map_location="cpu", weights_only=True)


def is_uri(location: str | Path | None) -> bool:
    return location is not None and "://" in str(location)


def staging_dir(uri: str) -> Path:
    """The local copy of a URI's run folder: runs/<last part of the URI>."""
    name = Path(urlparse(uri).path.rstrip("/")).name
    if not name:
        raise UserError(f"--results {uri}: name a folder, e.g. {uri.rstrip('/')}/my-sweep")
    return Path("runs") / name


def _filesystem(uri: str):
    import pyarrow.fs

    try:
        return pyarrow.fs.FileSystem.from_uri(uri)
    except Exception as exc:  # unknown scheme, missing credentials, unreachable endpoint
        raise UserError(f"cannot open {uri}: {exc}") from None


def exists(location: str, name: str = "") -> bool:
    """Whether `location` (a URI or a local path), or the entry `name` inside it, exists."""
    import pyarrow.fs

    fs, path = _filesystem(location)
    try:
        info = fs.get_file_info(f"{path.rstrip('/')}/{name}" if name else path)
    except Exception as exc:
        raise UserError(f"cannot read {location}: {exc}") from None
    return info.type != pyarrow.fs.FileType.NotFound


def upload(run_dir: Path, uri: str, names: list[str] | None = None) -> None:
    """Copy the local run folder's files (or only `names`) to the URI (Ray's experiment is already there). A copy
    killed halfway leaves the URI's earlier file whole: where renaming is atomic (file://, a mounted folder) each
    file is written under a temporary name and renamed; an object store's put is atomic by itself."""
    import pyarrow.fs

    fs, path = _filesystem(uri)
    base = run_dir.resolve()
    files = [p for p in sorted(base.rglob("*")) if p.is_file()] if names is None else [base / n for n in names]
    root = path.rstrip("/")
    for folder in sorted({root} | {f"{root}/{f.parent.relative_to(base).as_posix()}" for f in files
                                   if f.parent != base}):
        fs.create_dir(folder, recursive=True)
    atomic = isinstance(fs, pyarrow.fs.LocalFileSystem)
    local = pyarrow.fs.LocalFileSystem()
    for file in files:
        target = f"{root}/{file.relative_to(base).as_posix()}"
        partial = f"{target}{PARTIAL}{uuid.uuid4().hex[:8]}" if atomic else target
        pyarrow.fs.copy_files(str(file), partial, source_filesystem=local, destination_filesystem=fs)
        if atomic:
            fs.move(partial, target)


def download_run(uri: str, skip_prefix: str = "ray") -> Path:
    """Fetch a run folder at a URI, all but Ray's experiment folders, into a fresh local copy runs/<name>. An
    existing local copy is moved aside (runs/<name>.previous-<time>), never merged: the URI is the truth, and
    stale local files would be uploaded back at the end."""
    import pyarrow.fs

    fs, path = _filesystem(uri)
    local = staging_dir(uri)
    if local.exists() and any(local.iterdir()):
        aside = local.with_name(f"{local.name}.previous-{datetime.now():%Y%m%d-%H%M%S}")
        local.rename(aside)
        print(f"the earlier local copy of {uri} was moved to {aside}", flush=True)
    local.mkdir(parents=True, exist_ok=True)
    root = path.rstrip("/")
    for entry in _files(fs, root, uri, skip_prefix):
        target = local / entry.path[len(root) + 1:]
        target.parent.mkdir(parents=True, exist_ok=True)
        pyarrow.fs.copy_files(entry.path, str(target.resolve()), source_filesystem=fs,
                              destination_filesystem=pyarrow.fs.LocalFileSystem())
    return local


def _files(fs, root: str, uri: str, skip_prefix: str) -> list:
    """The files of the run folder at `root`, in its subfolders too (the report's), but not under the top-level
    entries named `skip_prefix`* (Ray's experiments, listed by Tune itself) nor copies a kill left halfway."""
    import pyarrow.fs

    try:
        entries = []
        for entry in fs.get_file_info(pyarrow.fs.FileSelector(root, recursive=False)):
            if entry.base_name.startswith(skip_prefix):
                continue
            entries += fs.get_file_info(pyarrow.fs.FileSelector(entry.path, recursive=True)) \
                if entry.type == pyarrow.fs.FileType.Directory else [entry]
    except Exception as exc:
        raise UserError(f"cannot read {uri}: {exc}") from None
    return [e for e in entries if e.type == pyarrow.fs.FileType.File and PARTIAL not in e.base_name]


def check_visible_from_every_node(location: str, what: str) -> None:
    """On a cluster, every alive node must reach the storage trials checkpoint to: a marker written here is looked
    for by a tiny task pinned to each node. A local folder on the head's disk is not visible from other machines,
    and every trial would fail at its first checkpoint; better one clear error before the sweep starts."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    marker = f".tuner-visible-{uuid.uuid4().hex[:12]}"
    _write_marker(location, marker)
    try:
        probe = ray.remote(num_cpus=0, max_retries=0)(_sees)
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        refs = [probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                .remote(location, marker) for n in nodes]
        seen = ray.get(refs, timeout=120)
    finally:
        _remove_marker(location, marker)
    blind = [n.get("NodeManagerAddress", n["NodeID"]) for n, ok in zip(nodes, seen) if not ok]
    if blind:
        raise UserError(f"{what} {location} is not visible from {len(blind)} of {len(nodes)} nodes "
                        f"({', '.join(blind)}): trials checkpoint there from whichever node runs them; use shared "
                        f"storage (--results s3://BUCKET/runs/NAME, gs://...) or a path mounted on every node")


def _sees(location: str, marker: str) -> bool:
    try:
        return exists(location, marker)
    except UserError:
        return False


def _write_marker(location: str, marker: str) -> None:
    if is_uri(location):
        fs, path = _filesystem(location)
        with fs.open_output_stream(f"{path.rstrip('/')}/{marker}") as out:
            out.write(b"tuner")
    else:
        Path(location).mkdir(parents=True, exist_ok=True)
        (Path(location) / marker).write_text("tuner")


def _remove_marker(location: str, marker: str) -> None:
    try:
        if is_uri(location):
            fs, path = _filesystem(location)
            fs.delete_file(f"{path.rstrip('/')}/{marker}")
        else:
            (Path(location) / marker).unlink(missing_ok=True)
    except Exception:  # a marker left behind is harmless
        pass


EXPERIMENT_STATE_PREFIX = "experiment_state-"  # Ray Tune's snapshot of an experiment: what Tuner.restore needs


def restorable(location: str, folder: str) -> bool:
    """Whether Ray Tune snapshotted the experiment `folder` at `location` (a URI or a local path) at least once, so
    that Tuner.restore can continue it. A folder a driver killed while Tune was starting left with tuner.pkl and no
    snapshot is removed: the phase starts again."""
    import pyarrow.fs

    fs, path = _filesystem(location)
    target = f"{path.rstrip('/')}/{folder}"
    try:
        entries = fs.get_file_info(pyarrow.fs.FileSelector(target, allow_not_found=True))
    except Exception as exc:
        raise UserError(f"cannot read {location}: {exc}") from None
    if any(e.base_name.startswith(EXPERIMENT_STATE_PREFIX) and e.base_name.endswith(".json") for e in entries):
        return True
    if entries:
        fs.delete_dir(target)
    return False

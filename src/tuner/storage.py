"""Run folders at a URI (s3://, gs://, file://): shared storage that every node of a cluster reaches.

`--results s3://bucket/runs/cifar` hands the URI to Ray Tune as `RunConfig(storage_path=...)`, so trial
checkpoints go straight there from whichever node runs the trial (a node that dies loses nothing). The
driver writes the rest of the run folder (trials.csv, best.json, report, ...) into a local staging folder
`runs/<name>` and copies it beside Ray's experiment at the end. `--resume URI` fetches the small files
back and restores Ray's experiment from the URI. Filesystems are pyarrow's, the ones Ray itself uses.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from tuner.errors import UserError


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


def upload(run_dir: Path, uri: str) -> None:
    """Copy the local run folder's files to the URI (Ray's experiment is already there)."""
    import pyarrow.fs

    fs, path = _filesystem(uri)
    pyarrow.fs.copy_files(str(run_dir.resolve()), path, source_filesystem=pyarrow.fs.LocalFileSystem(),
                          destination_filesystem=fs)


def download(uri: str, names: list[str]) -> Path:
    """Fetch the named top-level files of a run folder at a URI into its staging folder."""
    import pyarrow.fs

    fs, path = _filesystem(uri)
    local = staging_dir(uri)
    local.mkdir(parents=True, exist_ok=True)
    for name in names:
        if exists(uri, name):
            pyarrow.fs.copy_files(f"{path.rstrip('/')}/{name}", str((local / name).resolve()),
                                  source_filesystem=fs, destination_filesystem=pyarrow.fs.LocalFileSystem())
    return local

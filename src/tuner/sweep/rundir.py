"""Where a run lives: a new run folder (never shared by two sweeps), the --results check made before anything
slow, the folder --resume opens, and where Ray Tune keeps the experiment."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from tuner import runspec
from tuner.errors import UserError
from tuner.runfolder import SPEC_FILE, SWEEP_FILE
from tuner.runspec import RunSpec
from tuner.sweep import storage


def new_run_dir(name: str, results: str | None) -> Path:
    """The folder a new run writes: --results (a URI's local copy), else runs/<name>-<time>, made exclusively."""
    if storage.is_uri(results):
        if storage.exists(results):
            raise UserError(f"--results {results} exists; resume it with --resume {results}")
        run_dir = storage.staging_dir(results)
        if run_dir.exists() and any(run_dir.iterdir()):
            raise UserError(f"{run_dir} (the local copy of --results {results}) exists and is not empty")
        return run_dir
    if results:
        run_dir = Path(results)
        if run_dir.exists() and any(run_dir.iterdir()):
            raise UserError(f"--results {run_dir} exists and is not empty; resume it with --resume {run_dir}")
        return run_dir
    stamp = Path("runs") / f"{name}-{datetime.now():%Y%m%d-%H%M%S}"
    stamp.parent.mkdir(parents=True, exist_ok=True)
    for number in range(1, 1000):  # created here, exclusively: two sweeps started in the same second get two folders
        run_dir = stamp if number == 1 else stamp.with_name(f"{stamp.name}-{number}")
        try:
            run_dir.mkdir()
            return run_dir
        except FileExistsError:
            continue
    raise UserError(f"{stamp}: a thousand run folders of this name exist; give --results DIR")


def check_results_location(results: str | None) -> None:
    """--results (or runs/ for the default run folder) must be a folder tuner can write, or one it can create:
    checked before the data loads and the timing probe, so a typo costs nothing. Leaves nothing behind."""
    if storage.is_uri(results):
        return
    target = Path(results) if results else Path("runs")
    what = f"--results {results}" if results else f"the run folders' folder {target.resolve()}"
    if target.exists() and not target.is_dir():
        raise UserError(f"{what} is a file, not a folder; give a folder (new or empty) to write the run into")
    existing = next(p for p in (target, *target.resolve().parents) if p.exists())
    if not existing.is_dir():
        raise UserError(f"{what} lies under {existing}, which is a file, not a folder")
    try:
        shutil.rmtree(tempfile.mkdtemp(prefix=".tuner-check-", dir=existing))
    except OSError as exc:
        raise UserError(f"{what} cannot be written: {existing} is not writable ({exc.strerror})") from None


def open_run(location: str) -> tuple[Path, RunSpec]:
    """A run --resume can continue (a folder, or a URI whose small files are fetched into runs/<name>): it has
    spec.json and sweep.py (a sweep killed before Ray Tune's first snapshot starts its phase again). Returns the
    local folder and its spec.json."""
    run_dir = storage.download_run(location) if storage.is_uri(location) else Path(location)
    missing = [name for name in (SPEC_FILE, SWEEP_FILE) if not (run_dir / name).exists()]
    if missing:
        raise UserError(f"--resume {location} is not a tuner run folder (missing: {', '.join(missing)})")
    return run_dir, runspec.read_spec(run_dir, f"--resume {location}", required=("sweep", "fixed_config", "cli"))


def experiment_path(run_dir: Path, results: str | None) -> str:
    """Where Ray Tune keeps the experiment and checkpoints: the --results URI, else the run folder."""
    return results if storage.is_uri(results) else str(run_dir.resolve())

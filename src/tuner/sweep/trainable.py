"""The Ray Tune function trainable: a thin adapter around train.fit.

It restores from Tune's checkpoint if the trial is being retried or resumed, trains on the
data set the driver put into the object store once (tune.with_parameters), and reports
every epoch with a checkpoint holding the full resumable state. A budgeted search's promotion by continuation
(config CONTINUED_FROM) starts from the last checkpoint of the trial it names, read through Ray's storage (a local
folder or a URI, as Tune wrote it); a CONTINUABLE trial's last checkpoint keeps its last weights and optimizer.

A configuration that cannot run (a UserError: the sweep's checks before Ray start catch these, but a
define-by-run space can still propose one they did not sample) is reported once with status
`config_error` and its message, and the trial ends: retrying cannot fix it. Retries (max_failures) are
for crashes and lost processes or nodes.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune

from tuner.errors import UserError
from tuner.sweep import owncode
from tuner.sweep.storage import read_state
from tuner.runfolder import (CHECKPOINT_PREFIX, CONTINUABLE, CONTINUED_FROM, PBT_PATH, RECORDED_FILE, STATE_FILE,
                             path_text, training_values, trial_dirname, trial_id_of)
from tuner.status import FitEnd
from tuner.train.checks import validate
from tuner.train.config import TrainConfig
from tuner.train.data import Dataset
from tuner.train.evaluation import load_file
from tuner.train.loop import COPIED_FROM, fit

REPORTED = ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "epoch_time_s", "status", "num_params",
            "latency_ms")  # latency_ms: NaN but on the epoch the run ended


def load_state(checkpoint: tune.Checkpoint) -> dict[str, Any]:
    with checkpoint.as_directory() as folder:
        return load_file(Path(folder) / STATE_FILE)


def restored_state(checkpoint: tune.Checkpoint) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The state a trial resumes from, and the epochs it holds that the run folder lost (a killed driver's: see
    tuner.sweep.lifecycle.CheckpointsOnDisk); one of another trial's checkpoints (a population-based scheduler's
    copy) names that trial (fit records it in the state's hyperparameter path)."""
    with checkpoint.as_directory() as folder:
        state = load_file(Path(folder) / STATE_FILE)
        recorded = Path(folder) / RECORDED_FILE
        last = json.loads(recorded.read_text())["epoch"] if recorded.exists() else state["epoch"]
    donor = trial_id_of(Path(checkpoint.path).parent)
    if donor != tune.get_context().get_trial_id():
        state[COPIED_FROM] = donor
        return state, []  # what the donor's run folder lost is the donor's to report
    return state, [r for r in state["tracker"]["history"] if r["epoch"] > last]


def metrics(record: dict[str, Any], saved: dict[str, Any]) -> dict[str, Any]:
    """What a trial reports to Tune for one epoch (`saved`: its state after that epoch, or a later one)."""
    reported = {**{k: record[k] for k in REPORTED}, "reported_at": time.time(),  # wall clock, for timelines
                "threads": torch.get_num_threads(),  # `tuner rerun` trains on as many, on the same path
                "training_path": saved["training_path"]}
    if saved["tracker"].get("path"):  # a population-based scheduler changed its hyperparameters
        reported[PBT_PATH] = path_text(saved["tracker"]["path"])
    return reported


def donor_state(trial_id: str) -> dict[str, Any]:
    """The state in the last checkpoint of this experiment's trial `trial_id` (the highest checkpoint_* folder: Tune
    keeps the latest ones), read from the storage Tune writes to (pyarrow's filesystem, as Ray's)."""
    import pyarrow.fs

    storage = tune.get_context().get_storage()
    fs, folder = storage.storage_filesystem, f"{storage.experiment_fs_path}/{trial_dirname(trial_id)}"
    found = fs.get_file_info(pyarrow.fs.FileSelector(folder, allow_not_found=True))
    names = sorted(i.base_name for i in found if i.base_name.startswith(CHECKPOINT_PREFIX) and i.type ==
                   pyarrow.fs.FileType.Directory)
    if not names:
        raise RuntimeError(f"trial {trial_id} left no checkpoint in {folder} to continue from")
    return read_state(fs, f"{folder}/{names[-1]}/{STATE_FILE}")


def run_trial(config: dict[str, Any], data: Dataset, code: bytes | None = None) -> None:
    """Train one trial's configuration (a retried or resumed one from its checkpoint), reporting every epoch. `code`:
    the sweep's own functions this process cannot import (tuner.sweep.owncode)."""
    try:
        owncode.install(code)
        cfg = TrainConfig.from_dict(training_values(config))
        validate(cfg)
    except UserError as exc:
        return _report_config_error(exc)
    if cfg.device == "auto" and not ray.get_gpu_ids():
        cfg = cfg.replace(device="cpu")  # no GPU reserved for this trial: never borrow one
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    torch.set_num_threads(max(1, int(cpus)))
    checkpoint = tune.get_checkpoint()
    resume, unrecorded = restored_state(checkpoint) if checkpoint else (None, [])
    for record in unrecorded:  # trained before a driver was killed, its result lost: reported, not trained again
        tune.report(metrics(record, resume))
    start_from = donor_state(config[CONTINUED_FROM]) if resume is None and config.get(CONTINUED_FROM) else None

    def report(record: dict[str, Any], state: Any) -> None:
        with tempfile.TemporaryDirectory() as folder:
            saved = state()
            torch.save(saved, Path(folder) / STATE_FILE)
            tune.report(metrics(record, saved), checkpoint=tune.Checkpoint.from_directory(folder))

    try:
        fit(cfg, data, on_epoch=report, resume=resume, start_from=start_from,
            keep_last_state=bool(config.get(CONTINUABLE)))
    except UserError as exc:  # raised while building the run (model, splits), before any epoch
        _report_config_error(exc)


def _report_config_error(exc: UserError) -> None:
    """One result that ends the trial: the searcher and trial scheduler see no value (NaN)."""
    tune.report({"epoch": 0, "status": FitEnd.CONFIG_ERROR.value, "error": str(exc), "val_acc": math.nan, "val_loss": math.nan,
                 "reported_at": time.time()})

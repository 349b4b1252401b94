"""--resume after a kill that left Ray's snapshot behind a trial's checkpoints (tuner.sweep.lifecycle.mend_checkpoint):
the trial goes on from its newest checkpoint that loads, under the name the snapshot gives, and is told which epochs
the run folder lost. The whole kill is tests/e2e/test_fault_tolerance.py."""

import json

import torch
from pyarrow import fs

from tuner.runfolder import RECORDED_FILE, STATE_FILE
from tuner.sweep.lifecycle import mend_checkpoint


def checkpoint(trial_dir, index: int, epoch: int | None) -> str:
    """A checkpoint folder whose state holds `epoch`; None: a state.pt written halfway (it does not load)."""
    folder = trial_dir / f"checkpoint_{index:06d}"
    folder.mkdir(parents=True)
    if epoch is None:
        (folder / STATE_FILE).write_bytes(b"PK\x03\x04 cut off")
    else:
        torch.save({"epoch": epoch, "tracker": {"history": []}}, folder / STATE_FILE)
    return str(folder)


def epoch_at(path: str) -> int:
    return torch.load(f"{path}/{STATE_FILE}", weights_only=True)["epoch"]


def test_a_deleted_named_checkpoint_is_replaced_by_the_newest_that_loads_and_told_the_epochs_recorded(tmp_path):
    named = str(tmp_path / "checkpoint_000001")  # the snapshot's, deleted when epoch 3's registered
    checkpoint(tmp_path, 2, 3)
    checkpoint(tmp_path, 3, 4)  # written by the trial's process after the driver's last copy
    checkpoint(tmp_path, 4, None)  # written halfway when the kill came
    assert mend_checkpoint(fs.LocalFileSystem(), named, recorded_epoch=2)
    assert epoch_at(named) == 4
    assert json.loads((tmp_path / "checkpoint_000001" / RECORDED_FILE).read_text()) == {"epoch": 2}


def test_an_existing_named_checkpoint_behind_a_newer_one_gives_way(tmp_path):
    named = checkpoint(tmp_path, 1, 2)  # registered; epoch 3's written but not yet registered
    checkpoint(tmp_path, 2, 3)
    assert mend_checkpoint(fs.LocalFileSystem(), named, recorded_epoch=2)
    assert epoch_at(named) == 3 and not (tmp_path / "checkpoint_000002").exists()


def test_the_named_checkpoint_alone_is_left_as_it_is(tmp_path):
    named = checkpoint(tmp_path, 1, 2)
    checkpoint(tmp_path, 0, 1)  # older ones are never taken
    assert not mend_checkpoint(fs.LocalFileSystem(), named, recorded_epoch=2)
    assert epoch_at(named) == 2 and not (tmp_path / "checkpoint_000001" / RECORDED_FILE).exists()


def test_nothing_that_loads_leaves_the_trial_to_ray(tmp_path):
    named = str(tmp_path / "checkpoint_000001")
    checkpoint(tmp_path, 2, None)
    assert not mend_checkpoint(fs.LocalFileSystem(), named, recorded_epoch=2)
    assert not (tmp_path / "checkpoint_000001").exists()

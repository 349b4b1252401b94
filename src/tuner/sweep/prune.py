"""Bounded disk after a phase: a trial that has ended keeps only what `--resume`, `tuner rerun` and the report need.

A trial saves its whole resumable state every epoch (weights, optimizer, schedule, the best epoch's weights: about 4x
the weights with Adam). One that ended by itself already saves train.loop.ended_state; one a trial scheduler or the
time budget cut short saved the full state, since it could not know no epoch would follow. Once the phase's fit() has
returned, Ray Tune's snapshot of the experiment says those trials TERMINATED, and neither `--resume` (which restarts
unfinished and never finished trials) nor anything else trains them again: each of their checkpoints is rewritten as
its ended state. Trials that errored or were interrupted keep everything (they may still be resumed), and so do a
budgeted search's continuable trials while its phase was interrupted: a promotion proposed after `--resume` continues
from their last state (weights and optimizer); once the phase ends they are slimmed too.
"""

from __future__ import annotations

import io
from typing import Any

from tuner.runfolder import CHECKPOINT_PREFIX, CONTINUABLE, STATE_FILE
from tuner.sweep.storage import read_state


def prune_ended(grid: Any, ended: Any) -> int:
    """Rewrite every checkpoint of each trial of `grid` (a phase's ResultGrid) that ended without error (`ended`: the
    phase's TrialEnds) as its ended state, at the storage the trial wrote to (a local folder or a URI); returns how
    many were rewritten. Runs after fit() returned, so Ray's snapshot already records each of these trials ended."""
    count = 0
    for result in grid:
        trial_id = (result.metrics or {}).get("trial_id")
        if result.error is not None or trial_id is None or ended.unfinished(trial_id):
            continue
        if ended.signal and (result.config or {}).get(CONTINUABLE):  # a promotion after --resume continues it
            continue
        checkpoints = {c.path: c for c, _ in (result.best_checkpoints or [])}
        if result.checkpoint is not None:
            checkpoints[result.checkpoint.path] = result.checkpoint
        count += sum(_slim(c.filesystem, f"{path}/{STATE_FILE}") for path, c in checkpoints.items())
        for path, c in list(checkpoints.items())[:1]:
            _drop_unlisted(c.filesystem, path.rstrip("/").rpartition("/")[0], set(checkpoints))
    return count


def _drop_unlisted(fs: Any, trial_dir: str, kept: set[str]) -> None:
    """Checkpoint folders of an ended trial that Ray does not list: ones its process wrote after the driver that
    would have registered them was killed (the resumed trial wrote its own)."""
    import pyarrow.fs

    kept = {k.rstrip("/") for k in kept}
    for info in fs.get_file_info(pyarrow.fs.FileSelector(trial_dir)):
        if info.type == pyarrow.fs.FileType.Directory and info.base_name.startswith(CHECKPOINT_PREFIX) \
                and info.path.rstrip("/") not in kept:
            fs.delete_dir(info.path)


def _slim(fs: Any, path: str) -> bool:
    """A checkpoint's state.pt rewritten as its ended state, under a temporary name then renamed (a kill halfway
    leaves the old file whole); False if it holds no more than that already."""
    import pyarrow.fs
    import torch

    from tuner.train.loop import ended_state

    if fs.get_file_info(path).type != pyarrow.fs.FileType.File:
        return False
    state = read_state(fs, path)
    slim = ended_state(state)
    if slim.keys() == state.keys():
        return False
    buffer = io.BytesIO()
    torch.save(slim, buffer)
    partial = f"{path}.partial"
    with fs.open_output_stream(partial) as out:
        out.write(buffer.getvalue())
    fs.move(partial, path)
    return True

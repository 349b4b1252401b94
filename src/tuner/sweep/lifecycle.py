"""What happened to each trial in one Tuner.fit(): ended (by itself, its trial scheduler or an error), ended
in an earlier run of the same sweep, or still unfinished when the sweep stopped; and whether Ctrl-C or
SIGTERM stopped it.

Tune treats SIGINT as "stop after this step, save the experiment and return normally": `fit()` returns a
ResultGrid that looks like a finished one. Trials that were running are saved as running (so `--resume`
continues them from their checkpoints), but Tune's own cleanup marks them TERMINATED in memory. This
callback records the difference: a trial Tune never reported complete or errored in this run, and that had
not ended before it, was cut off.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any

from ray.tune import Callback

from tuner.runfolder import CHECKPOINT_PREFIX, RECORDED_FILE, STATE_FILE
from tuner.sweep.storage import read_state

INTERRUPTS: dict[str, str] = {}  # "last": the signal the command received last (tuner.sweep.cli notes it)


def signalled() -> bool:
    """Whether Ctrl-C or SIGTERM came since the command started (tuner.sweep.cli notes each). The KeyboardInterrupt
    it raises can be lost: the garbage collector runs weakref callbacks and __del__ methods at any moment, and an
    exception raised inside one is only printed ("Exception ignored in ...") while the command goes on. Where the run
    would be chosen, tested or called complete, this asks again."""
    return "last" in INTERRUPTS


def interrupt_signal() -> str:
    """The name of the signal behind the KeyboardInterrupt being handled: SIGINT unless the command noted another."""
    return INTERRUPTS.get("last") or "SIGINT"


ENDED = ("TERMINATED", "ERROR")  # Ray Tune's own trial states (ray.tune.experiment.Trial), not tuner.status


class TrialEnds(Callback):
    current: TrialEnds | None = None  # the instance of the fit() running now (callbacks are restored by Tune)

    def __init__(self) -> None:
        self._reset()

    def setup(self, *args: Any, **kwargs: Any) -> None:
        """Called by Tune at the start of every fit(), a restored one too, once Tune's SIGINT handler is installed."""
        self._reset()
        self._watch_signals()

    def _reset(self) -> None:
        self.ended: set[str] = set()
        self.ended_before: set[str] | None = None
        self.signal: str | None = None
        TrialEnds.current = self

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        if self.ended_before is None:
            self.ended_before = {t.trial_id for t in trials if t.status in ENDED}

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.ended.add(trial.trial_id)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.ended.add(trial.trial_id)

    def unfinished(self, trial_id: str) -> bool:
        return trial_id not in self.ended and trial_id not in (self.ended_before or set())

    def _watch_signals(self) -> None:
        """Tune installed its SIGINT handler before it set up its callbacks: note the signal, then let Tune stop as
        it does for Ctrl-C. SIGTERM (a scheduler or `kill` ending the job) takes the same graceful path. Tune installs
        the same handler for SIGUSR1 and puts the previous SIGINT handler back once it fired: a SIGINT handler that is
        not Tune's any more means Ctrl-C came while Tune was starting."""
        tune_handler = signal.getsignal(signal.SIGINT)
        tune_usr1 = signal.getsignal(signal.SIGUSR1) if hasattr(signal, "SIGUSR1") else None
        if callable(tune_usr1) and tune_usr1 is not tune_handler \
                and getattr(tune_usr1, "__name__", "") == "signal_interrupt_tune_run":
            self.signal = "SIGINT"
            return
        if not callable(tune_handler) or tune_handler is signal.default_int_handler:
            return

        def on_signal(number: int, frame: Any) -> None:
            self.signal = signal.Signals(number).name
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
            tune_handler(number, frame)

        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)


class CheckpointsOnDisk(Callback):
    """--resume continues each unfinished trial from the newest checkpoint its process wrote that loads, where Ray's
    snapshot names another. Ray copies its snapshot and the trials' result.json files into the run folder
    together, in a background thread, while trial processes write their checkpoints there directly and the driver
    deletes a trial's older checkpoint as soon as it registers a newer one (num_to_keep 1). A driver killed in between
    leaves a snapshot that names a checkpoint that is gone (Ray's restore then fails the trial at every retry: lost),
    or one older than a checkpoint a trial's process wrote (its epochs would run again). On the first step of a
    restored fit, each such trial takes its newest checkpoint that loads under the name the snapshot gives; one
    beyond the last epoch the run folder records carries RECORDED_FILE, and the trial first reports the epochs its
    state holds that the run folder lost (tuner.sweep.trainable), then trains on."""

    def setup(self, *args: Any, **kwargs: Any) -> None:
        self.checked = False

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        if getattr(self, "checked", True):
            return
        self.checked = True
        for trial in trials:
            if trial.status not in ENDED and trial.checkpoint is not None:
                recorded = int((trial.last_result or {}).get("epoch") or 0)
                mend_checkpoint(trial.checkpoint.filesystem, trial.checkpoint.path, recorded)


def mend_checkpoint(filesystem: Any, path: str, recorded_epoch: int) -> bool:
    """Put the trial's newest checkpoint whose state loads at `path` (the one Ray's snapshot names; a newer one holds
    every epoch before it, a half-written one does not load); returns whether anything changed."""
    from pyarrow import fs

    parent, _, name = path.rstrip("/").rpartition("/")
    named = _checkpoint_index(name)
    if named is None:
        return False
    folders = sorted((i, info.path.rstrip("/")) for info in filesystem.get_file_info(fs.FileSelector(parent))
                     if info.type == fs.FileType.Directory
                     and (i := _checkpoint_index(info.base_name)) is not None and i >= named)
    if [p for _, p in folders] in ([], [path.rstrip("/")]):
        return False
    epochs = {p: _state_epoch(filesystem, p) for _, p in folders}
    readable = [p for _, p in folders if epochs[p] is not None]
    if not readable:
        return False
    chosen = readable[-1]
    if chosen != path.rstrip("/"):
        if filesystem.get_file_info(path).type != fs.FileType.NotFound:
            filesystem.delete_dir(path)
        filesystem.move(chosen, path)
    if epochs[chosen] > recorded_epoch:
        with filesystem.open_output_stream(f"{path.rstrip('/')}/{RECORDED_FILE}") as out:
            out.write(json.dumps({"epoch": recorded_epoch}).encode())
    return True


def _state_epoch(filesystem: Any, folder: str) -> int | None:
    """The epoch a checkpoint's state.pt holds; None if it is missing or unreadable (written halfway)."""
    try:
        return int(read_state(filesystem, f"{folder}/{STATE_FILE}")["epoch"])
    except Exception:  # noqa: BLE001 - any unreadable checkpoint is passed over
        return None


def _checkpoint_index(name: str) -> int | None:
    number = name.removeprefix(CHECKPOINT_PREFIX)
    return int(number) if name.startswith(CHECKPOINT_PREFIX) and number.isdigit() else None


class MirrorFiles(Callback):
    """A run at a URI: before Ray Tune syncs a snapshot of its experiment there, the run folder's files that changed
    since (the Optuna journal) are copied there too, so the URI never holds a snapshot that knows trials its study
    does not (a driver killed at any moment resumes at the URI). Tune asks every callback for its state at each
    snapshot, before it syncs; this one has none to give."""

    def __init__(self, run_dir: str, uri: str, names: tuple[str, ...]) -> None:
        self.run_dir, self.uri, self.names = run_dir, uri, names
        self.sent: dict[str, tuple[int, int]] = {}

    def get_state(self) -> None:
        from tuner.sweep import storage

        for name in self.names:
            path = Path(self.run_dir) / name
            if not path.exists():
                continue
            stamp = (path.stat().st_size, path.stat().st_mtime_ns)
            if self.sent.get(name) != stamp:
                storage.upload(Path(self.run_dir), self.uri, [name])
                self.sent[name] = stamp
        return None

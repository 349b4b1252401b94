"""Live progress of a sweep: one line per event worth knowing on a terminal, one line updated in place in a Jupyter
notebook (tuner.run from a notebook cell: Jupyter keeps every printed line), never Ray's tables.

Every line of one command shares a clock (from the command's start), names every phase so far
(`search 12/12 · confirm 1/4`), counts the ended trials by status (tuner.status), and shows the best so far as
tuner would choose now (tuner.select: a mean over seeds where there are several). A --smoke run says so on every
line. What the phases share lives in BOARD, one per driver process: each phase's ProgressLine is its own Tune
callback, pickled with its experiment.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ray.tune import Callback

from tuner import runfolder, select
from tuner.runfolder import ERRORS_DIR
from tuner.status import UNUSABLE, Status, status_of

SHOWN = (Status.TERMINATED, Status.STOPPED_EARLY, Status.STUCK, Status.DIVERGED, Status.ERROR)  # counted on a line
NAMES = {Status.TERMINATED: "finished"}  # how a line says a status, where its label reads wrong ("terminated")


class Output:
    """Where the lines go: a terminal (or any non-notebook stdout) gets each line; an IPython kernel's notebook one
    live line (a display updated in place), with trial errors also kept as lines of their own."""

    def __init__(self) -> None:
        self.handle: Any = None  # the notebook's live display, once shown

    def show(self, line: str, event: str = "", keep: bool = False) -> None:
        display = notebook_display()
        if display is None:
            print(line + (f" · {event}" if event else ""), file=sys.stdout, flush=True)
            return
        text = {"text/plain": line + (f" · {event}" if event and not keep else "")}
        if self.handle is None:
            self.handle = display(text, raw=True, display_id=True)
        else:
            self.handle.update(text, raw=True)
        if keep:
            print(event, file=sys.stdout, flush=True)


def notebook_display() -> Any:
    """IPython's display function where this process is a Jupyter kernel (ipykernel's shell: Jupyter, VS Code,
    Colab), else None. IPython is never imported here: a process that has not imported it is no notebook."""
    shell_module, ipython = sys.modules.get("ipykernel.zmqshell"), sys.modules.get("IPython")
    if shell_module is None or ipython is None:
        return None
    if not isinstance(ipython.get_ipython(), shell_module.ZMQInteractiveShell):
        return None
    from IPython.display import display

    return display


@dataclass
class Board:
    """What every phase's line shares: the command's clock, the phases so far, every trial's score."""

    started: float | None = None  # time.time() at the command's start; None: the first phase's start
    smoke: bool = False
    claimed: bool = False  # a run's first search phase has begun since start()
    trial_epochs: int = 0  # epochs reported by every phase so far
    phases: dict[str, str] = field(default_factory=dict)  # label -> "done/total" once the phase has ended
    scores: dict[str, select.TrialScore] = field(default_factory=dict)
    phase_of: dict[str, str] = field(default_factory=dict)
    epoch_of: dict[str, int] = field(default_factory=dict)  # trial -> its best epoch so far
    output: Output = field(default_factory=Output)  # one live line per command in a notebook

    def start(self, at: float | None = None, smoke: bool = False) -> None:
        """A new command: its clock starts at `at` (time.time()), no phase or trial seen yet."""
        self.__init__(started=at if at is not None else time.time(), smoke=smoke)

    def begin_run(self) -> None:
        """A run's first search phase begins: the command's, or (the library called twice in one process) a new
        one whose clock starts now."""
        if self.claimed or self.started is None:
            self.start()
        self.claimed = True


BOARD = Board()


def start(at: float | None = None, smoke: bool = False) -> None:
    """Called once by the command (tuner.sweep.cli) before anything slow: the clock every line shows."""
    BOARD.start(at, smoke)


class ProgressLine(Callback):
    """Prints `[clock] phases · running · ended by status · trial-epochs · best · ETA` on new bests, trial ends,
    and at most every `every_s` seconds otherwise."""

    def __init__(self, metric: str, mode: str, total: int | None, max_epochs: int, every_s: float = 10.0,
                 expected_epochs: float | None = None, phase: str = "search"):
        self.metric, self.mode, self.total, self.max_epochs, self.every_s = metric, mode, total, max_epochs, every_s
        self.expected_epochs = expected_epochs  # trial-epochs the phase should take (tuner.sweep.budget), for the ETA
        self.phase = phase
        self._fresh()

    def setup(self, *args: Any, **kwargs: Any) -> None:
        """Called by Tune at the start of every run, a resumed one too (this object is pickled with the run)."""
        self.phase = getattr(self, "phase", "search")  # pickled by a tuner before phases were named
        if self.phase == "search":
            BOARD.begin_run()
        self._fresh()

    def _fresh(self) -> None:
        self.last_print = 0.0
        self.best_text = ""
        self.last_status: dict[str, str] = {}
        self.ended: dict[str, Status] = {}
        self.epochs_done = 0
        self.first_result: float | None = None
        self.phase_started = time.time()

    # ---------------------------------------------------------------- Tune's events

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self.epochs_done += 1
        BOARD.trial_epochs += 1
        if self.first_result is None:
            self.first_result = time.monotonic()
        self.last_status[trial.trial_id] = result.get("status", "running")
        new_best = self._score(trial, result)
        if new_best or time.monotonic() - self.last_print >= self.every_s:
            self._print(trials)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        last = trial.last_result or {}
        status = status_of(self.last_status.get(trial.trial_id), int(last.get("training_iteration", 0) or 0),
                           self.max_epochs)
        self.ended[trial.trial_id] = status
        event = f"trial {trial.trial_id} {self._name(status)}"
        if status == Status.ERROR:  # a configuration that cannot run, reported once by the trainable
            event += f": {runfolder.error_line(str(last.get('error', '')))} ({ERRORS_DIR}/{trial.trial_id}.txt)"
        self._print(trials, event, keep=status == Status.ERROR)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.ended[trial.trial_id] = Status.ERROR
        self._forget(trial.trial_id)
        message = runfolder.error_line(_error_text(trial))
        self._print(trials, f"trial {trial.trial_id} ERROR: {message} (traceback: {ERRORS_DIR}/"
                            f"{trial.trial_id}.txt in the run folder; the sweep goes on)", keep=True)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        BOARD.phases[self.phase] = f"{len(self.ended)}/{self.total or len(trials)}"

    # ---------------------------------------------------------------- the best so far, as tuner would choose

    def _score(self, trial: Any, result: dict) -> bool:
        """Record the trial's best value so far; True when tuner's choice (or its value) changed."""
        value = result.get(self.metric)
        config = runfolder.trial_values(trial.config or {})
        status = status_of(result.get("status"), 0, self.max_epochs, finished=False)
        status = status if status in UNUSABLE else Status.RUNNING
        previous = BOARD.scores.get(trial.trial_id)
        best = previous.value if previous else float("nan")
        if value is not None and select.is_better(float(value), best, self.metric):
            best = float(value)
            BOARD.epoch_of[trial.trial_id] = int(result.get("training_iteration", 0) or 0)
        key = json.dumps({k: runfolder.format_value(v) for k, v in config.items() if k != "seed"}, sort_keys=True,
                         default=str)
        BOARD.scores[trial.trial_id] = select.TrialScore(trial.trial_id, key, config.get("seed", 0), status, best)
        BOARD.phase_of.setdefault(trial.trial_id, self.phase)
        text = self._best()
        changed = text != self.best_text
        self.best_text = text
        return changed

    def _forget(self, trial_id: str) -> None:
        score = BOARD.scores.get(trial_id)
        if score is not None:
            score.status = Status.ERROR

    def _best(self) -> str:
        chosen = select.choose_configuration(BOARD.scores.values(), self.metric)
        if chosen is None:
            return "no usable result yet"
        trial_id = chosen.best_trial_id
        where = f"trial {trial_id}, {BOARD.phase_of.get(trial_id, self.phase)}"
        if chosen.n > 1:
            return f"best {self.metric} {self._value(chosen.mean)} mean of {chosen.n} seeds ({where})"
        return f"best {self.metric} {self._value(chosen.mean)} ({where}, epoch {BOARD.epoch_of.get(trial_id, 0)})"

    def _value(self, value: float) -> str:
        return f"{value:.2%}" if self.metric.endswith("acc") else f"{value:.4f}"

    # ---------------------------------------------------------------- the line

    def _print(self, trials: list, event: str = "", keep: bool = False) -> None:
        self.last_print = time.monotonic()
        running = sum(1 for t in trials if t.status == "RUNNING" and t.trial_id not in self.ended)
        total = self.total if self.total else len(trials)
        tally = {status: 0 for status in SHOWN}
        for status in self.ended.values():
            tally[status] = tally.get(status, 0) + 1
        ended = ", ".join(f"{n} {self._name(s)}" for s, n in tally.items() if n or s == Status.TERMINATED)
        phases = [f"{label} {done}" for label, done in BOARD.phases.items() if label != self.phase]
        phases.append(f"{self.phase} {len(self.ended)}/{total}")
        smoke = "SMOKE TEST (not a result) · " if BOARD.smoke else ""
        line = (f"[{_clock(time.time() - (BOARD.started or self.phase_started))}] {smoke}{' · '.join(phases)} · "
                f"{running} running · {ended} · {BOARD.trial_epochs} trial-epochs · {self.best_text or self._best()}"
                f"{self._eta()}")
        BOARD.output.show(line, event, keep)

    @staticmethod
    def _name(status: Status) -> str:
        return NAMES.get(status, status.label if status != Status.ERROR else status.value)

    def _eta(self) -> str:
        """Time left at the rate trial-epochs have come in so far (the first epochs of the first trials set it)."""
        if not self.expected_epochs or self.first_result is None or self.epochs_done < 2:
            return ""
        rate = (self.epochs_done - 1) / max(time.monotonic() - self.first_result, 1e-6)
        left = max(self.expected_epochs - self.epochs_done, 0) / rate
        return f" · ETA {_clock(left)}"


def _error_text(trial: Any) -> str:
    """Ray has written the trial's error.txt into its local folder before this callback (Trial.handle_error);
    Trial.get_error() reads the storage copy, which may not have it yet."""
    path = getattr(trial, "error_file", None)
    if path and os.path.exists(path):
        return Path(path).read_text(errors="replace")
    error = trial.get_error() if hasattr(trial, "get_error") else None
    return str(error or "it raised")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"

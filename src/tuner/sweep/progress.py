"""Live progress of a sweep on the terminal: one line per event worth knowing, not Ray's tables."""

from __future__ import annotations

import sys
import time
from typing import Any

from ray.tune import Callback

from tuner import select
from tuner.status import FitEnd, status_of

STOPPED = frozenset({FitEnd.DIVERGED, FitEnd.STUCK, FitEnd.EARLY_STOPPED})  # a trial's own end before max_epochs


class ProgressLine(Callback):
    """Prints `[elapsed] running / done (stopped, errors) / total · best metric` on new bests, trial ends,
    and at most every `every_s` seconds otherwise."""

    def __init__(self, metric: str, mode: str, total: int | None, max_epochs: int, every_s: float = 10.0,
                 expected_epochs: float | None = None):
        self.metric, self.mode, self.total, self.max_epochs, self.every_s = metric, mode, total, max_epochs, every_s
        self.expected_epochs = expected_epochs  # trial-epochs the phase should take (tuner.sweep.budget), for the ETA
        self.setup()

    def setup(self, *args: Any, **kwargs: Any) -> None:
        """Called by Tune at the start of every run, a resumed one too (this object is pickled with the run)."""
        self.started = time.monotonic()
        self.last_print = 0.0
        self.best: tuple[float, str, int] | None = None
        self.last_status: dict[str, str] = {}
        self.epochs_done = 0
        self.first_result: float | None = None

    def _better(self, value: float) -> bool:
        return self.best is None or select.is_better(value, self.best[0], self.metric)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self.epochs_done += 1
        if self.first_result is None:
            self.first_result = time.monotonic()
        self.last_status[trial.trial_id] = result.get("status", "running")
        value = result.get(self.metric)
        new_best = value is not None and value == value and self._better(value)
        if new_best:
            self.best = (value, trial.trial_id, result.get("training_iteration", 0))
        if new_best or time.monotonic() - self.last_print >= self.every_s:
            self._print(trials)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        status = self.last_status.get(trial.trial_id, "running")
        label = status_of(status, 0, self.max_epochs).label if status in STOPPED else "done"
        self._print(trials, f"trial {trial.trial_id} {label}", {trial.trial_id: "TERMINATED"})

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._print(trials, f"trial {trial.trial_id} ERROR (traceback kept; the sweep goes on)",
                    {trial.trial_id: "ERROR"})

    def _print(self, trials: list, event: str = "", ending: dict[str, str] | None = None) -> None:
        """`ending`: the trial Tune is finishing right now, whose status it has not updated yet."""
        self.last_print = time.monotonic()
        ending = ending or {}
        statuses = [ending.get(t.trial_id, t.status) for t in trials]
        running = statuses.count("RUNNING")
        errors = statuses.count("ERROR")
        finished = statuses.count("TERMINATED") + errors
        stopped = sum(1 for t, status in zip(trials, statuses) if status == "TERMINATED" and self._stopped_early(t))
        total = self.total if self.total else len(trials)
        best = "no result yet"
        if self.best is not None:
            value, trial_id, epoch = self.best
            shown = f"{value:.2%}" if self.metric.endswith("acc") else f"{value:.4f}"
            best = f"best {self.metric} {shown} (trial {trial_id}, epoch {epoch})"
        line = (f"[{_clock(time.monotonic() - self.started)}] {running} running · {finished}/{total} done "
                f"({stopped} stopped early, {errors} error) · {self.epochs_done} trial-epochs · {best}{self._eta()}")
        print(line + (f" · {event}" if event else ""), file=sys.stdout, flush=True)

    def _eta(self) -> str:
        """Time left at the rate trial-epochs have come in so far (the first epochs of the first trials set it)."""
        if not self.expected_epochs or self.first_result is None or self.epochs_done < 2:
            return ""
        rate = (self.epochs_done - 1) / max(time.monotonic() - self.first_result, 1e-6)
        left = max(self.expected_epochs - self.epochs_done, 0) / rate
        return f" · ETA {_clock(left)}"

    def _stopped_early(self, trial: Any) -> bool:
        if self.last_status.get(trial.trial_id) in STOPPED:
            return True
        last = trial.last_result or {}
        return last.get("training_iteration", self.max_epochs) < self.max_epochs


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"

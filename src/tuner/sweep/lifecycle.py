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

import signal
import threading
from typing import Any

from ray.tune import Callback

ENDED = ("TERMINATED", "ERROR")  # Ray Tune's own trial states (ray.tune.experiment.Trial), not tuner.status


class TrialEnds(Callback):
    current: TrialEnds | None = None  # the instance of the fit() running now (callbacks are restored by Tune)

    def __init__(self) -> None:
        self.setup()

    def setup(self, *args: Any, **kwargs: Any) -> None:
        """Called by Tune at the start of every fit(), a restored one too."""
        self.ended: set[str] = set()
        self.ended_before: set[str] | None = None
        self.signal: str | None = None
        TrialEnds.current = self

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        if self.ended_before is None:
            self.ended_before = {t.trial_id for t in trials if t.status in ENDED}
            self._watch_signals()

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.ended.add(trial.trial_id)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.ended.add(trial.trial_id)

    def unfinished(self, trial_id: str) -> bool:
        return trial_id not in self.ended and trial_id not in (self.ended_before or set())

    def _watch_signals(self) -> None:
        """Tune installed its SIGINT handler before the first step: note the signal, then let Tune stop as it
        does for Ctrl-C. SIGTERM (a scheduler or `kill` ending the job) takes the same graceful path."""
        tune_handler = signal.getsignal(signal.SIGINT)
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

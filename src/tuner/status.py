"""How a trial ended: the one vocabulary of trial states that trials.csv, the report, the CLI, the live lines,
MLflow, warm starts and replays all speak (contract: docs/run-folder.md#statuses).

Two vocabularies meet here. `FitEnd` is what a training run reports each epoch (train.fit's `status`, written
by Ray into each trial's result.json); `Status` is what trials.csv records, which also knows what ended a trial
from outside (its trial scheduler, the time budget, Ctrl-C, an exception). `status_of` translates one into the
other, once.
"""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    TERMINATED = "TERMINATED"  # ran to its end: max_epochs, or the epochs the time budget's plan gave it
    STOPPED_EARLY = "STOPPED_EARLY"  # its trial scheduler, or its own early-stopping patience, ended it sooner
    STOPPED_BY_BUDGET = "STOPPED_BY_BUDGET"  # still running when the time budget ended the sweep
    INTERRUPTED = "INTERRUPTED"  # still running at Ctrl-C or SIGTERM; --resume continues it
    DIVERGED = "DIVERGED"  # its loss became NaN or infinite
    STUCK = "STUCK"  # its training loss stayed at chance level (ln of the number of classes)
    ERROR = "ERROR"  # it raised (after its retries), or its configuration could not run
    RUNNING = "RUNNING"  # only in a run folder read while its sweep runs or after a kill (no trials.csv yet)

    def __str__(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        """As a sentence says it: 'stopped early'."""
        return self.value.lower().replace("_", " ")


ORDER: tuple[Status, ...] = tuple(Status)  # the order counts and tables list them in
UNUSABLE = frozenset({Status.ERROR, Status.DIVERGED, Status.STUCK})  # never compete for the choice (tuner.select)
ENDED_BY_ITSELF = frozenset({Status.TERMINATED, Status.DIVERGED, Status.STUCK})  # the whole curve is known
CUT_SHORT = frozenset({Status.STOPPED_EARLY, Status.STOPPED_BY_BUDGET})  # stopped from outside before its end
UNFINISHED = frozenset({Status.INTERRUPTED, Status.RUNNING})  # --resume would continue it


class FitEnd(str, Enum):
    """What a training run reports as its state after each epoch (train.fit), and the trainable's own end."""

    RUNNING = "running"
    COMPLETED = "completed"
    EARLY_STOPPED = "early_stopped"
    DIVERGED = "diverged"
    STUCK = "stuck"
    CONFIG_ERROR = "config_error"  # the configuration cannot run (reported once by the trainable)

    def __str__(self) -> str:
        return self.value


_OF_FIT = {FitEnd.COMPLETED: Status.TERMINATED, FitEnd.EARLY_STOPPED: Status.STOPPED_EARLY,
           FitEnd.DIVERGED: Status.DIVERGED, FitEnd.STUCK: Status.STUCK, FitEnd.CONFIG_ERROR: Status.ERROR}
OWN_ENDS = frozenset(_OF_FIT)  # a run that reported one of these ended on its own, not by its trial scheduler
FIT_END_OF = {status: end for end, status in _OF_FIT.items() if end != FitEnd.CONFIG_ERROR}  # replaying a curve


def status_of(fit_end: str | None, epochs: int, max_epochs: int, *, errored: bool = False,
              cut_off: Status | None = None, finished: bool = True) -> Status:
    """A trial's status from what it last reported.

    `errored`: Ray recorded an exception (after the retries). `cut_off`: what ended the sweep while this trial still
    ran (INTERRUPTED, STOPPED_BY_BUDGET), None when it ended by itself or by its trial scheduler. `finished`: False
    for a run folder read while its sweep may still run, where a trial short of max_epochs is RUNNING."""
    if errored:
        return Status.ERROR
    end = _fit_end(fit_end)
    if end in _OF_FIT:
        return _OF_FIT[end]
    if cut_off is not None:
        return cut_off
    if epochs >= max_epochs:
        return Status.TERMINATED
    return Status.STOPPED_EARLY if finished else Status.RUNNING


def _fit_end(value: str | None) -> FitEnd | None:
    try:
        return FitEnd(value)
    except ValueError:
        return None


def counts(statuses: list[str]) -> dict[str, int]:
    """How many trials ended each way, in ORDER; a status this vocabulary lacks is listed last, never dropped."""
    tally: dict[str, int] = {}
    for status in statuses:
        tally[str(status)] = tally.get(str(status), 0) + 1
    known = [s.value for s in ORDER if s.value in tally]
    return {s: tally[s] for s in known + sorted(set(tally) - set(known))}


class SweepEnd(str, Enum):
    """What ended a sweep (run.json's ended_by)."""

    COMPLETED = "completed"
    INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM
    TIME_BUDGET = "time_budget"

    def __str__(self) -> str:
        return self.value


CUT_OFF = {SweepEnd.INTERRUPTED: Status.INTERRUPTED, SweepEnd.TIME_BUDGET: Status.STOPPED_BY_BUDGET}  # still running

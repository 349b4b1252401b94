"""A virtual Ray Tune controller: it calls a Ray Tune search algorithm and trial scheduler in the order Tune's
TuneController does, with results that arrive at virtual times read from a recorded table, so a sweep of hours
replays in a fraction of a second."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tuner.replay.tables import Curve
from tuner.status import FIT_END_OF, FitEnd, Status


class VirtualController:
    """Calls a Ray Tune search algorithm and trial scheduler in the order Tune's TuneController does (ask the
    searcher while fewer than max_pending trials wait, start what the scheduler chooses on free workers,
    process the next result), with results that arrive at virtual times. It offers the part of the controller's
    interface that Tune's trial schedulers use (get_trials, get_live_trials, stop_trial, pause_trial)."""

    def __init__(self, search_alg: Any, scheduler: Any, workers: int, max_pending: int,
                 resolve: Callable[[Any], Curve], on_result: Callable[[Any, dict], None],
                 on_end: Callable[[Any], None], clock: float = 0.0):
        self._search_alg, self._scheduler_alg = search_alg, scheduler
        self.workers, self.max_pending, self.clock = workers, max_pending, clock
        self._resolve, self._on_result, self._on_end = resolve, on_result, on_end
        self._trials: list[Any] = []
        self._done: dict[str, int] = {}  # epochs reported (a paused trial resumes after its last one)
        self._finish_at: dict[str, float] = {}
        self._elapsed: dict[str, float] = {}
        self._order: dict[str, int] = {}

    # -- the TuneController interface Tune's schedulers call
    @property
    def search_alg(self) -> Any:
        return self._search_alg

    def get_trials(self) -> list[Any]:
        return self._trials

    def get_live_trials(self) -> list[Any]:
        return [t for t in self._trials if not t.is_finished()]

    def has_resources_for_trial(self, trial: Any) -> bool:
        return self._running() < self.workers

    def pause_trial(self, trial: Any, should_checkpoint: bool = True) -> None:
        from ray.tune.experiment import Trial

        trial.set_status(Trial.PAUSED)

    def _set_trial_status(self, trial: Any, status: str) -> None:
        trial.set_status(status)

    def stop_trial(self, trial: Any) -> None:
        from ray.tune.experiment import Trial
        from ray.tune.utils import flatten_dict

        if trial.status in (Trial.ERROR, Trial.TERMINATED):
            return
        if trial.status in (Trial.PENDING, Trial.PAUSED):
            self._scheduler_alg.on_trial_remove(self, trial)
            self._search_alg.on_trial_complete(trial.trial_id)
        else:
            self._scheduler_alg.on_trial_complete(self, trial, flatten_dict(trial.last_result))
            self._search_alg.on_trial_complete(trial.trial_id, result=flatten_dict(trial.last_result))
        trial.set_status(Trial.TERMINATED)
        self._on_end(trial)

    # -- the loop
    def run(self) -> float:
        from ray.tune.experiment import Trial

        while True:
            self._ask()
            self._start()
            self._ask()
            running = [t for t in self._trials if t.status == Trial.RUNNING]
            if not running:
                if self._search_alg.is_finished() or not any(t.status == Trial.PENDING for t in self._trials):
                    for trial in self._trials:  # a paused trial nobody resumes (HyperBand's last bracket) ends
                        if trial.status == Trial.PAUSED:
                            self.stop_trial(trial)
                    if self._search_alg.is_finished():
                        return self.clock
                continue
            trial = min(running, key=lambda t: (self._finish_at[t.trial_id], self._order[t.trial_id]))
            self.clock = self._finish_at[trial.trial_id]
            self._report(trial)

    def _running(self) -> int:
        from ray.tune.experiment import Trial

        return sum(1 for t in self._trials if t.status == Trial.RUNNING)

    def _ask(self) -> None:
        from ray.tune.experiment import Trial

        while not self._search_alg.is_finished() and \
                sum(1 for t in self._trials if t.status == Trial.PENDING) < self.max_pending:
            trial = self._search_alg.next_trial()
            if trial is None:
                return
            self._order[trial.trial_id] = len(self._trials)
            self._trials.append(trial)
            self._done[trial.trial_id], self._elapsed[trial.trial_id] = 0, 0.0
            self._scheduler_alg.on_trial_add(self, trial)

    def _start(self) -> None:
        from ray.tune.experiment import Trial

        while self._running() < self.workers:
            trial = self._scheduler_alg.choose_trial_to_run(self)
            if trial is None:
                trial = next((t for t in self._trials if t.status == Trial.PENDING), None)
            if trial is None:
                return
            trial.set_status(Trial.RUNNING)
            if self._done[trial.trial_id] >= self._resolve(trial).length:  # paused after its last epoch: on resume
                self.stop_trial(trial)  # the trainable has nothing left to report and returns
            else:
                self._schedule_epoch(trial)

    def _schedule_epoch(self, trial: Any) -> None:
        curve = self._resolve(trial)
        epoch = self._done[trial.trial_id] + 1
        self._finish_at[trial.trial_id] = self.clock + curve.epochs[epoch - 1]["epoch_time_s"]

    def _report(self, trial: Any) -> None:
        from ray.tune.schedulers import TrialScheduler

        curve = self._resolve(trial)
        epoch = self._done[trial.trial_id] = self._done[trial.trial_id] + 1
        record = curve.epochs[epoch - 1]
        self._elapsed[trial.trial_id] += record["epoch_time_s"]
        last = epoch == curve.length
        status = fit_end_of(curve.status) if last else FitEnd.RUNNING.value
        result = {**record, "epoch": epoch, "training_iteration": epoch, "status": status,
                  "time_this_iter_s": record["epoch_time_s"], "time_total_s": self._elapsed[trial.trial_id],
                  "trial_id": trial.trial_id, "done": False}
        if trial.should_stop(result):
            decision = TrialScheduler.STOP
        else:
            decision = self._scheduler_alg.on_trial_result(self, trial, result)
        if decision == TrialScheduler.STOP:
            result["done"] = True
        else:
            self._search_alg.on_trial_result(trial.trial_id, result)
        trial.update_last_result(result)
        self._on_result(trial, result)
        if decision == TrialScheduler.CONTINUE:
            if last:  # the trainable returns: Tune's final `done` result stops the trial
                self.stop_trial(trial)
            else:
                self._schedule_epoch(trial)
        elif decision == TrialScheduler.PAUSE:
            self.pause_trial(trial)
        elif decision == TrialScheduler.STOP:
            self.stop_trial(trial)


def fit_end_of(status: str) -> str:
    """What a recorded trial that ended `status` reported at its last epoch (a table holds only trials that ended
    by themselves: TERMINATED, DIVERGED, STUCK)."""
    return FIT_END_OF[Status(status)].value

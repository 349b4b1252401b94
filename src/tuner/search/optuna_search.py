"""tuner's Optuna search: Ray's OptunaSearch told what really happened to each trial, the TPE settings chosen by
replay (docs/search.md), the other samplers search_options can name, and the study's journal in the run folder."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner import select
from tuner.runfolder import STUDY_FILE
from tuner.status import OWN_ENDS

if TYPE_CHECKING:
    from tuner.sweep.spec import Sweep


def quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def told_search_class() -> type:
    """Ray's OptunaSearch, telling Optuna what happened to each trial (Ray tells every trial COMPLETE with its last
    reported value, so TPE weighs a 2-epoch accuracy that ASHA cut against a finished 25-epoch one as equals):
    a trial its trial scheduler stopped is PRUNED, keeping its intermediate values, as Optuna's own pruners leave
    it; a trial that ended by itself is COMPLETE with its best epoch's value, the score tuner selects on."""
    from optuna.trial import TrialState
    from ray.tune.search.optuna import OptunaSearch

    class ToldOptunaSearch(OptunaSearch):
        def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
            if error or not result or isinstance(self.metric, list) or trial_id in self._completed_trials:
                return super().on_trial_complete(trial_id, result, error)
            ot_trial = self._ot_trials[trial_id]
            reported = self._ot_study._storage.get_trial(ot_trial._trial_id).intermediate_values
            step, last = result.get("training_iteration"), result.get(self.metric)
            if step is not None and last is not None and step not in reported:
                ot_trial.report(float(last), int(step))  # Tune does not pass the result it stopped a trial on
                reported = {**reported, step: float(last)}
            values = [v for v in reported.values() if not math.isnan(v)]
            if result.get("status") in OWN_ENDS and values:
                best = select.best_value(values, self.metric)
                self._ot_study.tell(ot_trial, best)
            elif values:
                self._ot_study.tell(ot_trial, state=TrialState.PRUNED)
            else:
                self._ot_study.tell(ot_trial, state=TrialState.FAIL)
            self._completed_trials.add(trial_id)

    return ToldOptunaSearch


TUNER_OPTIONS = ("sampler", "tell")  # search_options that are tuner's, not the sampler's
SAMPLERS = ("tpe", "gp", "qmc", "random")


def tpe_settings(sweep: Sweep) -> dict[str, Any]:
    """tuner's TPE, from replays of the recorded tables (docs/search.md): multivariate, grouped for conditional
    spaces, a constant liar for trials still running, and at least as many startup trials as run at once."""
    settings = {"multivariate": True, "group": callable(sweep.space), "constant_liar": True,
                "n_startup_trials": max(3, min(10, sweep.samples // 4))}
    return {**settings, **{k: v for k, v in sweep.search_options.items() if k not in TUNER_OPTIONS}}


def sampler(sweep: Sweep) -> Any:
    """search_options["sampler"]: tpe (default), gp (Optuna's GPSampler), qmc (Sobol), random."""
    import optuna

    kind = sweep.search_options.get("sampler", "tpe")
    options = {k: v for k, v in sweep.search_options.items() if k not in TUNER_OPTIONS}
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=sweep.search_seed, **tpe_settings(sweep))
    if kind == "gp":
        return optuna.samplers.GPSampler(seed=sweep.search_seed, **options)
    if kind == "qmc":
        return optuna.samplers.QMCSampler(seed=sweep.search_seed, **options)
    return optuna.samplers.RandomSampler(seed=sweep.search_seed)



def study_name(sweep: Sweep) -> str:
    return sweep.name or "sweep"


def study_kwargs(sweep: Sweep, storage: Any) -> dict[str, Any]:
    """OptunaSearch's arguments that keep its study in `storage` (the run folder's journal), if given."""
    return {"storage": storage, "study_name": study_name(sweep)} if storage is not None else {}


def study_storage(run_dir: Path) -> Any:
    """The run folder's Optuna journal (created on first use): optuna-dashboard reads it, --resume continues it."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str((run_dir / STUDY_FILE).resolve())))

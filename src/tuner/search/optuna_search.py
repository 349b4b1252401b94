"""tuner's Optuna search: Ray's OptunaSearch told what really happened to each trial, the TPE settings chosen by
replay (docs/search.md), the other samplers search_options can name, and the study's journal in the run folder."""

from __future__ import annotations

import math
import uuid
import warnings
from collections.abc import Callable
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


OWNER_ATTR = "tuner.search"  # user attribute of every trial a search asked: which searcher (one per Ray experiment)


def resumable_search_class() -> type:
    """Ray's OptunaSearch whose study and Ray's experiment state agree after a kill at any moment.

    Optuna appends to the run folder's journal at once; Ray snapshots its experiment state (and this searcher, pickled)
    every few seconds. After a kill the journal can be ahead of the snapshot: a trial told COMPLETE that Ray still runs
    (telling it again raised `Cannot tell a COMPLETE trial` inside Tune's controller), a trial asked that Ray never
    heard of (RUNNING forever: the constant liar would count it as pending in every later draw). On restore this
    searcher keeps the journal it was built on (the run folder's, wherever the folder is now; Ray's pickle names the
    absolute path it had), takes from Ray's pickle which Ray trial is which Optuna trial and the sampler's state, then
    reconciles: a trial the study has finished is not told again, and a trial this searcher asked that Ray does not
    know is failed (a start point it held is queued again)."""
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    class ResumableOptunaSearch(OptunaSearch):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._owner = uuid.uuid4().hex
            super().__init__(*args, **kwargs)

        def _setup_study(self, mode: Any) -> None:
            """Ray's setup; start points already queued or run by this study (a restart, a resume) are not queued
            again."""
            points, self._points_to_evaluate = self._points_to_evaluate, None
            super()._setup_study(mode)
            self._points_to_evaluate = points
            known = [t.system_attrs.get("fixed_params") for t in self._ot_study.get_trials(deepcopy=False)]
            for point in points or []:
                if point not in known:
                    self._ot_study.enqueue_trial(point)

        def suggest(self, trial_id: str) -> dict | None:
            new = trial_id not in self._ot_trials
            config = super().suggest(trial_id)
            if new and self._storage is not None:
                self._ot_trials[trial_id].set_user_attr(OWNER_ATTR, self._owner)
            return config

        def on_trial_result(self, trial_id: str, result: dict) -> None:
            if trial_id not in self._completed_trials:  # a resumed trial the study has finished: told already
                super().on_trial_result(trial_id, result)

        def told_before(self, trial_id: str) -> bool:
            """Whether the study has this trial finished already (told before a kill that Ray's snapshot missed)."""
            if trial_id in self._completed_trials:
                return True
            trial = self._ot_trials.get(trial_id)
            if trial is None or self._ot_study._storage.get_trial(trial._trial_id).state.is_finished():
                self._completed_trials.add(trial_id)
                return True
            return False

        def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
            if not self.told_before(trial_id):
                super().on_trial_complete(trial_id, result, error)

        def restore(self, checkpoint_path: str) -> None:
            storage = self._storage
            super().restore(checkpoint_path)
            if storage is None or self._ot_study is None:  # an in-memory study: Ray's pickle is all there is
                return
            pickled = self._ot_study  # its sampler's state, on the journal's old path
            self._storage = storage
            self._ot_study = optuna.Study(study_name=pickled.study_name, storage=storage, sampler=pickled.sampler,
                                          pruner=pickled.pruner)
            self._ot_trials = {tid: optuna.Trial(self._ot_study, t._trial_id) for tid, t in self._ot_trials.items()}
            for trial_id in list(self._ot_trials):
                self.told_before(trial_id)
            owner = getattr(self, "_owner", None)
            known = {t._trial_id for t in self._ot_trials.values()}
            fail_orphans(self._ot_study, lambda t: t._trial_id not in known and t.user_attrs.get(OWNER_ATTR) == owner)

    return ResumableOptunaSearch


def fail_orphans(study: Any, orphan: Callable[[Any], bool] = lambda trial: True) -> int:
    """Fail the study's RUNNING trials that no live search will tell (asked by a driver that was killed before Ray
    recorded them); a start point such a trial held is queued again. Returns how many were failed."""
    from optuna.trial import TrialState

    failed = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if orphan(trial):
            study.tell(trial.number, state=TrialState.FAIL)
            if trial.system_attrs.get("fixed_params"):
                study.enqueue_trial(trial.system_attrs["fixed_params"])
            failed += 1
    return failed


def fail_abandoned(storage: Any, name: str) -> int:
    """Before a search phase starts anew (no search is live): fail every RUNNING trial of the study `name` in
    `storage` (fail_orphans); none if the study does not exist yet."""
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=storage, sampler=optuna.samplers.RandomSampler())
    except KeyError:
        return 0
    return fail_orphans(study)


def told_search_class() -> type:
    """Ray's OptunaSearch, telling Optuna what happened to each trial (Ray tells every trial COMPLETE with its last
    reported value, so TPE weighs a 2-epoch accuracy that ASHA cut against a finished 25-epoch one as equals):
    a trial its trial scheduler stopped is PRUNED, keeping its intermediate values, as Optuna's own pruners leave
    it; a trial that ended by itself is COMPLETE with its best epoch's value, the score tuner selects on."""
    from optuna.trial import TrialState

    class ToldOptunaSearch(resumable_search_class()):
        def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
            if self.told_before(trial_id):
                return
            if error or not result or isinstance(self.metric, list):
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

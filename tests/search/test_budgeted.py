"""Budgeted successive halving (tuner.search.budgeted): its rungs, the schedules laid over them, ASHA's
asynchronous promotions, and the rule that only full-budget trials are chosen."""

import math

import pandas as pd
import pytest
import torch

from tuner import select
from tuner.search.budgeted import bracket_weights, budgeted_searcher_class, expected_trials, rung_budgets
from tuner.sweep.budget import expected_trial_epochs
from tuner.sweep.spec import Sweep
from tuner.train.config import TrainConfig, laid_over
from tuner.train.optim import Schedule


def test_rungs_grow_by_the_reduction_factor_and_end_at_max_epochs():
    assert rung_budgets(1, 3, 27) == [1, 3, 9, 27]
    assert rung_budgets(1, 3, 25) == [1, 3, 25]  # 9 > 25 / 3: a rung at 9 would be promoted by less than eta
    assert rung_budgets(1, 3, 12) == [1, 3, 12] and rung_budgets(1, 3, 15) == [1, 3, 15]
    assert rung_budgets(2, 3, 10) == [2, 10]
    assert rung_budgets(1, 2, 5) == [1, 2, 5]
    assert rung_budgets(1, 1.5, 4) == [1, 2, 4]  # 1.5 and 2.25 round to 2: one rung each, distinct
    assert rung_budgets(5, 3, 5) == [5] and rung_budgets(8, 3, 5) == [5]
    for grace, eta, top in [(1, 3, 25), (1, 2, 17), (2, 3, 50), (1, 4, 64)]:
        budgets = rung_budgets(grace, eta, top)
        assert all(later >= eta * earlier - 0.5 for earlier, later in zip(budgets, budgets[1:])), budgets


def test_the_cost_model_counts_each_rung_from_scratch():
    """27 configurations, eta 3, rungs 1, 3, 25: 27 x 1 + 9 x 3 + 3 x 25 trial-epochs; the confirm phase on top."""
    from ray import tune

    sweep = Sweep(search="budgeted", space={"lr": tune.loguniform(1e-3, 1.0)}, num_samples=27, max_epochs=25)
    assert expected_trial_epochs(sweep) == 27 + 27 + 75
    confirmed = Sweep(search="budgeted", space={"lr": tune.loguniform(1e-3, 1.0)}, num_samples=27, max_epochs=25,
                      seeds=[0, 1, 2], confirm_top=1)
    assert expected_trial_epochs(confirmed) == 129 + 2 * 25
    assert expected_trials(sweep) == 27 + 9 + 3  # the progress line's total: each rung's trials
    hedged = Sweep(search="budgeted", space={"lr": tune.loguniform(1e-3, 1.0)}, num_samples=42, max_epochs=25,
                   search_options={"brackets": 2})  # shares 9 : 5 of 42: 27 start at 1 epoch, 15 at 3
    assert expected_trial_epochs(hedged) == pytest.approx(27 * 1 + (9 + 15) * 3 + (3 + 5) * 25)


def test_the_share_kept_sets_each_rungs_trials_and_what_is_promotable():
    """search_options keep: half of a rung promoted while budgets still grow by 3: 24 x 1 + 12 x 3 + 6 x 12."""
    from ray import tune

    sweep = Sweep(search="budgeted", space={"lr": tune.loguniform(1e-3, 1.0)}, num_samples=24, max_epochs=12,
                  search_options={"keep": 0.5})
    assert expected_trial_epochs(sweep) == pytest.approx(24 + 12 * 3 + 6 * 12)
    found = searcher(9, search_options={"keep": 0.5})
    running = [Trial(found, f"t{i}") for i in range(4)]
    finish(found, running[0], 0.5)
    assert Trial(found, "t4").config["rung"] == 0  # one result: floor(1 / 2) = 0 promotable
    finish(found, running[1], 0.9)
    promoted = Trial(found, "t5")  # two results: floor(2 / 2) = 1, where eta 3 would promote none
    assert promoted.config["rung"] == 1 and promoted.config["lr"] == running[1].config["lr"]


def test_the_cost_model_counts_a_continued_promotion_by_the_epochs_it_adds():
    """promotion="continue": 27 x 1 + 9 x (3 - 1) + 3 x (25 - 3); a bracket's first rung still trains from scratch."""
    from ray import tune

    space = {"lr": tune.loguniform(1e-3, 1.0)}
    sweep = Sweep(search="budgeted", space=space, num_samples=27, max_epochs=25, search_options={"promotion": "continue"})
    assert expected_trial_epochs(sweep) == pytest.approx(27 + 18 + 66)
    assert expected_trials(sweep) == 27 + 9 + 3  # the same trials, shorter
    hedged = Sweep(search="budgeted", space=space, num_samples=42, max_epochs=25,
                   search_options={"brackets": 2, "promotion": "continue"})  # 27 start at 1 epoch, 15 at 3
    assert expected_trial_epochs(hedged) == pytest.approx(27 * 1 + 9 * 2 + 3 * 22 + 15 * 3 + 5 * 22)


def final_lr(cfg: TrainConfig, steps_per_epoch: int = 4) -> tuple[float, float]:
    """(the rate the last epoch trained at, the rate after the schedule's last step) over cfg.epochs epochs."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr, momentum=cfg.momentum)
    schedule = Schedule(optimizer, cfg, steps_per_epoch)
    last = math.nan
    for _ in range(cfg.epochs):
        for _ in range(steps_per_epoch):
            last = schedule.lr
            schedule.after_batch()
        schedule.after_epoch(1.0)
    return last, schedule.lr


SCHEDULES = {
    "cosine": {"scheduler": "cosine", "min_lr": 1e-4},
    "onecycle": {"scheduler": "onecycle"},
    "step": {"scheduler": "step", "step_size": 9, "gamma": 0.5},
    "step past the end": {"scheduler": "step", "step_size": 30, "gamma": 0.5},
    "exponential": {"scheduler": "exponential", "gamma": 0.8},
    "cyclic": {"scheduler": "cyclic", "cycle_epochs": 4.5},
    "warmup + cosine": {"scheduler": "cosine", "warmup_epochs": 3},
    "warmup + step": {"scheduler": "step", "step_size": 8, "warmup_epochs": 3},
}


@pytest.mark.parametrize("name", list(SCHEDULES))
@pytest.mark.parametrize("budget", [1, 3, 9])
def test_a_schedule_laid_over_a_rung_ends_where_the_full_schedule_ends(name, budget):
    """The rate at the end of a rung (after its last epoch's step) equals the full-length schedule's end value: a
    rung evaluates a configuration at the end of its schedule, not in its first epochs."""
    values = {"lr": 0.1, "momentum": 0.9, **SCHEDULES[name]}
    full = TrainConfig.from_dict({**values, "epochs": 27})
    short = TrainConfig.from_dict({**values, **laid_over(values, budget, 27), "epochs": budget})
    if name.startswith("warmup") and budget == 1:
        assert short.warmup_epochs == 0
    which = 0 if name == "onecycle" else 1  # onecycle's last value is its last batch's; the others', after a step
    assert final_lr(short)[which] == pytest.approx(final_lr(full)[which], rel=1e-6, abs=1e-12), (name, budget)
    assert laid_over(values, 27, 27) == {}


def test_a_rung_trial_keeps_the_searched_settings_and_its_schedule_ends_where_the_full_one_does():
    """Paired keys included (`scheduler+gamma`, as the shipped S1 table searches them): the trial's configuration,
    and so trials.csv and a replay's lookup, hold the searched gamma; the schedule the trial builds is laid over its
    rung and ends at the full schedule's rate."""
    from ray import tune

    from tuner.runfolder import training_values

    pairs = [("step", 0.1), ("exponential", 0.9)]
    found = searcher(8, space={"scheduler+gamma": tune.choice(pairs), "lr": tune.loguniform(1e-3, 1e-1)},
                     fixed={"step_size": 3})
    for number in range(8):
        config = found.suggest(f"t{number}")
        assert tuple(config["scheduler+gamma"]) in pairs and config["epochs"] == 1
        values = {k: v for k, v in training_values({**found.fixed, **config}).items() if k != "lr"}
        short = TrainConfig.from_dict({**values, "lr": 0.1})
        full = TrainConfig.from_dict({**values, "lr": 0.1, "epochs": 9, "schedule_for": 0})
        assert short.gamma == full.gamma  # the searched value, not a laid-over one
        assert final_lr(short)[1] == pytest.approx(final_lr(full)[1], rel=1e-6), config


class Trial:
    def __init__(self, searcher, trial_id):
        self.id, self.config = trial_id, searcher.suggest(trial_id)


def searcher(num_samples, space=None, storage=None, **fields):
    from ray import tune

    sweep = Sweep(search="budgeted", space=space or {"lr": tune.loguniform(1e-4, 1.0)}, num_samples=num_samples,
                  max_epochs=9, search_seed=0, **fields)
    found = budgeted_searcher_class()(sweep, storage)
    found.set_search_properties("val_acc", "max", sweep.param_space())
    return found


def finish(found, trial, value):
    found.on_trial_result(trial.id, {"val_acc": value, "training_iteration": 1})
    found.on_trial_complete(trial.id, {"val_acc": value, "training_iteration": trial.config["epochs"]})


def test_promotions_are_asynchronous_and_come_before_new_configurations():
    """ASHA: the third result of rung 0 makes its best promotable at once (floor(3/3) = 1), while two trials still
    run and six configurations are still to be drawn; the next free worker gets the promotion, trained from scratch
    at the next budget with its schedule laid over it. Nothing promotable: a new configuration."""
    found = searcher(9)
    running = [Trial(found, f"t{i}") for i in range(5)]
    assert [t.config["epochs"] for t in running] == [1] * 5 and [t.config["rung"] for t in running] == [0] * 5
    finish(found, running[0], 0.5)
    finish(found, running[1], 0.9)
    assert Trial(found, "t5").config["rung"] == 0  # two results: floor(2/3) = 0 promotable
    finish(found, running[2], 0.7)
    promoted = Trial(found, "t6")
    assert promoted.config["rung"] == 1 and promoted.config["epochs"] == 3
    assert promoted.config["lr"] == running[1].config["lr"]  # the best of rung 0
    assert Trial(found, "t7").config["rung"] == 0  # promoted once only: the next worker gets a new configuration
    assert "continued_from" not in promoted.config and "continuable" not in running[0].config  # from scratch


def test_a_continued_promotion_names_the_trial_it_continues():
    """promotion="continue": the promoted trial names its configuration's trial at the rung below, whose last
    checkpoint it starts from; every trial below the top rung keeps its last state for that (continuable)."""
    found = searcher(3, search_options={"promotion": "continue"})
    running = [Trial(found, f"t{i}") for i in range(3)]
    assert all(t.config["continuable"] and "continued_from" not in t.config for t in running)
    for trial, value in zip(running, (0.5, 0.9, 0.7)):
        finish(found, trial, value)
    promoted = Trial(found, "t3")
    assert promoted.config["rung"] == 1 and promoted.config["epochs"] == 3 and promoted.config["continuable"]
    assert promoted.config["continued_from"] == "t1" and promoted.config["lr"] == running[1].config["lr"]
    finish(found, promoted, 0.95)
    top = Trial(found, "t4")
    assert top.config["rung"] == 2 and top.config["epochs"] == 9 and top.config["continued_from"] == "t3"
    assert "continuable" not in top.config  # nothing continues the full budget


def test_the_search_waits_for_running_trials_and_ends_with_the_best_at_the_full_budget():
    """Four configurations, eta 3: asynchronously the best of four reaches rung 1 (floor(4/3)) and none rung 2
    (floor(1/3)); once nothing runs and nothing is left to draw, each rung promotes its top ceil(n/eta), highest rung
    first, so the best still train to max_epochs."""
    found = searcher(4)
    first = [Trial(found, f"t{i}") for i in range(4)]
    assert found.suggest("x") is None  # all drawn, trials running: wait, do not end
    for trial, value in zip(first, (0.3, 0.8, 0.6, 0.5)):
        finish(found, trial, value)
    runs = []
    while (config := found.suggest(f"p{len(runs)}")) not in (None, "FINISHED"):
        runs.append((config["rung"], config["lr"]))
        trial = Trial.__new__(Trial)
        trial.id, trial.config = f"p{len(runs) - 1}", config
        finish(found, trial, {0.8: 0.85, 0.6: 0.9}.get(dict(zip([t.config["lr"] for t in first],
                                                                    (0.3, 0.8, 0.6, 0.5)))[config["lr"]], 0.1))
    lrs = {value: t.config["lr"] for t, value in zip(first, (0.3, 0.8, 0.6, 0.5))}
    assert runs == [(1, lrs[0.8]), (2, lrs[0.8]), (1, lrs[0.6]), (2, lrs[0.6])]
    assert found.suggest("last") == "FINISHED"


def test_new_configurations_come_from_the_model_of_the_highest_rung_with_enough_results():
    found = searcher(40, search_options={"n_startup_trials": 2, "random_fraction": 0.0})
    first = Trial(found, "a0")
    finish(found, first, 0.1)
    finish(found, Trial(found, "a1"), 0.2)  # two results at rung 0 (none promotable: floor(2/3) = 0)
    assert len(found.studies[0].trials) == 2
    assert Trial(found, "b").config["rung"] == 0
    assert found.drawn_from == [-1, -1, 0]  # no results yet: at random; then rung 0's model (two results)
    assert len(found.studies[0].trials) == 2  # a proposal is not a result: the rung's study holds results only


def test_selection_ignores_short_runs():
    """A lower rung's trial (full_budget False) never competes, however good its score."""
    trials = pd.DataFrame([
        {"trial_id": "a", "status": "TERMINATED", "config/lr": 0.1, "val_acc": 0.99, "seed": 0, "epochs": 1,
         "full_budget": False},
        {"trial_id": "b", "status": "TERMINATED", "config/lr": 0.01, "val_acc": 0.90, "seed": 0, "epochs": 9,
         "full_budget": True},
        {"trial_id": "c", "status": "TERMINATED", "config/lr": 0.1, "val_acc": 0.80, "seed": 0, "epochs": 9,
         "full_budget": True},
    ])
    assert select.choose(trials, "val_acc").config.best_trial_id == "b"
    assert [c.best_trial_id for c in select.configurations(trials, "val_acc")] == ["b", "c"]
    as_read = pd.read_csv(pd.io.common.StringIO(trials.to_csv(index=False)))  # as trials.csv is read back
    assert select.choose(as_read, "val_acc").config.best_trial_id == "b"
    older = trials.drop(columns="full_budget")  # a run folder from before the column: every trial competes
    assert select.choose(older, "val_acc").config.best_trial_id == "a"


@pytest.mark.parametrize("promotion", ["scratch", "continue"])
def test_a_restored_searcher_proposes_what_the_saved_one_would(tmp_path, promotion):
    """--resume restores Tune's searcher from its saved state: the same promotions (continuing the same trials) and
    the same next draws."""
    found = searcher(9, search_options={"promotion": promotion})
    trials = [Trial(found, f"t{i}") for i in range(4)]
    for trial, value in zip(trials, (0.4, 0.9, 0.6)):
        finish(found, trial, value)
    found.save(str(tmp_path / "searcher.pkl"))
    again = searcher(9, search_options={"promotion": promotion})
    again.restore(str(tmp_path / "searcher.pkl"))
    assert [again.suggest(f"n{i}") for i in range(3)] == [found.suggest(f"n{i}") for i in range(3)]
    assert again.trials == found.trials and again.results == found.results


def test_a_restored_searcher_tells_the_run_folders_journal_each_result_once(tmp_path):
    """The rungs' studies live in the run folder's journal, which a restored searcher opens again: the results it
    tells again on restoring (its models are rebuilt from them) are there already, under their trial ids."""
    import optuna

    from tuner.search.optuna_search import study_storage

    found = searcher(9, storage=study_storage(tmp_path))
    trials = [Trial(found, f"t{i}") for i in range(3)]
    for trial, value in zip(trials, (0.4, 0.9, 0.6)):
        finish(found, trial, value)
    found.save(str(tmp_path / "searcher.pkl"))
    again = searcher(9, storage=study_storage(tmp_path))
    again.restore(str(tmp_path / "searcher.pkl"))
    Trial(again, "t3")  # proposes, so opens and tells its studies
    study = optuna.load_study(study_name="sweep rung 0 (1 epochs)", storage=study_storage(tmp_path))
    assert sorted((t.user_attrs["tuner.trial_id"], t.value) for t in study.trials) == [
        ("t0", 0.4), ("t1", 0.9), ("t2", 0.6)]


def test_a_warm_start_informs_the_full_budget_model_from_the_first_draw(tmp_path):
    """--warm-start tells earlier trials to the journal's study under the sweep's name, which is the full budget's:
    with enough of them, the first configuration is proposed by that rung's model, not at random."""
    from tuner.search import warm
    from tuner.search.optuna_search import study_storage

    storage = study_storage(tmp_path)
    found = searcher(9, storage=storage, search_options={"n_startup_trials": 3, "random_fraction": 0.0})
    earlier = [warm.Evaluated(f"old t{i}", {"lr": lr}, found.distributions, "COMPLETE", value, {9: value})
               for i, (lr, value) in enumerate([(1e-3, 0.5), (1e-2, 0.8), (1e-1, 0.9), (0.5, 0.3)])]
    assert warm.tell(warm.open_study(found_sweep(found), storage), earlier) == 4
    assert Trial(found, "t0").config["rung"] == 0 and found.drawn_from == [2]  # rungs 1, 3, 9: the top rung's model
    alone = searcher(9, search_options={"n_startup_trials": 3, "random_fraction": 0.0})
    Trial(alone, "t0")
    assert alone.drawn_from == [-1]  # without them: at random


def found_sweep(found):
    return Sweep(name=found.name, search="budgeted", space={}, metric="val_acc")


def test_brackets_take_hyperbands_shares_and_promote_within_their_own_bracket():
    """HyperBand's brackets (search_options brackets=B): the bracket starting at rung r gets
    ceil(R / (R - r) * eta^(R-1-r)) of every sum of configurations; a configuration starts at its bracket's rung and
    is compared with its own bracket only, so a rung that misleads one bracket cannot cut another's."""
    assert bracket_weights(4, 3, 4) == [27, 12, 6, 4] and bracket_weights(4, 3, 1) == [27]
    assert bracket_weights(3, 3, 9) == [9, 5, 3]  # at most one bracket per rung
    found = searcher(13, search_options={"brackets": 3, "random_fraction": 1.0})  # rungs 1, 3, 9: shares 9, 5, 3
    drawn = [Trial(found, f"t{i}") for i in range(13)]
    starts = [t.config["rung"] for t in drawn]
    assert [starts.count(r) for r in range(3)] == [7, 4, 2]  # 13 in the proportions 9 : 5 : 3, lowest first on ties
    assert all(t.config["epochs"] == [1, 3, 9][t.config["rung"]] for t in drawn)
    for trial in drawn:  # rung 0 scores 0.1 .. 0.7; bracket 1 (starting at rung 1) scores lower still
        finish(found, trial, {0: 0.1 * (1 + drawn.index(trial) % 7), 1: 0.01, 2: 0.5}[trial.config["rung"]])
    promoted = [found.suggest(f"p{i}") for i in range(3)]
    from_rung0 = [t for t in drawn if t.config["rung"] == 0]
    best0 = max(from_rung0, key=lambda t: 0.1 * (1 + drawn.index(t) % 7))
    assert promoted[0]["rung"] == 2 and promoted[0]["lr"] in [t.config["lr"] for t in drawn if t.config["rung"] == 1]
    assert {(p["rung"], p["lr"]) for p in promoted[1:]} >= {(1, best0.config["lr"])}

"""Growing a finished sweep (--resume RUN_DIR --num-samples N) and warm starts (--warm-start RUN_DIR), with real Ray
and Optuna on synthetic data."""

import json
import math

import optuna
import pandas as pd
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from sweep_helpers import TINY, cli_error, write_sweep
from tuner.sweep import cli as sweep_cli
from tuner.runfolder import STUDY_FILE


def fails(capsys, *argv):
    return cli_error(capsys, sweep_cli.main, *argv)


def study_of(run_dir):
    storage = JournalStorage(JournalFileBackend(str(run_dir / STUDY_FILE)))
    (summary,) = optuna.get_all_study_summaries(storage)
    return optuna.load_study(study_name=summary.study_name, storage=storage)


def test_growing_a_finished_sweep_adds_trials_keeps_the_study_and_confirms_and_tests_again(local_ray, tmp_path,
                                                                                        capsys):
    path = write_sweep(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={TINY}, space={{"lr": tune.loguniform(1e-4, 1e-1)}}, search="optuna",
                      trial_scheduler="none", num_samples=3, max_epochs=2, seeds=[0, 1], confirm_top=1)
    """)
    out = tmp_path / "run"
    assert sweep_cli.main([str(path), "--results", str(out), "--no-report"]) == 0
    first = pd.read_csv(out / "trials.csv")
    first_best = json.loads((out / "best.json").read_text())
    assert sorted(first["phase"].value_counts().items()) == [("confirm", 1), ("search", 3)]
    assert len(study_of(out).trials) == 3

    assert sweep_cli.main(["--resume", str(out), "--num-samples", "6", "--no-report"]) == 0
    printed = capsys.readouterr().out
    trials = pd.read_csv(out / "trials.csv")
    assert "round 2: 3 more trials (6 in all)" in printed
    search = trials[trials["phase"] == "search"]
    assert len(search) == 6 and sorted(search["round"].value_counts().items()) == [(1, 3), (2, 3)]
    assert set(first["trial_id"]) <= set(trials["trial_id"])  # the first round's trials stay, not re-run
    assert len(study_of(out).trials) == 6  # the same study: the new round's TPE saw the first three trials
    # the confirm phase ran again, over both rounds: the best search configuration has every seed now
    best_search = search.sort_values("val_acc", ascending=False).iloc[0]
    same = trials[trials["config/lr"] == best_search["config/lr"]]
    assert sorted(same["seed"]) == [0, 1]
    best = json.loads((out / "best.json").read_text())
    assert best["seeds"]["n"] == 2
    evaluations = [json.loads(line) for line in (out / "test_evaluations.jsonl").read_text().splitlines()]
    changed = best["trial_id"] != first_best["trial_id"]
    assert len(evaluations) == (2 if changed else 1)  # the test set is read again only for a new choice
    assert best["evaluation"] == evaluations[-1]["evaluation"] and evaluations[-1]["trial_id"] == best["trial_id"]
    assert json.loads((out / "spec.json").read_text())["rounds"] == [3, 6]
    assert json.loads((out / "run.json").read_text())["rounds"] == [3, 6]

    assert "has drawn 6 trials already" in fails(capsys, "--resume", str(out), "--num-samples", "5")
    assert "--max-epochs cannot change a sweep that has run" in fails(capsys, "--resume", str(out),
                                                                        "--max-epochs", "9")


@pytest.fixture(scope="module")
def grid_run(local_ray, tmp_path_factory):
    """A finished grid of 6 trials: one run for the two tests below (a grid cannot grow; a warm start takes from it)."""
    folder = tmp_path_factory.mktemp("grid")
    earlier = write_sweep(folder, f"""
        sweep = Sweep(data="synthetic", fixed={TINY},
                      space={{"lr": tune.grid_search([3e-4, 3e-3, 3e-2]), "optimizer": tune.grid_search(["sgd", "adam"])}},
                      search="grid", max_epochs=2)
    """, name="earlier.py")
    assert sweep_cli.main([str(earlier), "--results", str(folder / "old"), "--no-report"]) == 0
    return folder / "old"


def test_a_grid_cannot_grow(grid_run, capsys):
    spec = (grid_run / "spec.json").read_text()
    capsys.readouterr()
    assert "grows a random or Optuna search" in fails(capsys, "--resume", str(grid_run), "--num-samples", "8")
    assert (grid_run / "spec.json").read_text() == spec


def test_warm_start_tells_the_new_study_every_fitting_trial_and_why_the_others_were_left_out(grid_run, tmp_path,
                                                                                            capsys):
    old = grid_run
    old_trials = pd.read_csv(old / "trials.csv")
    history = pd.read_csv(old / "history.csv")
    fits = old_trials[(old_trials["config/lr"] >= 1e-3) & (old_trials["config/optimizer"] == "adam")]
    assert len(fits) == 2 and len(old_trials) == 6

    later = write_sweep(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={{**{TINY}, "optimizer": "adam"}},
                      space={{"lr": tune.loguniform(1e-3, 1e-1)}}, search="optuna", num_samples=2, max_epochs=2)
    """, name="later.py")
    new = tmp_path / "new"
    capsys.readouterr()
    assert sweep_cli.main([str(later), "--results", str(new), "--warm-start", str(old), "--no-report"]) == 0
    assert f"warm start: {len(fits)} earlier trials given to the search, {len(old_trials) - len(fits)} left out" \
        in capsys.readouterr().out
    saved = json.loads((new / "spec.json").read_text())["warm_start"]
    assert sorted(saved["taken"]) == sorted(f"{old} {t}" for t in fits["trial_id"])
    for item in saved["left_out"]:
        row = old_trials[old_trials["trial_id"] == item["trial_id"]].iloc[0]
        assert ("optimizer is adam here, sgd there" == item["why"]) if row["config/optimizer"] == "sgd" \
            else item["why"].startswith("lr=")
    told = [t for t in study_of(new).trials if "tuner.warm_start" in t.user_attrs]
    assert len(told) == len(fits)
    for trial in told:
        trial_id = trial.user_attrs["tuner.warm_start"].split()[-1]
        curve = history[history["trial_id"] == trial_id]
        assert trial.state == optuna.trial.TrialState.COMPLETE
        assert trial.value == pytest.approx(curve["val_acc"].max())
        assert trial.intermediate_values == pytest.approx(dict(zip(curve["epoch"], curve["val_acc"])))
        assert math.isclose(trial.params["lr"], float(old_trials.set_index("trial_id").loc[trial_id, "config/lr"]))
    new_trials = pd.read_csv(new / "trials.csv")
    assert len(new_trials) == 2 and not set(new_trials["trial_id"]) & set(old_trials["trial_id"])  # not candidates

    assert "is not a tuner run folder" in fails(capsys, str(later), "--warm-start", str(tmp_path))
    assert "needs an Optuna or a budgeted search" in fails(capsys, str(later), "--warm-start", str(old), "--set",
                                                           "search=random")


def test_a_budgeted_search_is_warm_started_at_the_full_budget(grid_run, tmp_path, capsys):
    """A budgeted search keeps its full budget's study under the sweep's name in the run folder's journal: the
    earlier trials that fit are told there, beside the results of the new trials (each once, with its trial id)."""
    old_trials = pd.read_csv(grid_run / "trials.csv")
    fits = old_trials[(old_trials["config/lr"] >= 1e-3) & (old_trials["config/optimizer"] == "adam")]
    later = write_sweep(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={{**{TINY}, "optimizer": "adam"}},
                      space={{"lr": tune.loguniform(1e-3, 1e-1)}}, search="budgeted", num_samples=2, max_epochs=2)
    """, name="later.py")
    new = tmp_path / "new"
    assert sweep_cli.main([str(later), "--results", str(new), "--warm-start", str(grid_run), "--no-report"]) == 0
    assert f"warm start: {len(fits)} earlier trials given to the search" in capsys.readouterr().out
    trials = study_of(new).trials  # rungs 2 epochs only (1 > 2 / 3): one study, the full budget's
    warm = sorted(t.user_attrs["tuner.warm_start"].split()[-1] for t in trials if "tuner.warm_start" in t.user_attrs)
    assert warm == sorted(fits["trial_id"])
    new_trials = pd.read_csv(new / "trials.csv")
    search = new_trials[new_trials["phase"] == "search"]
    told = {t.user_attrs["tuner.trial_id"]: t.value for t in trials if "tuner.trial_id" in t.user_attrs}
    assert told == pytest.approx(search.set_index("trial_id")["val_acc"].to_dict())

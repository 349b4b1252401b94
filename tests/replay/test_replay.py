"""tuner.replay and tuner.tables on a tiny table written here, whose every curve is known."""

import json
import math
import subprocess
import sys

import pytest
import ray

from tuner import replay, search
from tuner.errors import UserError
from tuner.replay import tables
from tuner.search import population
from tuner.search.optuna_search import study_name
from run_folders import EPOCHS, write_table

WIDE = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 1.0]
from sweep_helpers import cli_error

@pytest.fixture
def tiny(tmp_path):
    return tables.load(write_table(tmp_path / "tiny"))


def test_a_table_knows_its_best_configuration_and_maps_unrecorded_values_to_the_nearest(tiny):
    assert tiny.keys == ["lr"] and tiny.seeds == [0, 1] and tiny.trial_epochs == 2 * (3 * EPOCHS + 2)
    assert tiny.best.values == {"lr": 0.1} and tiny.best.mean == pytest.approx(0.8995)
    assert not tiny.points[(1.0,)].usable  # diverged on both seeds: no usable trial
    assert tiny.lookup({"lr": 0.05}).values == {"lr": 0.1}  # log scale: .05 is nearer .1 than .01
    assert tiny.lookup({"lr": 0.0029}).values == {"lr": 1e-3} and tiny.lookup({"lr": 0.0034}).values == {"lr": 1e-2}
    space = tiny.searched_space()
    assert type(space["lr"]).__name__ == "Float" and space["lr"].lower == 1e-3 and space["lr"].upper == 1.0


def test_the_grid_strategy_replays_the_table_in_virtual_time_and_chooses_its_best(tiny):
    result = replay.replay_one(tiny, "grid", replay.STRATEGIES["grid"], seed=0, workers=2)
    assert result.trial_epochs == tiny.trial_epochs and result.final is tiny.best
    times = [step[1] for step in result.steps]
    assert times == sorted(times) and times[-1] == pytest.approx(tiny.trial_epochs / 2)  # 1 s epochs on 2 workers


def test_virtual_time_decides_the_order_of_results(tmp_path):
    """Epochs of lr .1 take 10 s, the others 1 s: on two workers the fast trials report long before it."""
    table = tables.load(write_table(tmp_path / "slow", lrs=[1e-2, 1e-1], seeds=(0,),
                                    epoch_time=lambda lr: 10.0 if lr == 1e-1 else 1.0))
    result = replay.replay_one(table, "grid", replay.STRATEGIES["grid"], seed=0, workers=2)
    assert [round(s[1]) for s in result.steps] == [1, 2, 3, 4, 10, 20, 30, 40]
    chosen = [s[2] for s in result.steps]  # lr .1 overtakes lr .01's best epoch (.86) only at its own last (.90)
    assert chosen == [table.points[(1e-2,)].mean] * 7 + [table.points[(1e-1,)].mean]


def test_the_incumbent_follows_the_selection_rules(tiny):
    """Seed 1 of lr .01 is the best single trial (.899): while only one seed of each has run, it is chosen; once
    both seeds ran, the better mean (lr .1) is. The grid runs seed 0 of everything first (seeds vary slowest)."""
    result = replay.replay_one(tiny, "grid", replay.STRATEGIES["grid"], seed=0, workers=1)
    means = {round(step[2], 4) for step in result.steps}
    assert round(tiny.points[(1e-2,)].mean, 4) in means and result.final is tiny.best
    assert result.to_target(tiny.best.mean - 0.001, "val_acc")[0] <= tiny.trial_epochs


def test_the_command_writes_the_summary_the_json_and_the_plot(tmp_path):
    folder = write_table(tmp_path / "tiny")
    done = subprocess.run([sys.executable, "-m", "tuner.replay", str(folder), "--seeds", "3", "--workers", "2",
                           "--json", str(tmp_path / "r.json"), "--out", str(tmp_path / "out"),
                           "--define", "patient:base=tuner-default,grace_period=3"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["table"] == "tiny" and data["grid_trial_epochs"] == 28
    assert data["best_mean_val"] == pytest.approx(0.8995) and data["target"] == pytest.approx(0.8985)
    assert set(data["strategies"]) == {*replay.DEFAULT_STRATEGIES, "patient"}  # budgeted ones need --budgets
    for name, summary in data["strategies"].items():
        assert summary["seeds"] == 3 and 0 <= summary["reached"] <= 3, name
        assert isinstance(summary["median_final_mean_val"], float)
        assert summary["median_trial_epochs_to_target"] is None or summary["reached"] >= 2
    assert data["strategies"]["grid"]["median_trial_epochs_spent"] == 28
    assert (tmp_path / "out" / "anytime.png").stat().st_size > 10_000
    assert "| tuner-default |" in (tmp_path / "out" / "replay.md").read_text()


@pytest.mark.parametrize("search_name", sorted(search.SEARCHES))
def test_every_search_entry_replays(tiny, tmp_path, search_name):
    budgeted = search_name in search.BUDGETED_SEARCHES  # proposes each trial's budget: no trial scheduler beside it
    fields = {"search": search_name, "trial_scheduler": "none" if budgeted else "asha", "seeds": "all",
              "grace_period": 1, "reduction_factor": 2}
    budgets = {e: tables.load(write_table(tmp_path / f"e{e}", epochs=e)) for e in (1, 2)} if budgeted else None
    result = replay.replay_one(tiny, search_name, fields, seed=1, workers=2, budgets=budgets)
    assert result.final is not None and result.trial_epochs > 0


def budgeted_table(folder, lrs=WIDE, budgets=(1, 3)):
    """A table of 9 epochs and its shorter recordings of the same grid (paths)."""
    return write_table(folder / "full", lrs=lrs, epochs=9), [write_table(folder / f"e{e}", lrs=lrs, epochs=e)
                                                             for e in budgets]


def test_a_budgeted_table_replays_promotion_from_scratch_from_its_short_recordings(tmp_path):
    """Rungs 1, 3, 9: trials of 1 and 3 epochs replay the shorter tables' curves (each finished its schedule), full
    ones the table's; only full-budget trials are ever the incumbent, and the confirm phase re-runs one at full
    budget on the other seed."""
    full, short = budgeted_table(tmp_path)
    table = tables.load(full)
    budgets = tables.load_budgets(table, [str(p) for p in short])
    result = replay.replay_one(table, "tuner-budgeted", replay.STRATEGIES["tuner-budgeted"], seed=0, workers=2,
                               budgets=budgets)
    by_epochs = {e: [t for t in result.trials if t["epochs"] == e] for e in (1, 3, 9)}
    assert len(by_epochs[1]) == len(table.points) and by_epochs[3] and by_epochs[9]
    assert {t["status"] for t in by_epochs[1] + by_epochs[3]} <= {"TERMINATED", "DIVERGED"}
    assert result.trial_epochs == sum(t["epochs"] for t in result.trials)
    assert any(t["seed"] == 1 and t["epochs"] == 9 for t in result.trials)  # the confirm phase, at full budget
    full_points = {t["point"] for t in by_epochs[9]}
    chosen = [step[2] for step in result.steps if not math.isnan(step[2])]
    assert chosen and set(chosen) <= {table.points[p].mean for p in full_points}
    assert result.steps.index(next(s for s in result.steps if not math.isnan(s[2]))) >= len(table.points) - 1
    assert result.final is table.best


def test_bad_budgeted_tables_are_an_error_line(tmp_path, capsys):
    full, short = budgeted_table(tmp_path)
    other = write_table(tmp_path / "other", lrs=WIDE[:-1], epochs=3)
    fixed = write_table(tmp_path / "fixed", lrs=WIDE, epochs=3, fixed={"hidden": [16]})
    cases = [
        ([short[0]], "no budgeted table at 3 epochs"),  # rungs 1, 3, 9 need 1 and 3
        ([short[0], other], "not the same grid"),
        ([short[0], fixed], "fixed setting 'hidden' differs"),
        ([short[0], full], "not a budget below"),
        ([short[0], short[0]], "a second table at 1 epochs"),
    ]
    for given, message in cases:
        argv = [full, "--seeds", "1", "--strategies", "tuner-budgeted", "--budgets", ",".join(map(str, given))]
        assert message in replay_fails(capsys, *argv), given
    done = run_replay_cli(full, "--seeds", "1", "--budgets", short[0])
    assert done.returncode == 2 and done.stderr.strip().startswith("error: ") and len(done.stderr.splitlines()) == 1


def test_the_command_replays_a_budgeted_table_from_a_folder_of_its_budgets(tmp_path):
    full, short = budgeted_table(tmp_path / "t")
    folder = tmp_path / "budgets"
    folder.mkdir()
    for path in short:
        path.rename(folder / path.name)
    done = run_replay_cli(full, "--seeds", "2", "--strategies", "tuner-default,tuner-budgeted", "--budgets", folder,
                          "--json", tmp_path / "r.json", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "budget 1 epochs" in done.stdout and "budget 3 epochs" in done.stdout
    data = json.loads((tmp_path / "r.json").read_text())
    assert set(data["strategies"]) == {"tuner-default", "tuner-budgeted"}
    assert data["strategies"]["tuner-budgeted"]["seeds"] == 2


@pytest.mark.parametrize("scheduler", sorted(search.TRIAL_SCHEDULERS))
def test_every_trial_scheduler_entry_replays(tmp_path, scheduler):
    table = tables.load(write_table(tmp_path / "wide", lrs=[1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 1.0]))
    fields = {"search": "random", "trial_scheduler": scheduler, "num_samples": 12}
    if scheduler in population.POPULATION_SCHEDULERS:  # curves of fixed hyperparameters cannot show a perturbed one
        with pytest.raises(UserError, match="cannot be replayed"):
            replay.replay_one(table, scheduler, fields, seed=0, workers=2)
        return
    result = replay.replay_one(table, scheduler, fields, seed=0, workers=2)
    assert len(result.trials) == 12 and result.final is not None
    if scheduler not in ("none", "median", "optuna-median"):
        assert any(t["status"] == "STOPPED_EARLY" for t in result.trials), scheduler


@pytest.mark.parametrize("strategy", ["tuner-asha", "ray-default", "random-asha", "tpe-hyperband"])
def test_the_virtual_controller_decides_as_ray_tunes_own(tmp_path, strategy):
    """The same strategy through Ray Tune's real Tuner, one trial at a time: the same configurations, in the same
    order, each stopped (or paused and resumed, under HyperBand) after the same number of epochs."""
    fields = replay.STRATEGIES.get(strategy) or {**replay.STRATEGIES["tuner-asha"], "trial_scheduler": "hyperband"}
    table = tables.load(write_table(tmp_path / "t", lrs=[1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 1.0], seeds=(0,)))
    virtual = replay.replay_one(table, strategy, fields, seed=3, workers=1)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        real = replay.replay_with_tune(table, strategy, fields, seed=3, workers=1)
    finally:
        ray.shutdown()
    as_run = lambda r: [(t["point"], t["epochs"], t["status"]) for t in r.trials]  # noqa: E731
    assert as_run(virtual) == as_run(real)
    assert len({t["epochs"] for t in real.trials}) > 1  # the trial scheduler stopped some trials early


def test_the_virtual_controller_runs_a_budgeted_search_as_ray_tunes_own(tmp_path):
    """Budgeted search through Ray Tune's real Tuner, one trial at a time: the same (configuration, budget) trials in
    the same order; the searcher's waits (no promotable configuration yet, trials running) end the same way."""
    full, short = budgeted_table(tmp_path, budgets=(1, 3))
    table = tables.load(full)
    budgets = tables.load_budgets(table, [str(p) for p in short])
    fields = {**replay.STRATEGIES["tuner-budgeted"], "seeds": "one", "num_samples": 5}
    virtual = replay.replay_one(table, "b", fields, seed=2, workers=1, budgets=budgets)
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        real = replay.replay_with_tune(table, "b", fields, seed=2, workers=1, budgets=budgets)
    finally:
        ray.shutdown()
    as_run = lambda r: [(t["point"], t["epochs"], t["status"]) for t in r.trials]  # noqa: E731
    assert as_run(virtual) == as_run(real)
    assert {t["epochs"] for t in real.trials} == {1, 3, 9}


def test_a_warm_started_strategy_tells_its_study_the_earlier_trials_and_does_not_count_them(tiny):
    import optuna

    sweep = replay.strategy_sweep(tiny, replay.STRATEGIES["tuner-default"], 0)
    study = optuna.load_study(study_name=study_name(sweep), storage=replay.warm_study(tiny, sweep, 3, seed=0))
    assert len(study.trials) == 3 and {t.state for t in study.trials} == {optuna.trial.TrialState.COMPLETE}
    for trial in study.trials:
        point = tiny.lookup(trial.params)
        curve = point.curves[min(point.curves)]
        assert trial.value == pytest.approx(curve.best("val_acc"))
        assert trial.intermediate_values == pytest.approx({e + 1: r["val_acc"] for e, r in enumerate(curve.epochs)})
    fields = {**replay.STRATEGIES["tuner-default"], "warm_start": 3}
    result = replay.replay_one(tiny, "warm", fields, seed=0, workers=2)
    assert result.trial_epochs == sum(t["epochs"] for t in result.trials)  # this sweep's own trials only
    assert replay.parse_define("w:base=tuner-default,warm_start=3")[1]["warm_start"] == 3


def run_replay_cli(*argv):
    return subprocess.run([sys.executable, "-m", "tuner.replay", *map(str, argv)], capture_output=True, text=True,
                          timeout=300)


def replay_fails(capsys, *argv):
    return cli_error(capsys, replay.main, *argv)


def test_tables_that_cannot_be_replayed_are_refused(tmp_path, capsys):
    cases = {
        "missing_epoch": (write_table(tmp_path / "a", drop_epoch=("abcde_00002", 3)), "a missing epoch"),
        "stopped_early": (write_table(tmp_path / "b", status_of={1e-2: "STOPPED_EARLY"}), "is STOPPED_EARLY"),
        "asha": (write_table(tmp_path / "c", scheduler="asha"), "trial_scheduler='asha'"),
        "absent": (tmp_path / "nothing", "does not exist"),
    }
    for name, (folder, message) in cases.items():
        assert message in replay_fails(capsys, folder, "--seeds", "1"), name
    good = write_table(tmp_path / "good")
    for argv, message in ((["--strategies", "grid,bayes"], "unknown strategy 'bayes'"),
                          (["--define", "x:search=bayes"], "search 'bayes'"),
                          (["--define", "x:colour=red"], "not a Sweep field"),
                          (["--strategies", "grid", "--define", "p:base=random,trial_scheduler=pbt"],
                           "strategy pbt: population-based training"),
                          (["--strategies", "grid", "--define",
                            "c:base=tuner-budgeted,search_options.promotion=continue"], "cannot replay continuation")):
        assert message in replay_fails(capsys, good, "--seeds", "1", *argv), argv
    done = run_replay_cli(tmp_path / "nothing", "--seeds", "1")  # and as a user runs it: exit 2, one line
    assert done.returncode == 2 and done.stderr.strip().startswith("error: ") and len(done.stderr.splitlines()) == 1


def test_a_short_run_table_packs_without_test_accuracies_and_serves_as_a_budget(tmp_path):
    """`tuner.tables pack --no-test`: a budgeted table's short runs are read for their validation curves only, so
    they are packed without evaluating a checkpoint (the run folder here has none) and load as a budget."""
    full = tables.load(write_table(tmp_path / "full", epochs=9))
    done = subprocess.run([sys.executable, "-m", "tuner.tables", "pack", str(write_table(tmp_path / "e3", epochs=3)),
                           str(tmp_path / "e3.tar.gz"), "--no-test"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    short = tables.load(str(tmp_path / "e3.tar.gz"))
    assert not short.has_test and short.max_epochs == 3
    assert set(tables.load_budgets(full, [str(tmp_path / "e3.tar.gz")])) == {3}

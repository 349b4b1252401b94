"""A time budget the sweep plans for (tuner.sweep.budget): the plan's rules, and a real budgeted sweep that follows them."""

import json
import time

import pandas as pd
import pytest
import torch

from tuner import Sweep
from tuner.errors import UserError
from tuner.sweep import budget as plan
from tuner.sweep import cli as sweep_cli
from tuner.sweep.validate import validate
from tuner.train import optim
from tuner.train.config import TrainConfig
from tuner.train.probe import Probe
from sweep_helpers import trial_results, write_sweep

EPOCH_S = 10.0


def probe(epoch_s: float = EPOCH_S) -> Probe:
    """A measurement as tuner.probe reports one (here: given, so the plan's arithmetic can be checked)."""
    return Probe(epoch_s=epoch_s, train_batch_s=epoch_s / 100, batches=100, threads=2, device="cpu", precision="fp32",
                 measured_s=1.0)


def sweep(**fields) -> Sweep:
    from ray import tune

    base = dict(data="synthetic", space={"lr": tune.loguniform(1e-3, 1e-1),
                                         "scheduler": tune.choice(["onecycle", "step"])},
                search="optuna", trial_scheduler="asha", num_samples=40, max_epochs=10, seeds=[0, 1, 2])
    made = Sweep(**{**base, **fields})
    validate(made)
    return made


def budget_for(epochs: float, trials: int = 1) -> float:
    return plan.OVERHEAD_S + plan.PER_TRIAL_S * trials + epochs * EPOCH_S


def test_a_budget_of_two_and_a_half_epochs_trains_one_configuration_two_epochs_laid_out_over_two():
    made = plan.make(sweep(), probe(), budget_for(2.5), slots=2)
    assert (made.kind, made.trials, made.epochs, made.confirm) == ("one", 1, 2, False)
    assert made.describe().startswith("budget 46 s ≈ 2.5 epochs of 10.0 s here: 1 configuration x 2 epochs")
    planned = plan.apply(sweep(), made, cpus=2)
    assert (planned.max_epochs, planned.samples, planned.trial_scheduler, planned.seeds, planned.cpu) == (
        2, 1, "none", [0], 2)
    for scheduler in ("onecycle", "cosine"):  # the schedule ends when the trial does
        cfg = TrainConfig.from_dict({**planned.fixed_config(), "scheduler": scheduler, "lr": 0.01})
        schedule = optim.Schedule(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01), cfg, 5)
        total = getattr(schedule.main, "total_steps", None) or schedule.main.T_max * 5
        assert total == 2 * 5, scheduler
    step = TrainConfig.from_dict({**planned.fixed_config(), "scheduler": "step", "step_size": 10, "lr": 0.01})
    assert step.scheduled().step_size == 2  # StepLR's 10 epochs of 10 become 2 of 2, searched or fixed


def test_a_generous_budget_leaves_the_sweep_as_written():
    written = sweep()
    made = plan.make(written, probe(), budget_for(10_000, written.samples), slots=2)
    assert made.kind == "as_written" and plan.apply(written, made, cpus=2) is written
    assert made.expected_trial_epochs == pytest.approx(plan.expected_trial_epochs(written))


def test_a_few_configurations_run_to_the_same_length_the_start_points_first():
    starts = [{"lr": 0.01, "scheduler": "onecycle"}, {"lr": 0.05, "scheduler": "step"}]
    made = plan.make(sweep(start=starts), probe(), budget_for(16), slots=2)
    assert (made.kind, made.trials, made.epochs) == ("few", 2, 8)
    planned = plan.apply(sweep(start=starts), made, cpus=2)
    assert planned.trial_scheduler == "none" and planned.samples == 2 and planned.start == starts


def test_a_plan_of_a_few_configurations_drops_population_based_training_and_its_options():
    pbt = sweep(search="random", trial_scheduler="pbt", scheduler_options={"perturbation_interval": 2})
    made = plan.make(pbt, probe(), budget_for(16), slots=2)
    planned = plan.apply(pbt, made, cpus=2)  # validated: options without their scheduler would be an error
    assert made.kind == "few" and planned.trial_scheduler == "none" and planned.scheduler_options == {}


def test_a_larger_budget_searches_with_fewer_trials_that_fit():
    made = plan.make(sweep(), probe(), budget_for(60), slots=2)
    assert made.kind == "search" and made.trials < 40 and made.epochs == 10
    assert made.expected_trial_epochs <= made.affordable
    assert not made.confirm  # 3 configurations x 2 seeds x 10 epochs would take half of the 60


def test_a_budget_shorter_than_one_epoch_is_an_error_naming_the_epoch_time():
    with pytest.raises(UserError, match=r"time budget 26 s is shorter than one epoch here: 10\.0 s an epoch"):
        plan.make(sweep(), probe(), budget_for(0.5), slots=2)


def test_expected_trial_epochs_follow_the_trial_schedulers_geometry():
    asha = sweep(grace_period=1, reduction_factor=3, max_epochs=9, seeds=[0])
    assert plan.expected_trial_epochs(asha, trials=9) == pytest.approx(9 * 1 + 3 * 2 + 1 * 6)  # rungs 1, 3, then 9
    assert plan.expected_trial_epochs(sweep(trial_scheduler="none", seeds=[0]), trials=4) == 40


# ---------------------------------------------------------------- real sweeps


def test_start_points_run_first(local_ray, tmp_path):
    path = write_sweep(tmp_path, """
        sweep = Sweep(data="synthetic", fixed={"hidden": (16,), "batch_size": 200},
                      space={"lr": tune.loguniform(1e-4, 1e-1), "optimizer": tune.choice(["sgd", "adam"])},
                      start=[{"lr": 0.0123, "optimizer": "sgd"}, {"lr": 0.00456}], search="optuna",
                      trial_scheduler="none", num_samples=4, max_epochs=1, max_concurrent=1)
    """)  # one trial at a time, so the order of their reports is the order they were created
    out = tmp_path / "run"
    assert sweep_cli.main([str(path), "--results", str(out), "--no-report"]) == 0
    reported = {tid: records[0]["reported_at"] for tid, records in trial_results(out).items()}
    trials = pd.read_csv(out / "trials.csv")
    trials = trials.assign(order=trials["trial_id"].map(reported)).sort_values("order").reset_index(drop=True)
    assert len(trials) == 4
    assert (trials.loc[0, "config/lr"], trials.loc[0, "config/optimizer"]) == (0.0123, "sgd")
    assert trials.loc[1, "config/lr"] == 0.00456  # its optimizer drawn


def test_a_budgeted_sweep_follows_its_plan_and_ends_within_the_budget(local_ray, tmp_path):
    """Trials of about a second an epoch; the plan is whatever the measured epoch allows, and the run keeps it."""
    path = write_sweep(tmp_path, """
        sweep = Sweep(data="synthetic", fixed={"hidden": (256, 256), "batch_size": 10, "scheduler": "onecycle"},
                      space={"lr": tune.loguniform(1e-3, 1e-1)}, search="random", trial_scheduler="asha",
                      num_samples=30, max_epochs=20, seeds=[0, 1, 2])
    """)
    out, budget = tmp_path / "run", 45
    started = time.time()
    assert sweep_cli.main([str(path), "--results", str(out), "--time-budget", str(budget)]) == 0
    elapsed = time.time() - started
    spec = json.loads((out / "spec.json").read_text())
    made = spec["plan"]
    assert spec["training_path"]["configs"][0]["path"]  # measured (or ruled) before the probe, recorded
    assert (spec["training_path"]["estimated_sweep_s"] or 0) <= budget  # its share is of what the budget allows
    trials = pd.read_csv(out / "trials.csv")
    assert made["kind"] != "as_written" and made["epochs"] <= 20
    assert (trials["schedule_epochs"] == made["epochs"]).all() and (trials["epochs"] <= made["epochs"]).all()
    assert len(trials) <= made["trials"] + 3 * 2  # the plan's trials, and a confirm phase if it planned one
    assert elapsed <= budget * 1.15, elapsed  # the whole command, report included
    assert (out / "best.json").exists() and (out / "report.html").exists()


def test_the_estimate_counts_the_sweeps_trial_epochs_and_names_the_way_out_of_a_gpu_sized_sweep(tmp_path, capsys):
    path = write_sweep(tmp_path, """
        sweep = Sweep(data="synthetic", fixed={"hidden": (32,), "batch_size": 100}, search="optuna",
                      space={"lr": tune.loguniform(1e-3, 1e-1)}, num_samples=64, max_epochs=30000, seeds=[0, 1, 2],
                      confirm_top=3, gpu=0.25)
    """)
    assert sweep_cli.main([str(path), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    expected = 64 * 30000 + 3 * 2 * 30000  # every trial to max_epochs, then the confirm phase
    assert f"on this machine ({expected} trial-epochs x " in printed
    if not torch.cuda.is_available():
        assert "asks for GPUs" in printed and "--time-budget" in printed and "--smoke" in printed

"""Every entry of the trial-scheduler registry builds, for a sweep its checks accept, a Ray Tune TrialScheduler
that takes the sweep's metric; population-based ones keep each donor's checkpoint until it can be copied."""

import pytest
from ray import tune
from ray.tune.schedulers import TrialScheduler

from tuner import Sweep, search
from tuner.search import population
from tuner.sweep.fields import check_fields
from tuner.train.config import PERTURBABLE


def sweep_for(name: str, **fields) -> Sweep:
    return Sweep(data="synthetic", space={"lr": tune.loguniform(1e-4, 1e-1), "momentum": tune.uniform(0.5, 0.95),
                                          "optimizer": tune.choice(["sgd", "rmsprop"])},
                 search="random", trial_scheduler=name, num_samples=4, max_epochs=6, **fields)


@pytest.mark.parametrize("name", sorted(search.TRIAL_SCHEDULERS))
def test_every_trial_scheduler_entry_builds_for_a_sweep_its_checks_accept(name):
    sweep = sweep_for(name)
    check_fields(sweep)
    scheduler = search.trial_scheduler(sweep)
    assert isinstance(scheduler, TrialScheduler)
    assert scheduler.set_search_properties("val_acc", "max") in (True, None)


def test_population_schedulers_perturb_the_spaces_continuous_lr_momentum_and_weight_decay():
    sweep = sweep_for("pbt")
    assert set(population.mutations(sweep)) == {"lr", "momentum"} <= set(PERTURBABLE)
    assert population.bounds(sweep) == {"lr": [1e-4, 1e-1], "momentum": [0.5, 0.95]}
    assert population.perturbation_interval(sweep) == 1  # max_epochs // 4
    assert population.checkpoints_to_keep(sweep) == 3
    longer = sweep_for("pb2", scheduler_options={"perturbation_interval": 3}, checkpoint_keep=1)
    assert population.checkpoints_to_keep(longer) == 5
    assert population.checkpoints_to_keep(sweep_for("asha", checkpoint_keep=2)) == 2

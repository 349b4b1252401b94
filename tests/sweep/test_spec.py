"""--set on names that both a Sweep and a TrainConfig have."""

import pytest

from tuner.errors import UserError
from tuner import Sweep
from tuner.sweep.load import apply_overrides


def test_set_subset_cuts_in_the_driver_and_fixed_subset_trains_on_fewer_images():
    sweep = Sweep(data="synthetic", space={"subset": [100, 200]})
    driver_cut = apply_overrides(sweep, {"subset": "500"})
    assert driver_cut.subset == 500 and "subset" not in driver_cut.fixed
    per_trial = apply_overrides(sweep, {"fixed.subset": "500"})
    assert per_trial.subset == 0 and per_trial.fixed["subset"] == 500 and "subset" not in per_trial.space
    assert sweep.fixed == {} and "subset" in sweep.space


def test_set_fixed_of_an_unknown_hyperparameter_is_an_error():
    with pytest.raises(UserError, match="unknown key 'fixed.subsett'"):
        apply_overrides(Sweep(data="synthetic"), {"fixed.subsett": "5"})

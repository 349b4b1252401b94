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


# ---------------------------------------------------------------- messages that point at the mistake

def sweep_file(tmp_path, body):
    from sweep_helpers import write_sweep

    return write_sweep(tmp_path, body)


GOOD = """
sweep = Sweep(data="synthetic", fixed={"hidden": (16,)}, space={"lr": tune.loguniform(1e-4, 1e-1),
              "optimizer": tune.choice(["sgd", "adam"])}, num_samples=2, max_epochs=1)
"""


@pytest.mark.parametrize("assignment, says", [
    ("optimizer=adamm", "--set optimizer=adamm: unknown optimizer 'adamm' (did you mean 'adam'?)"),
    ("lr=abc", "--set lr=abc: setting 'lr' expects float, got 'abc'"),
    ("max_epochs=ten", "--set max_epochs=ten: "),
])
def test_a_bad_set_value_is_named_as_the_fault(tmp_path, capsys, assignment, says):
    from sweep_helpers import cli_error
    from tuner.sweep import cli as sweep_cli

    message = cli_error(capsys, sweep_cli.main, sweep_file(tmp_path, GOOD), "--set", assignment, "--dry-run")
    assert message.startswith(f"error: {says}"), message
    assert "space[" not in message


def test_a_misspelled_sweep_field_gets_did_you_mean(tmp_path, capsys):
    from sweep_helpers import cli_error
    from tuner.sweep import cli as sweep_cli

    path = sweep_file(tmp_path, 'sweep = Sweep(data="synthetic", max_epoch=10)\n')
    message = cli_error(capsys, sweep_cli.main, path, "--dry-run")
    assert f"{path}:4:" in message and "max_epoch" in message and "did you mean max_epochs" in message
    assert "TypeError" not in message


def test_registry_names_are_matched_case_insensitively(tmp_path):
    from tuner.sweep.load import load

    path = sweep_file(tmp_path, 'sweep = Sweep(data="synthetic", search="Random", trial_scheduler="ASHA", '
                                'space={"lr": tune.loguniform(1e-4, 1e-1)})\n')
    sweep = apply_overrides(load(path), {"search": "OPTUNA"})
    assert (sweep.search, sweep.trial_scheduler) == ("optuna", "asha")
    assert load(path).search == "random"


def test_the_main_sweep_searches_momentum_only_where_the_optimizer_uses_it():
    from pathlib import Path

    from tuner.runfolder import expand_paired
    from tuner.search import space as space_lib
    from tuner.sweep.load import load

    sweep = load(Path(__file__).resolve().parents[2] / "sweeps" / "mnist_mlp.py")
    configs = [expand_paired(c) for c in space_lib.sample_configs(sweep, 60)]
    assert {c["optimizer"] for c in configs} == {"sgd", "adam", "adamw", "rmsprop"}
    for config in configs:
        assert ("momentum" in config) == (config["optimizer"] in ("sgd", "rmsprop")), config
    assert all("momentum" not in point for point in sweep.start if point["optimizer"] in ("adam", "adamw"))


def test_set_fixes_a_setting_of_a_define_by_run_space_and_its_branches_follow():
    from pathlib import Path

    from tuner.search import space as space_lib
    from tuner.sweep.load import load

    sweep = load(Path(__file__).resolve().parents[2] / "sweeps" / "mnist_mlp.py")
    fixed_lr = apply_overrides(sweep, {"lr": "0.01"})
    assert fixed_lr.fixed["lr"] == 0.01 and "lr" not in space_lib.searched_names(fixed_lr.space, 0)
    adam = apply_overrides(fixed_lr, {"optimizer": "adam"})
    assert adam.fixed == {**fixed_lr.fixed, "optimizer": "adam"}
    assert space_lib.searched_names(adam.space, 0) == {"scheduler", "batch_size", "augment"}  # no momentum
    assert [point.get("momentum") for point in adam.start] == [None, None]  # adam proposes no momentum
    sgd = apply_overrides(sweep, {"optimizer": "sgd"})
    assert {c.get("momentum") for c in space_lib.sample_configs(sgd, 20)} == {0.0, 0.9}

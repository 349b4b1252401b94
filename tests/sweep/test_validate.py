"""Bad input ends in one `error: ...` line and exit code 2, before Ray starts."""

import subprocess
import sys

import pytest
import ray

from tuner.sweep import cli as sweep_cli
from tuner.train import datasets as data
from sweep_helpers import TINY, cli_error, write_sweep

GOOD = f"""
sweep = Sweep(data="synthetic", fixed={TINY}, space={{"lr": tune.loguniform(1e-4, 1e-1)}}, num_samples=2,
              max_epochs=1)
"""


def fails(capsys, *argv):
    message = cli_error(capsys, sweep_cli.main, *argv)
    assert not ray.is_initialized()
    return message


BAD_FILES = {
    "syntax": ("sweep = Sweep(data='synthetic'", "syntax error"),
    "no_sweep": ("x = 1", "defines no `sweep"),
    "not_a_sweep": ("sweep = {'data': 'mnist'}", "expected a tuner Sweep"),
    "unknown_model": ("sweep = Sweep(model='resnet50')", "unknown model 'resnet50'"),
    "unknown_optimizer": ("sweep = Sweep(space={'optimizer': tune.choice(['sgd', 'adamm'])})",
                          "unknown optimizer 'adamm'"),
    "unknown_scheduler": ("sweep = Sweep(fixed={'scheduler': 'cosin'})", "unknown scheduler 'cosin'"),
    "unknown_augment": ("sweep = Sweep(space={'augment': tune.choice(['flip', 'mixup'])})",
                        "unknown augmentation 'mixup'"),
    "unknown_search": ("sweep = Sweep(search='bayes')", "search 'bayes'"),
    "unknown_hyperparameter": ("sweep = Sweep(space={'learning_rate': tune.uniform(0, 1)})",
                               "unknown hyperparameter 'learning_rate'"),
    "empty_choice": ("sweep = Sweep(space={'optimizer': tune.choice([])})", "non-empty"),
    "inverted_range": ("sweep = Sweep(space={'lr': tune.loguniform(0.1, 0.001)})", "low must be below high"),
    "empty_range": ("sweep = Sweep(space={'dropout': tune.uniform(0.3, 0.3)})", "low must be below high"),
    "negative_budget": ("sweep = Sweep(num_samples=-3)", "num_samples must be a positive integer"),
    "zero_epochs": ("sweep = Sweep(max_epochs=0)", "max_epochs must be a positive integer"),
    "bad_value": ("sweep = Sweep(space={'dropout': tune.choice([0.2, 1.5])})", "'dropout' must be in [0, 1)"),
    "grid_with_random_domain": ("sweep = Sweep(search='grid', space={'lr': tune.uniform(0.1, 0.2)})",
                                "needs tune.grid_search"),
    "paired_wrong_length": ("sweep = Sweep(search='grid', space={'optimizer+lr': tune.grid_search([('sgd',)])})",
                            "each value must be a tuple of 2"),
    "paired_with_optuna": ("sweep = Sweep(search='optuna', space={'optimizer+lr': tune.choice([('sgd', 0.1)])})",
                           "define-by-run"),
    "paired_unknown_part": ("sweep = Sweep(space={'optimizer+rate': tune.choice([('sgd', 0.1)])})",
                            "unknown hyperparameter 'rate'"),
    "raises": ("import missing_module_xyz", "ModuleNotFoundError"),
    # field types: named, never a traceback
    "cpu_as_text": ("sweep = Sweep(cpu='2')", "cpu must be a number, got '2'"),
    "reduction_factor_as_text": ("sweep = Sweep(reduction_factor='3')", "reduction_factor must be a number"),
    "seeds_not_integers": ("sweep = Sweep(seeds=[0, 'one'])", "seeds must be a list of integers"),
    # the metric's direction comes from one table; selection is on validation only
    "train_metric": ("sweep = Sweep(metric='train_loss')", "tuner selects on the validation split"),
    "contradicting_mode": ("sweep = Sweep(metric='val_loss', mode='max')", "contradicts metric 'val_loss'"),
    "grid_num_samples": ("sweep = Sweep(search='grid', num_samples=3, space={'lr': tune.grid_search([0.1])})",
                         "does not apply to search='grid'"),
    # settings a sweep sets elsewhere, or that would rank trials on different validation sets
    "searched_seed": ("sweep = Sweep(space={'seed': tune.choice([1, 2])})", "set seeds with Sweep(seeds="),
    "fixed_data": ("sweep = Sweep(data='synthetic', fixed={'data': 'mnist'})", "set the data set with Sweep(data="),
    "searched_val_fraction": ("sweep = Sweep(space={'val_fraction': tune.uniform(0.1, 0.2)})",
                              "same validation split"),
    "searched_split_seed": ("sweep = Sweep(space={'split_seed': tune.choice([0, 1])})", "same validation split"),
    # settings that do not go together: refused before Ray, not failed in every trial
    "nesterov_without_momentum": ("sweep = Sweep(data='synthetic', fixed={'optimizer': 'sgd', 'nesterov': True})",
                                  "nesterov=true needs optimizer sgd with momentum > 0"),
    "warmup_with_onecycle": ("sweep = Sweep(data='synthetic', fixed={'warmup_epochs': 1}, "
                             "space={'scheduler': tune.choice(['cosine', 'onecycle'])})", "has its own warm-up"),
    "plateau_per_batch": ("sweep = Sweep(data='synthetic', fixed={'scheduler_interval': 'batch'}, "
                          "space={'scheduler': tune.choice(['step', 'plateau'])})", "can only step per epoch"),
    "warmup_in_a_grid_combination": ("sweep = Sweep(data='synthetic', search='grid', space={'scheduler': "
                                     "tune.grid_search(['cosine', 'onecycle']), 'warmup_epochs': "
                                     "tune.grid_search([0, 1])})", "scheduler=onecycle, warmup_epochs=1 fails"),
    # settings that do not fit the data's images: the model is built on the meta device first
    "vit_patch": ("sweep = Sweep(data='synthetic', model='vit', fixed={'patch': 5, 'width': 32, 'heads': 4})",
                  "patch 5 does not divide the 28x28 image"),
    "vit_heads": ("sweep = Sweep(data='synthetic', model='vit', space={'width': tune.choice([32, 30]), "
                  "'heads': tune.choice([4])})", "divisible by heads 4"),
    "cnn_too_deep": ("sweep = Sweep(data='synthetic', model='cnn', space={'channels': tune.choice([(8,), "
                     "(8, 8, 8, 8, 8, 8)])})", "needs images of at least 64 px"),
    "define_by_run_combination": ("def space(trial):\n    trial.suggest_categorical('width', [32, 30])\n"
                                  "sweep = Sweep(data='synthetic', model='vit', fixed={'heads': 4}, space=space, "
                                  "search='optuna')", "divisible by heads 4"),
    # population-based training: what it can perturb, beside which search, how often
    "pbt_with_optuna": ("sweep = Sweep(search='optuna', trial_scheduler='pbt', space={'lr': tune.loguniform(1e-3, "
                        "1e-1)})", "runs with search 'random' or 'grid'"),
    "pbt_non_perturbable": ("sweep = Sweep(trial_scheduler='pbt', space={'lr': tune.loguniform(1e-3, 1e-1)}, "
                            "scheduler_options={'hyperparam_mutations': {'batch_size': [64, 128]}})",
                            "'batch_size' cannot be perturbed in a running trial"),
    "pbt_interval_too_long": ("sweep = Sweep(trial_scheduler='pbt', max_epochs=4, space={'lr': tune.loguniform("
                              "1e-3, 1e-1)}, scheduler_options={'perturbation_interval': 4})",
                              "perturbation_interval must be an integer from 1 to max_epochs - 1 (3), got 4"),
    "pbt_nothing_to_perturb": ("sweep = Sweep(trial_scheduler='pbt', space={'optimizer': tune.choice(['sgd', "
                               "'adam'])})", "has nothing to perturb"),
    "pbt_paired_lr": ("sweep = Sweep(trial_scheduler='pbt', space={'optimizer+lr': tune.choice([('sgd', 0.1)])}, "
                      "scheduler_options={'hyperparam_mutations': {'lr': tune.loguniform(1e-3, 1e-1)}})",
                      "'lr' is paired in space key 'optimizer+lr'"),
    "pbt_unknown_option": ("sweep = Sweep(trial_scheduler='pbt', space={'lr': tune.loguniform(1e-3, 1e-1)}, "
                           "scheduler_options={'interval': 2})", "'interval' is not one of perturbation_interval"),
    "pb2_inverted_bounds": ("sweep = Sweep(trial_scheduler='pb2', scheduler_options={'hyperparam_bounds': "
                            "{'lr': [0.1, 0.01]}})", "hyperparam_bounds['lr'] must be [low, high]"),
    "scheduler_options_without_pbt": ("sweep = Sweep(trial_scheduler='asha', scheduler_options={"
                                      "'perturbation_interval': 1})", "scheduler_options apply to trial_scheduler"),
    "budgeted_zero_brackets": ("sweep = Sweep(search='budgeted', space={'lr': tune.loguniform(1e-3, 1e-1)}, "
                               "search_options={'brackets': 0})", "brackets must be a whole number of at least 1"),
    "budgeted_fraction": ("sweep = Sweep(search='budgeted', space={'lr': tune.loguniform(1e-3, 1e-1)}, "
                          "search_options={'random_fraction': 1.5})", "random_fraction must be a number from 0 to 1"),
    "budgeted_keep": ("sweep = Sweep(search='budgeted', space={'lr': tune.loguniform(1e-3, 1e-1)}, "
                      "search_options={'keep': 1})", "keep (the share of a rung promoted) must be a number above 0"),
    "budgeted_promotion": ("sweep = Sweep(search='budgeted', space={'lr': tune.loguniform(1e-3, 1e-1)}, "
                           "search_options={'promotion': 'resume'})",
                           "promotion for search='budgeted' is 'scratch' or 'continue', got 'resume'"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_sweep_files(tmp_path, capsys, case):
    body, expected = BAD_FILES[case]
    path = write_sweep(tmp_path, body + "\n", name=f"{case}.py")
    message = fails(capsys, str(path), "--dry-run")
    assert expected in message and str(path) in message


def test_bad_command_lines(tmp_path, capsys, monkeypatch):
    good = write_sweep(tmp_path, GOOD)
    assert "not found" in fails(capsys, str(tmp_path / "absent.py"))
    assert "unknown key 'lerning_rate'" in fails(capsys, str(good), "--set", "lerning_rate=0.1")
    assert "did you mean 'lr'" in fails(capsys, str(good), "--set", "lr_=0.1")
    assert "expects float" in fails(capsys, str(good), "--set", "lr=fast")
    assert "unknown data set 'mnits'" in fails(capsys, str(good), "--data", "mnits")
    assert "num_samples must be a positive integer" in fails(capsys, str(good), "--num-samples", "0")
    assert "time_budget_s must be > 0" in fails(capsys, str(good), "--time-budget", "-5")
    assert "--set seeds expects integers" in fails(capsys, str(good), "--set", "seeds=abc")
    assert "tuner selects on the validation split" in fails(capsys, str(good), "--set", "metric=train_loss")
    assert "contradicts" in fails(capsys, str(good), "--set", "metric=val_loss", "--set", "mode=max")
    assert "--no-plan applies to a time budget" in fails(capsys, str(good), "--no-plan")
    assert "not a tuner run folder" in fails(capsys, "--resume", str(tmp_path))
    assert "either a sweep file or --resume" in fails(capsys, str(good), "--resume", str(tmp_path))

    def offline(tv_class, root):
        raise OSError("no network")

    monkeypatch.setattr(data, "download", offline)
    empty = tmp_path / "no-data"
    message = fails(capsys, str(good), "--data", "mnist", "--data-dir", str(empty))
    assert str(empty) in message and "TUNER_DATA" in message
    assert not (tmp_path / "runs").exists()


def test_a_shape_error_stops_a_real_run_before_ray_starts_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_sweep(tmp_path, "sweep = Sweep(data='synthetic', model='vit', fixed={'patch': 5, 'width': 32, "
                                 "'heads': 4}, max_epochs=1, num_samples=1)\n")
    assert "does not divide" in fails(capsys, str(path), "--results", str(tmp_path / "run"))
    assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()


def _image(path, size=8, color=(255, 0, 0)):
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), color).save(path)


def test_image_folders_that_cannot_be_read_are_named(tmp_path, capsys):
    good = write_sweep(tmp_path, GOOD)
    flat = tmp_path / "flat"
    for i in range(4):
        _image(flat / f"{i}.png")
    message = fails(capsys, str(good), "--data", f"imagefolder:{flat}", "--dry-run")
    assert "0.png is not inside a class folder" in message
    corrupt = tmp_path / "corrupt"
    for cls in ("cat", "dog"):
        for i in range(3):
            _image(corrupt / cls / f"{i}.png")
    (corrupt / "dog" / "bad.png").write_bytes(b"not an image at all")
    message = fails(capsys, str(good), "--data", f"imagefolder:{corrupt}", "--dry-run")
    assert "dog/bad.png is not a readable image" in message


def test_cli_error_is_one_line_and_exit_2(tmp_path):
    bad = write_sweep(tmp_path, "sweep = Sweep(model='resnet50')\n")
    done = subprocess.run([sys.executable, "-m", "tuner.sweep", str(bad)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {bad}: fixed settings: unknown model 'resnet50'; choose "
                                                "one of: cnn, gru, mixer, mlp, resnet12, tinyvgg, vit"]
    assert not (tmp_path / "runs").exists()


def test_dry_run_prints_spec_trial_count_and_samples(tmp_path, capsys):
    path = write_sweep(tmp_path, f"""
sweep = Sweep(data="synthetic", fixed={TINY}, search="grid", seeds=[0, 1, 2],
              space={{"lr": tune.grid_search([0.1, 0.01]), "optimizer": tune.grid_search(["sgd", "adam"])}})
""")
    assert sweep_cli.main([str(path), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "trials to start: 12" in printed and "grid_search([0.1, 0.01])" in printed
    assert printed.count("  lr=") == 5
    assert not ray.is_initialized()


def test_dry_run_shows_a_searched_key_that_also_has_a_default(tmp_path, capsys):
    path = write_sweep(tmp_path, f"""
sweep = Sweep(data="synthetic", model="mlp", fixed={TINY}, search="grid",
              space={{"model+width": tune.grid_search([("mlp", None), ("vit", 32)])}})
""")
    assert sweep_cli.main([str(path), "--dry-run"]) == 0
    samples = capsys.readouterr().out.split("first grid points:")[1].splitlines()
    assert samples[1].strip().startswith("model=mlp") and samples[2].strip().startswith("model=vit, width=32")

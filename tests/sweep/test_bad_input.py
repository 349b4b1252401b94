"""Issue 19: inputs that gave a traceback (exit 1) or ran when they should not get one `error: ...` line and exit
code 2, before Ray starts."""

import pytest
import ray

from tuner.sweep import cli as sweep_cli
from sweep_helpers import TINY, cli_error, write_sweep

MLP = f"""
sweep = Sweep(data="synthetic", fixed={TINY}, space={{"lr": tune.loguniform(1e-4, 1e-1)}}, num_samples=2,
              max_epochs=1)
"""
VIT = """
sweep = Sweep(data="synthetic", model="vit", fixed={"batch_size": 100}, space={"lr": tune.loguniform(1e-4, 1e-1)},
              num_samples=2, max_epochs=1)
"""
RESNET = VIT.replace('"vit"', '"resnet12"')


def fails(capsys, *argv):
    message = cli_error(capsys, sweep_cli.main, *argv)
    assert not ray.is_initialized()
    return message


SETTINGS = [  # (sweep, command line, what the error line names)
    (MLP, ["--set", "beta1=1.5"], "'beta1' must be in [0, 1), got 1.5"),
    (VIT, ["--set", "heads=0"], "'heads' must be >= 1, got 0"),
    (VIT, ["--set", "patch=0"], "'patch' must be >= 1, got 0"),
    (VIT, ["--set", "depth=0"], "'depth' must be >= 1, got 0"),
    (VIT, ["--set", "width=0"], "'width' must be >= 1, got 0"),
    (VIT, ["--set", "mlp_dim=-3"], "'mlp_dim' must be >= 1, got -3"),
    (RESNET, ["--set", "width=-1"], "'width' must be >= 1, got -1"),
    (MLP, ["--set", "search_seed=-1"], "search_seed must be an integer from 0"),
    (MLP, ["--gpus-per-trial", "inf"], "gpu must be a finite number, got inf"),
    (MLP, ["--data", "synthetic:-1x28x28"], "positive sizes like 3x32x32, got '-1x28x28'"),
]


@pytest.mark.parametrize("body, argv, expected", SETTINGS, ids=[" ".join(a) for _, a, _ in SETTINGS])
def test_out_of_range_settings_are_one_error_line(tmp_path, capsys, body, argv, expected):
    path = write_sweep(tmp_path, body)
    assert expected in fails(capsys, path, *argv, "--dry-run")


def test_results_that_cannot_hold_a_run_folder_stop_before_the_data_loads(tmp_path, capsys, monkeypatch):
    from tuner.sweep import engine

    def no_data(*args, **kwargs):
        raise AssertionError("the data was loaded before --results was checked")

    monkeypatch.setattr(engine, "load_data", no_data)
    path = write_sweep(tmp_path, MLP)
    a_file = tmp_path / "taken.txt"
    a_file.write_text("not a folder")
    assert f"--results {a_file} is a file" in fails(capsys, path, "--results", a_file)
    assert f"lies under {a_file}, which is a file" in fails(capsys, path, "--results", a_file / "run")
    assert "/sys is not writable" in fails(capsys, path, "--results", "/sys/tuner-run")  # read-only, even for root
    assert a_file.read_text() == "not a folder" and sorted(p.name for p in tmp_path.iterdir()) == ["taken.txt",
                                                                                                  "tiny.py"]


def _run_folder(folder, spec_text):
    (folder / "ray").mkdir(parents=True)
    (folder / "sweep.py").write_text("from tuner import Sweep\nsweep = Sweep(data='synthetic')\n")
    for name in ("trials.csv", "history.csv"):
        (folder / name).write_text("trial_id,status\n")
    (folder / "spec.json").write_text(spec_text)
    return folder


def test_a_spec_json_without_its_sweep_is_refused_by_resume(tmp_path, capsys):
    run = _run_folder(tmp_path / "run", '{"fixed_config": {}, "cli": {}}')
    assert "has no 'sweep' entry" in fails(capsys, "--resume", run)


@pytest.mark.parametrize("spec", ['{"sweep": {}, "fixed_config": "mlp"}', '{"sweep": {}, "fixed_config": null}',
                                  '{"sweep": {}}', '{"sweep": '])
def test_a_warm_start_with_a_corrupt_spec_json_is_one_error_line(tmp_path, capsys, spec):
    old = _run_folder(tmp_path / "old", spec)
    path = write_sweep(tmp_path, MLP.replace("max_epochs=1", "max_epochs=1, search='optuna'"))
    message = fails(capsys, path, "--warm-start", old, "--results", tmp_path / "new")
    assert message.startswith(f"error: --warm-start {old}") and str(old / "spec.json") in message


def test_more_cpus_per_trial_than_this_machine_has_is_an_error_not_a_hang(tmp_path):
    import os
    import subprocess

    from sweep_helpers import sweep_command

    path = write_sweep(tmp_path, MLP)
    too_many = str((os.cpu_count() or 1) + 1)
    done = subprocess.run(sweep_command(path, tmp_path / "run", "--cpus-per-trial", too_many), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    error = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and f"asks for {too_many} CPU, 0 GPU" in error[0] and "this machine has" in error[0]
    assert not (tmp_path / "run").exists()


START_POINTS = [  # (the searched domain, a start value outside it, what the error line says)
    ('tune.choice(["adam", "rmsprop"])', '"sgd"', "start[0] sets optimizer='sgd', not offered by "
                                                  "choice(['adam', 'rmsprop'])"),
    ("tune.loguniform(1e-4, 1e-1)", "5.0", "start[0] sets lr=5.0, outside loguniform(0.0001, 0.1)"),
    ("tune.randint(16, 64)", "64", "start[0] sets batch_size=64, outside randint(16, 64)"),
]


@pytest.mark.parametrize("domain, value, expected", START_POINTS)
def test_a_start_point_outside_the_space_is_refused_at_dry_run(tmp_path, capsys, domain, value, expected):
    key = {"tune.choice": "optimizer", "tune.loguni": "lr", "tune.randin": "batch_size"}[domain[:11]]
    path = write_sweep(tmp_path, f"""
sweep = Sweep(data="synthetic", fixed={{"hidden": (16,)}}, space={{"{key}": {domain}}}, search="optuna",
              start=[{{"{key}": {value}}}], num_samples=2, max_epochs=1)
""")
    assert expected in fails(capsys, path, "--dry-run")


def test_start_points_inside_the_space_pass(tmp_path, capsys):
    path = write_sweep(tmp_path, """
sweep = Sweep(data="synthetic", fixed={"hidden": (16,)}, search="optuna", num_samples=3, max_epochs=1,
              space={"optimizer": tune.choice(["adam", "sgd"]), "lr": tune.loguniform(1e-4, 1e-1),
                     "batch_size": tune.randint(16, 64)},
              start=[{"optimizer": "sgd", "lr": 1e-4, "batch_size": 63}, {"lr": 0.1, "batch_size": 16}])
""")
    from tuner.sweep import cli
    assert cli.main([str(path), "--dry-run"]) == 0


DEFINE_BY_RUN = """
def space(trial):
    optimizer = trial.suggest_categorical("optimizer", ["adam", "rmsprop"])
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    if optimizer == "adam":
        trial.suggest_int("batch_size", 16, 64)

"""
DEFINE_BY_RUN_START = [  # (a start point outside the define-by-run space, what the error line says)
    ('{"optimizer": "sgd"}', "start[0] sets optimizer='sgd', which the space function's "
                             "suggest_categorical('optimizer', ['adam', 'rmsprop']) cannot draw"),
    ('{"lr": 5.0}', "start[0] sets lr=5.0, which the space function's suggest_float('lr', 0.0001, 0.1, log=True) "
                    "cannot draw"),
    ('{"optimizer": "adam", "batch_size": 65}', "start[0] sets batch_size=65, which the space function's "
                                                "suggest_int('batch_size', 16, 64) cannot draw"),
]


@pytest.mark.parametrize("point, expected", DEFINE_BY_RUN_START)
def test_a_start_point_outside_a_define_by_run_space_is_refused_at_dry_run(tmp_path, capsys, point, expected):
    path = write_sweep(tmp_path, DEFINE_BY_RUN + f"""
sweep = Sweep(data="synthetic", fixed={{"hidden": (16,)}}, space=space, search="optuna",
              start=[{point}], num_samples=2, max_epochs=1)
""")
    assert expected in fails(capsys, path, "--dry-run")


def test_start_points_inside_a_define_by_run_space_pass(tmp_path):
    path = write_sweep(tmp_path, DEFINE_BY_RUN + """
sweep = Sweep(data="synthetic", fixed={"hidden": (16,)}, space=space, search="optuna", num_samples=3, max_epochs=1,
              start=[{"optimizer": "adam", "lr": 1e-1, "batch_size": 64}, {"optimizer": "rmsprop", "lr": 1e-4}])
""")
    assert sweep_cli.main([str(path), "--dry-run"]) == 0

"""A sweep's own model and data are checked like the built-in ones before Ray starts: every configuration the space
can produce is built on the meta device; a model or data set that cannot run is one `error:` line, exit code 2."""

import pytest

from tuner.sweep import cli
from sweep_helpers import cli_error, write_sweep

FACTORY = '''
from torch import nn


def net(image_shape, num_classes, depth=1, width=8):
    if depth > 2:
        raise ValueError(f"depth {depth} is not supported")
    c, h, w = image_shape
    layers = [nn.Flatten(), nn.Linear(c * h * w, width), nn.ReLU()]
    layers += [nn.Linear(width, width), nn.ReLU()] * (depth - 1)
    return nn.Sequential(*layers, nn.Linear(width, num_classes))


def wrong_output(image_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(image_shape[0] * image_shape[1] * image_shape[2], num_classes + 1))


def not_a_module(image_shape, num_classes):
    return "a string"


def one_class():
    import numpy as np
    x = np.zeros((20, 1, 8, 8), np.uint8)
    return x, np.zeros(20, int), x[:5], np.zeros(5, int)


'''
BAD = {
    "factory_raises": ("sweep = Sweep(data='synthetic', model=net, space={'model.depth': tune.choice([1, 2, 3])})",
                       "the configuration model.depth=3 cannot run on 1x28x28 images: model 'tuner_sweep_file:net'"
                       "(depth=3) raised ValueError: depth 3 is not supported"),
    "wrong_output": ("sweep = Sweep(data='synthetic', model=wrong_output)", "returns (2, 11) for a batch of 2 images"),
    "not_a_module": ("sweep = Sweep(data='synthetic', model=not_a_module)", "returned a str, not a torch nn.Module"),
    "unknown_keyword": ("sweep = Sweep(data='synthetic', model=net, fixed={'model.colour': 'red'})",
                        "unexpected keyword argument 'colour'"),
    "lambda": ("sweep = Sweep(data='synthetic', model=lambda shape, n: None)", "cannot be found again by name"),
    "unknown_torchvision": ("sweep = Sweep(data='synthetic', model='torchvision:resnet19')",
                            "torchvision has no classifier 'resnet19'"),
    "model_arg_of_a_builtin": ("sweep = Sweep(data='synthetic', model='mlp', space={'model.depth': "
                               "tune.choice([1, 2])})", "built-in model 'mlp' takes TrainConfig fields"),
    "one_class_data": ("sweep = Sweep(data=one_class, model=net)",
                       "data 'tuner_sweep_file:one_class': the training images hold one class only"),
    "missing_package": ("sweep = Sweep(data='synthetic', model='nosuchpackage.nets:net')",
                        "cannot import 'nosuchpackage.nets'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_model_or_data_set_that_cannot_run_is_one_error_line(tmp_path, capsys, case):
    body, expected = BAD[case]
    path = write_sweep(tmp_path, FACTORY + body + "\n", name=f"{case}.py")
    message = cli_error(capsys, cli.main, path, "--dry-run")
    assert expected in message
    assert str(path) in message or case.endswith("_data")  # a data set's errors name the data set


def test_a_real_run_stops_before_ray_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_sweep(tmp_path, FACTORY + BAD["factory_raises"][0] + "\n")
    assert "depth 3 is not supported" in cli_error(capsys, cli.main, path, "--results", tmp_path / "run")
    assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()


def test_dry_run_says_what_was_changed_in_a_torchvision_model(tmp_path, capsys):
    path = write_sweep(tmp_path, "sweep = Sweep(data='synthetic:1x8x8', model='torchvision:resnet18', num_samples=1, "
                                 "max_epochs=1, space={'model.zero_init_residual': tune.choice([True, False])})\n")
    assert cli.main([str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "model.zero_init_residual" in out
    assert ("model torchvision:resnet18 (zero_init_residual=True) changed to fit the data: conv1: 7x7 stride 2 -> "
            "3x3 stride 1, maxpool removed (8x8 images are small; 3 -> 1 input channels)") in out


def _package(root, name):
    package = root / "lib" / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "nets.py").write_text("from torch import nn\n\n\ndef net(image_shape, num_classes, width=8):\n"
                                     "    c, h, w = image_shape\n    return nn.Sequential(nn.Flatten(), "
                                     "nn.Linear(c * h * w, num_classes))\n")
    return package


def test_code_names_packages_relative_to_the_sweep_file_and_with_code_to_the_working_folder(tmp_path, capsys,
                                                                                             monkeypatch):
    _package(tmp_path, "pkg_in_file")
    _package(tmp_path, "pkg_on_line")
    path = write_sweep(tmp_path, "from pkg_on_line.nets import net\n\n"
                                 "sweep = Sweep(data='synthetic:1x8x8', model='pkg_in_file.nets:net', code=['lib/pkg_in_file'],"
                                 " max_epochs=1, space={'model': tune.choice(['pkg_in_file.nets:net', net])})\n")
    monkeypatch.chdir(tmp_path / "lib")
    assert cli.main([str(path), "--dry-run", "--code", "pkg_on_line"]) == 0
    assert "checked: 2 configurations build" in capsys.readouterr().out


CODE_ERRORS = {  # (the sweep's code, the command line, what the error line says)
    "missing": ("['lib/nothing']", [], "code: lib/nothing not found"),
    "no_init": ("['lib']", [], "code: lib is a folder without __init__.py"),
    "not_python": ("['lib/notes.txt']", [], "code: lib/notes.txt is neither a package folder nor a .py module"),
    "a_string": ("'lib/pkg_bad'", [], "code must be a list of package folders"),
    "set": ("[]", ["--set", "code=lib/pkg_bad"], "--set code=... is not supported; edit the sweep file or give --code"),
    "missing_on_line": ("[]", ["--code", "lib/nothing"], "code: lib/nothing not found"),
}


@pytest.mark.parametrize("case", sorted(CODE_ERRORS))
def test_a_code_entry_that_is_no_package_is_one_error_line(tmp_path, capsys, monkeypatch, case):
    code, argv, expected = CODE_ERRORS[case]
    _package(tmp_path, "pkg_bad")
    (tmp_path / "lib" / "notes.txt").write_text("not code")
    monkeypatch.chdir(tmp_path)
    path = write_sweep(tmp_path, f"sweep = Sweep(data='synthetic:1x8x8', model='mlp', code={code}, max_epochs=1)\n")
    assert expected in cli_error(capsys, cli.main, path, "--dry-run", *argv)


def test_a_model_too_large_for_the_memory_a_trial_has_is_one_error_line(tmp_path, capsys):
    path = write_sweep(tmp_path, """
        from torch import nn


        def wide(image_shape, num_classes, width=8):
            c, h, w = image_shape
            return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, width), nn.Linear(width, num_classes))


        sweep = Sweep(data='synthetic:1x8x8', model=wide, max_epochs=1, fixed={'optimizer': 'adam'},
                      space={'model.width': tune.choice([8, 2_000_000_000])})
    """)
    message = cli_error(capsys, cli.main, path, "--dry-run")
    params = 64 * 2_000_000_000 + 2_000_000_000 + 2_000_000_000 * 10 + 10
    assert "the configuration model.width=2000000000 cannot run on 1x8x8 images" in message
    assert (f"has {params:,} parameters: their weights, gradients and adam state take at least "
            f"{params * 16 / 2 ** 30:.1f} GiB (16 bytes a parameter), more than the") in message
    assert message.endswith("GiB of RAM available on this machine")

"""python -m tuner.export katib: a sweep file -> Katib Experiment YAML, and back with from_katib."""

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tuner import Sweep, export
from tuner.integrations import katib, katib_read
from tuner.search.space import describe_domain, sample_define_by_run
from tuner.sweep.load import load
from tuner.train.config import TrainConfig, parse_assignments
from tuner.errors import UserError, run_cli
from sweep_helpers import TINY, write_sweep

ROOT = Path(__file__).resolve().parents[2]
STUDY_SWEEPS = ["cifar_cnn.py", "mnist_mlp.py"]  # define-by-run spaces: momentum only for SGD and RMSprop
KATIB_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")  # Katib's webhook rule for metadata.name (<= 40 chars)


def export_yaml(capsys, *argv):
    """Run the CLI in-process; the YAML on stdout, parsed."""
    assert run_cli(export.main, ["katib", *map(str, argv)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Katib Experiment")
    return yaml.safe_load(out)


def fails(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(export.main, ["katib", *map(str, argv)])
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert exit_info.value.code == 2 and captured.out == ""  # no half-written YAML
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def container_of(experiment):
    template = experiment["spec"]["trialTemplate"]
    containers = template["trialSpec"]["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == template["primaryContainerName"])


def expected_fixed(sweep):
    """What every trial gets: the sweep's fixed settings as TrainConfig values, plus the search's seed."""
    values = {**sweep.fixed_config(), "seed": sweep.seeds[0]}
    config = TrainConfig.from_dict(values)
    return {k: getattr(config, k) for k in values}


def signature(domain):
    """A domain's kind and the values it can take, comparable across Ray's ways of writing the same thing."""
    from ray.tune.search.sample import Categorical, Float, Integer

    if isinstance(domain, dict):
        return ("grid", tuple(domain["grid_search"]))
    if isinstance(domain, Categorical):
        return ("choice", tuple(domain.categories))
    sampler = domain.get_sampler()
    q = getattr(sampler, "q", None)
    base = type(sampler.get_sampler() if q is not None else sampler).__name__.lstrip("_")
    if isinstance(domain, Integer):  # the set of integers it can draw
        step = q or 1
        low = math.ceil(domain.lower / step) * step
        high = math.floor(domain.upper / step) * step if step > 1 else domain.upper - 1
        return ("int", base, low, high, step)
    assert isinstance(domain, Float)
    return ("float", base, float(domain.lower), float(domain.upper), q)


# ---------------------------------------------------------------- the study sweeps


@pytest.mark.parametrize("name", STUDY_SWEEPS)
def test_study_sweep_exports_a_valid_experiment(tmp_path, capsys, name):
    path = ROOT / "sweeps" / name
    sweep = load(path)
    out = tmp_path / "experiment.yaml"
    assert run_cli(export.main, ["katib", str(path), "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().err
    experiment = yaml.safe_load(out.read_text())

    assert experiment["apiVersion"] == "kubeflow.org/v1beta1" and experiment["kind"] == "Experiment"
    meta = experiment["metadata"]
    assert KATIB_NAME.fullmatch(meta["name"]) and len(meta["name"]) <= 40
    assert meta["namespace"] == "kubeflow"
    body = experiment["spec"]
    assert body["objective"]["type"] == "maximize" and body["objective"]["objectiveMetricName"] == "val_acc"
    assert "val_acc" not in body["objective"]["additionalMetricNames"]
    assert {s["name"]: s["value"] for s in body["objective"]["metricStrategies"]}["val_loss"] == "min"
    assert body["algorithm"]["algorithmName"] == "multivariate-tpe"  # sweep.search == "optuna"
    assert {"name": "random_state", "value": "0"} in body["algorithm"]["algorithmSettings"]
    assert sweep.trial_scheduler == "none" and "earlyStopping" not in body  # every trial trains to the end
    assert "start points are left out" in meta["annotations"]["tuner/notes"]
    conditional = next(n for n in meta["annotations"]["tuner/notes"].splitlines() if n.startswith("space:"))
    assert "draws momentum on every trial" in conditional and "lr" not in conditional
    assert body["maxTrialCount"] == sweep.num_samples
    assert 1 <= body["parallelTrialCount"] <= body["maxTrialCount"]
    assert 0 <= body["maxFailedTrialCount"] <= body["maxTrialCount"]
    assert body["metricsCollectorSpec"]["collector"] == {"kind": "StdOut"}
    assert body["metricsCollectorSpec"]["source"]["filter"]["metricsFormat"] == [katib.METRICS_FILTER]

    params = {p["name"]: p for p in body["parameters"]}
    assert set(params) == sweep.searched_names()
    for p in params.values():
        assert p["parameterType"] in ("double", "int", "categorical", "discrete")
        assert all(isinstance(v, str) for v in p["feasibleSpace"].values() if not isinstance(v, list))
        assert all(isinstance(v, str) for v in p["feasibleSpace"].get("list", []))
    assert params["lr"]["feasibleSpace"] == {"min": "0.0001", "max": "0.3", "distribution": "logUniform"}
    assert params["batch_size"]["feasibleSpace"]["list"] == ["64", "128", "256"]

    template = body["trialTemplate"]
    assert [(t["name"], t["reference"]) for t in template["trialParameters"]] == [(k, k) for k in params]
    job = template["trialSpec"]
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    container = container_of(experiment)
    assert container["image"] == "tuner:latest"
    assert {"name": "TUNER_DATA", "value": "/data"} in container["env"]
    command = container["command"]
    assert " ".join(command).startswith("python -m tuner.train --set ")
    for key in params:
        assert f"{key}=${{trialParameters.{key}}}" in command
        assert command[command.index(f"{key}=${{trialParameters.{key}}}") - 1] == "--set"
    fixed = parse_assignments([command[i + 1] for i, a in enumerate(command) if a == "--set"])
    assert fixed["data"] == sweep.data and fixed["model"] == sweep.model
    assert fixed["epochs"] == str(sweep.max_epochs) and fixed["seed"] == "0"
    if sweep.gpu:
        assert container["resources"]["limits"]["nvidia.com/gpu"] == 1


@pytest.mark.parametrize("name", STUDY_SWEEPS)
def test_study_sweep_round_trips(name):
    """The flat space read back holds every configuration the define-by-run function proposes, and exports to
    the same parameters again."""
    sweep = load(ROOT / "sweeps" / name)
    experiment, _ = katib.to_katib(sweep)
    experiment = yaml.safe_load(yaml.safe_dump(experiment))  # what kubectl would read
    fixed, space = katib_read.from_katib(experiment)
    assert fixed == expected_fixed(sweep)
    assert set(space) == sweep.searched_names()
    for proposed in sample_define_by_run(sweep.space, 200, seed=7):
        for key, value in proposed.items():
            assert holds(space[key], value), (key, value)
    again, _ = katib.to_katib(Sweep(**{**vars(sweep), "space": space}))
    assert again["spec"]["parameters"] == experiment["spec"]["parameters"]


def holds(domain, value):
    from ray.tune.search.sample import Categorical

    if isinstance(domain, Categorical):
        return value in domain.categories
    return domain.lower <= value <= domain.upper


# ---------------------------------------------------------------- domains


def test_tiny_sweep_round_trips_every_domain_kind(tmp_path):
    path = write_sweep(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={TINY}, search="random", num_samples=5, max_epochs=2, space={{
            "width": tune.randint(8, 65),
            "depth": tune.lograndint(1, 17),
            "heads": tune.qrandint(2, 17, 2),
            "step_size": tune.qrandint(3, 11, 1),
            "lr": tune.loguniform(1e-5, 1e-1),
            "weight_decay": tune.qloguniform(1e-5, 1e-2, 1e-5),
            "dropout": tune.uniform(0.05, 0.5),
            "label_smoothing": tune.quniform(0.0, 0.2, 0.05),
            "channels": tune.choice([(8, 16), (16, 32, 64)]),
            "batch_norm": tune.choice([False, True]),
            "dropout2d": tune.choice([None, 0.1]),
            "optimizer": tune.choice(["sgd", "adam"]),
        }})
    """)
    sweep = load(path)
    experiment, _ = katib.to_katib(sweep)
    params = {p["name"]: p for p in experiment["spec"]["parameters"]}
    # Ray's randint/lograndint upper bound is exclusive, Katib's max inclusive
    assert params["width"] == {"name": "width", "parameterType": "int", "feasibleSpace": {"min": "8", "max": "64"}}
    assert params["depth"]["feasibleSpace"] == {"min": "1", "max": "16", "step": "1", "distribution": "logUniform"}
    assert params["heads"]["feasibleSpace"] == {"min": "2", "max": "16", "step": "2"}  # q > 1: inclusive
    assert params["step_size"]["feasibleSpace"] == {"min": "3", "max": "10"}  # q == 1: exclusive, as randint
    assert params["lr"]["feasibleSpace"] == {"min": "1e-05", "max": "0.1", "distribution": "logUniform"}
    assert params["weight_decay"]["feasibleSpace"] == {"min": "1e-05", "max": "0.01", "step": "1e-05",
                                                       "distribution": "logUniform"}
    assert params["dropout"] == {"name": "dropout", "parameterType": "double",
                                 "feasibleSpace": {"min": "0.05", "max": "0.5"}}
    assert params["label_smoothing"]["feasibleSpace"] == {"min": "0.0", "max": "0.2", "step": "0.05"}
    assert params["channels"]["feasibleSpace"]["list"] == ["8,16", "16,32,64"]  # as --set channels=8,16 parses
    assert params["batch_norm"]["feasibleSpace"]["list"] == ["false", "true"]
    assert params["dropout2d"]["feasibleSpace"]["list"] == ["none", "0.1"]
    assert experiment["spec"]["algorithm"]["algorithmName"] == "random"
    assert "earlyStopping" not in experiment["spec"]  # no early stopping by default

    fixed, space = katib_read.from_katib(yaml.safe_load(yaml.safe_dump(experiment)))
    assert fixed == expected_fixed(sweep)
    assert sorted(space) == sweep.space_keys
    for key, domain in sweep.space.items():
        assert signature(space[key]) == signature(domain), key
    for key in ("width", "depth", "lr", "weight_decay", "dropout", "label_smoothing", "channels", "batch_norm",
                "dropout2d", "optimizer"):  # written the same way, too (heads comes back as qrandint(2, 16, 2))
        assert describe_domain(space[key]) == describe_domain(sweep.space[key]), key


def test_grid_sweep_exports_katib_grid_with_seeds(tmp_path, capsys):
    path = write_sweep(tmp_path, f"""
        sweep = Sweep(name="Grid_Study", data="synthetic", fixed={TINY}, search="grid", seeds=[0, 1, 2],
                      trial_scheduler="none", max_epochs=3, space={{
                          "optimizer": tune.grid_search(["sgd", "adam"]),
                          "lr": tune.grid_search([0.1, 0.01, 0.001]),
                      }})
    """)
    sweep = load(path)
    experiment = export_yaml(capsys, path)
    body = experiment["spec"]
    assert experiment["metadata"]["name"] == "grid-study"
    assert body["algorithm"]["algorithmName"] == "grid"
    assert "earlyStopping" not in body
    assert body["maxTrialCount"] == 2 * 3 * 3  # grid points x seeds: Katib's grid rejects more
    params = {p["name"]: p for p in body["parameters"]}
    assert params["lr"] == {"name": "lr", "parameterType": "categorical", "feasibleSpace": {"list": ["0.1", "0.01",
                                                                                                      "0.001"]}}
    assert params["seed"]["feasibleSpace"]["list"] == ["0", "1", "2"]
    assert "seed=${trialParameters.seed}" in container_of(experiment)["command"]

    fixed, space = katib_read.from_katib(experiment)
    assert fixed == {k: v for k, v in expected_fixed(sweep).items() if k != "seed"}
    assert space["seed"] == {"grid_search": [0, 1, 2]}
    for key, domain in sweep.space.items():
        assert describe_domain(space[key]) == describe_domain(domain), key

    fails(capsys, path, "--max-trials", "19")  # more than the grid has
    assert export_yaml(capsys, path, "--max-trials", "6", "--parallel", "10")["spec"]["parallelTrialCount"] == 6


def test_overrides_and_options(capsys):
    path = ROOT / "sweeps" / "cifar_cnn.py"
    experiment = export_yaml(capsys, path, "--set", "lr=0.01", "--set", "trial_scheduler=none", "--set",
                             "search=optuna-tpe", "--set", "max_epochs=4", "--image", "reg.example/tuner:1",
                             "--namespace", "team-a", "--name", "mnist-a", "--max-trials", "12", "--parallel",
                             "4", "--max-failed", "2", "--data-pvc", "tuner-data")
    body = experiment["spec"]
    assert experiment["metadata"] == {**experiment["metadata"], "name": "mnist-a", "namespace": "team-a"}
    assert "lr" not in {p["name"] for p in body["parameters"]}
    assert "earlyStopping" not in body and body["algorithm"]["algorithmName"] == "tpe"
    assert (body["maxTrialCount"], body["parallelTrialCount"], body["maxFailedTrialCount"]) == (12, 4, 2)
    container = container_of(experiment)
    assert container["image"] == "reg.example/tuner:1"
    assert "lr=0.01" in container["command"] and "epochs=4" in container["command"]
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    assert body["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["volumes"][0][
        "persistentVolumeClaim"] == {"claimName": "tuner-data"}


def test_asha_becomes_katibs_median_stop_and_says_so(capsys):
    path = ROOT / "sweeps" / "cifar_cnn.py"
    experiment = export_yaml(capsys, path, "--set", "trial_scheduler=asha", "--set", "grace_period=3")
    assert experiment["spec"]["earlyStopping"] == {"algorithmName": "medianstop", "algorithmSettings": [
        {"name": "min_trials_required", "value": "3"}, {"name": "start_step", "value": "3"}]}
    assert "approximated" in experiment["metadata"]["annotations"]["tuner/notes"]


def test_multi_objective_keeps_the_first(tmp_path):
    path = write_sweep(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={TINY}, search="optuna", trial_scheduler="none",
                      objectives=[("val_acc", "max"), ("val_loss", "min"), ("num_params", "min")],
                      space={{"lr": tune.loguniform(1e-4, 1e-1)}})
    """)
    experiment, notes = katib.to_katib(load(path))
    objective = experiment["spec"]["objective"]
    assert objective["objectiveMetricName"] == "val_acc" and objective["type"] == "maximize"
    assert objective["additionalMetricNames"][0] == "val_loss"
    assert "num_params" not in objective["additionalMetricNames"]  # not printed as name=value: said in a note
    assert any("num_params" in n for n in notes) and any("additionalMetricNames" in n for n in notes)


# ---------------------------------------------------------------- metrics collector


def test_metrics_filter_reads_real_train_output():
    """Katib's StdOut collector on what `python -m tuner.train` really prints (emulated with Python's re;
    the filter uses only syntax Go's RE2 reads the same way)."""
    epochs = 2
    run = subprocess.run([sys.executable, "-m", "tuner.train", "--set", "data=synthetic", "--set", f"epochs={epochs}",
                          "--set", "hidden=32", "--set", "subset=600", "--set", "device=cpu"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    epoch_lines = [line for line in lines if line.startswith("epoch ")]
    assert len(epoch_lines) == epochs
    printed = [float(re.search(r"\bval_acc=(\S+)", line).group(1)) for line in epoch_lines]

    def collect(pattern, metric):
        """As Katib's file-metricscollector: lines naming the metric, every (name, value) match on them."""
        found = []
        for line in lines:
            if metric in line:
                found += [(m.group(1).strip(), m.group(2).strip()) for m in re.finditer(pattern, line)]
        return found

    matches = collect(katib.METRICS_FILTER, "val_acc")
    values = [float(v) for name, v in matches if name == "val_acc"]
    assert values[:epochs] == printed  # one report per epoch ...
    assert values[epochs:] == [max(printed)]  # ... and the summary line's best
    assert all(float(v) == float(v) for _, v in matches)  # every match parses: the collector's Fatalf never fires
    assert {"val_loss", "train_acc", "train_loss"} <= {name for name, _ in matches}
    assert not any(name == "epoch" for name, _ in matches)  # `epoch 1/2` is not a metric
    # Katib's default filter also matches `status=completed` with an empty value: the reason for our own
    default = collect(katib.KATIB_DEFAULT_FILTER, "val_acc")
    assert [float(v) for name, v in default if name == "val_acc"] == values
    assert ("status", "") in default


def test_metrics_filter_is_valid_for_katib():
    pattern = katib.METRICS_FILTER
    assert re.fullmatch(r".*\(.*\).*\(.*\).*", pattern)  # the webhook's "two top subexpressions" check
    assert ";" not in pattern  # the collector splits its filters on ';'
    line = "epoch 3/10 train_loss=0.1234 train_acc=0.9 val_loss=nan val_acc=0.9812 lr=1e-05 epoch_time_s=2.50"
    assert dict(m.groups() for m in re.finditer(pattern, line)) == {
        "train_loss": "0.1234", "train_acc": "0.9", "val_acc": "0.9812", "lr": "1e-05", "epoch_time_s": "2.50"}


# ---------------------------------------------------------------- errors


def test_define_by_run_sweep_exports_flat_and_names_what_is_conditional(tmp_path, capsys):
    path = write_sweep(tmp_path, f"""
        def space(trial):
            optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam"])
            trial.suggest_float("lr", 1e-4, 1e-1, log=True)
            if optimizer == "sgd":
                trial.suggest_categorical("momentum", [0.0, 0.9])
                trial.suggest_int("step_size", 2, 10, step=2)
            trial.suggest_int("width", 8, 64)
            trial.suggest_int("depth", 1, 16, log=True)
            trial.suggest_float("dropout", 0.0, 0.5, step=0.1)
            return {{"weight_decay": 0.001}}

        sweep = Sweep(data="synthetic", fixed={TINY}, space=space, search="optuna", trial_scheduler="none")
    """)
    experiment = export_yaml(capsys, path)
    params = {p["name"]: p["feasibleSpace"] for p in experiment["spec"]["parameters"]}
    assert params == {  # Optuna's inclusive int bounds stay Katib's inclusive max
        "optimizer": {"list": ["sgd", "adam"]},
        "lr": {"min": "0.0001", "max": "0.1", "distribution": "logUniform"},
        "momentum": {"list": ["0.0", "0.9"]},
        "step_size": {"min": "2", "max": "10", "step": "2"},
        "width": {"min": "8", "max": "64"},
        "depth": {"min": "1", "max": "16", "step": "1", "distribution": "logUniform"},
        "dropout": {"min": "0.0", "max": "0.5", "step": "0.1"},
    }
    notes = experiment["metadata"]["annotations"]["tuner/notes"]
    assert "exported flat" in notes and "draws momentum, step_size on every trial" in notes
    assert "weight_decay=0.001" in container_of(experiment)["command"]  # what the function returns is fixed


@pytest.mark.parametrize("branches, message", [
    ('trial.suggest_float("lr", 1e-4, 1e-1, log=True) if o == "sgd" else '
     'trial.suggest_float("lr", 1e-5, 1e-2, log=True)',
     "space['lr']: the define-by-run function proposes it as"),
    ('return {"weight_decay": 0.01 if o == "sgd" else 0.0}', "depend on what it draws"),
])
def test_define_by_run_sweep_without_a_flat_form_exits_2(tmp_path, capsys, branches, message):
    path = write_sweep(tmp_path, f"""
        def space(trial):
            o = trial.suggest_categorical("optimizer", ["sgd", "adam"])
            {branches}

        sweep = Sweep(data="synthetic", fixed={TINY}, space=space, search="optuna")
    """)
    assert message in fails(capsys, path)


@pytest.mark.parametrize("body, message", [
    (None, "not found"),
    ("sweep = Sweep(data='synthetic'", "syntax error"),
    ("sweep = Sweep(space={'optimizer+lr': tune.grid_search([('sgd', 0.1), ('adam', 0.001)])}, search='grid')",
     "paired hyperparameters"),
    ("sweep = Sweep(space={'lr': tune.sample_from(lambda _: 0.01)})", "unsupported domain"),
    ("sweep = Sweep(data='imagefolder:/my data', space={'lr': tune.uniform(0.01, 0.1)})", "sh -c"),
    ("sweep = Sweep(metric='num_params', mode='min', space={'lr': tune.uniform(0.01, 0.1)})", "num_params"),
])
def test_bad_sweeps_exit_2(tmp_path, capsys, body, message):
    path = tmp_path / "missing.py" if body is None else write_sweep(tmp_path, body)
    assert message in fails(capsys, path)


@pytest.mark.parametrize("domain", ["randn", "sample_from", "constant"])
def test_domains_without_a_katib_counterpart(domain):
    from ray import tune

    value = {"randn": tune.randn(0.01, 0.001), "sample_from": tune.sample_from(lambda _: 0.01),
             "constant": 0.01}[domain]
    with pytest.raises(UserError, match=r"space\['lr'\]: .*(no Katib counterpart|not a Ray Tune domain)"):
        katib.to_katib(Sweep(space={"lr": value}))


def test_unknown_set_key_exits_2(capsys):
    assert "unknown key 'learning_rate'" in fails(capsys, ROOT / "sweeps" / "mnist_mlp.py", "--set",
                                                   "learning_rate=0.1")


KAT_NETS = ("from torch import nn\n\n\ndef net(image_shape, num_classes, width=8, depth=1):\n    c, h, w = image_shape\n"
            "    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, width), nn.ReLU(), nn.Linear(width, num_classes))"
            "\n")


def test_a_sweeps_own_model_and_its_model_keys_export_round_trip_and_run_in_the_container_command(tmp_path):
    package = tmp_path / "lib" / "katpkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "nets.py").write_text(KAT_NETS)
    path = write_sweep(tmp_path, """
        sweep = Sweep(data="synthetic:1x8x8", model="katpkg.nets:net", code=["lib/katpkg"], search="random",
                      num_samples=3, max_epochs=1, fixed={"model.depth": 1},
                      space={"model.width": tune.randint(4, 33), "lr": tune.loguniform(1e-3, 1e-1)})
    """)
    sweep = load(path)
    experiment, notes = katib.to_katib(sweep)
    params = {p["name"]: p for p in experiment["spec"]["parameters"]}
    assert params["model.width"] == {"name": "model.width", "parameterType": "int",
                                     "feasibleSpace": {"min": "4", "max": "32"}}
    assert any("the image must be able to import katpkg (for katpkg.nets:net)" in note for note in notes)
    fixed, space = katib_read.from_katib(yaml.safe_load(yaml.safe_dump(experiment)))
    assert fixed == {**sweep.fixed_config(), "seed": 0} and fixed["model.depth"] == 1  # a model key keeps its type
    assert sorted(space) == sweep.space_keys and signature(space["model.width"]) == signature(sweep.space["model.width"])

    values = {"model.width": "5", "lr": "0.01"}  # what Katib substitutes for one trial
    command = [re.sub(r"\$\{trialParameters\.([^}]+)\}", lambda m: values[m.group(1)], part)
               for part in container_of(experiment)["command"]]
    assert "model.width=5" in command and "model.depth=1" in command
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package.parent), *sys.path])}  # the image's packages
    run = subprocess.run([sys.executable, *command[1:], "--set", "device=cpu", "--set", "subset=300"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "model katpkg.nets:net: 385 parameters" in run.stdout and "val_acc=" in run.stdout  # 64*5+5 + 5*10+10


def test_a_model_of_the_sweep_file_cannot_run_in_katibs_container(tmp_path, capsys):
    path = write_sweep(tmp_path, """
        from torch import nn


        def net(image_shape, num_classes, width=8):
            return nn.Sequential(nn.Flatten(), nn.Linear(image_shape[0] * image_shape[1] * image_shape[2], num_classes))


        sweep = Sweep(data="synthetic:1x8x8", model=net, search="random", num_samples=2, max_epochs=1,
                      space={"model.width": tune.choice([4, 8])})
    """)
    assert "'tuner_sweep_file:net' is defined in the sweep file, which a Katib trial's container" in fails(capsys, path)

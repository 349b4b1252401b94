"""A sweep's training path (tuner.sweep.budget.choose_paths): a sample of its configurations measured before the first
trial, within its share of the sweep's estimated time, and nothing measured where the cache answers."""

import math
import time

import pytest
import torch
from ray import tune

from tuner import Sweep
from tuner.sweep import budget
from tuner.sweep.validate import validate
from tuner.train import datasets as data_lib
from tuner.train import fastpath, paths
from tuner.train.config import TrainConfig
from tuner.train.loop import Run
from tuner.train.paths import Timing


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNER_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def timed(monkeypatch):
    """The timer every choose() uses, faked: bf16 is 20 ms a step for small batches and fp32 for large ones."""
    calls = []

    def fake(cfg, dataset, candidates, budget_):
        calls.append((cfg.batch_size, cfg.hidden, [p.name for p in candidates]))
        time.sleep(0.05)
        budget_.start(0.01)
        small = cfg.batch_size < 128
        return {p.name: Timing(20.0 if (p.precision == "bf16") == small else 30.0, 2.3, True) for p in candidates}

    monkeypatch.setattr(fastpath, "measure_paths", fake)
    monkeypatch.setattr(paths, "supported_precisions", lambda device: ["fp32", "bf16"])
    return calls


def a_sweep(**fields):
    base = dict(data="synthetic",
                space={"lr": tune.loguniform(1e-3, 1e-1), "batch_size": tune.choice([32, 64, 256]),
                       "hidden": tune.choice([(64,), (256,), (1024,)])},
                search="random", trial_scheduler="none", num_samples=100, max_epochs=20)
    made = Sweep(**{**base, **fields})
    validate(made)
    return made


def test_a_sample_of_the_configurations_is_measured_and_every_trial_takes_the_nearest_verdict(timed, capsys):
    dataset = data_lib.load("synthetic")
    sweep = a_sweep()
    recorded = budget.choose_paths(sweep, dataset)
    assert recorded["sampled"] == budget.SAMPLED_CONFIGS == len(timed)
    sizes = {(batch, hidden) for batch, hidden, _ in timed}
    first = TrainConfig.from_dict(sweep.first_config())
    assert timed[0][:2] == (first.batch_size, first.hidden)
    assert {32, 256} <= {batch for batch, _ in sizes} and {(64,), (1024,)} <= {hidden for _, hidden in sizes}
    assert all(c["source"] == "measured" for c in recorded["configs"])
    assert 0 < recorded["share"] <= fastpath.SHARE
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and line.startswith("training path on ") and "ms/step" in line
    assert budget.CAP_BASIS in line and "estimated" not in line  # its sweep time is the cap, said so
    threads = torch.get_num_threads()
    torch.set_num_threads(recorded["threads"])  # as a trial runs
    try:
        for batch, hidden, precision, source in ((256, (1024,), "fp32", "cached"), (32, (256,), "bf16", "nearest")):
            cfg = TrainConfig.from_dict({**sweep.first_config(), "batch_size": batch, "hidden": hidden})
            choice = Run(cfg.replace(device="cpu"), dataset).choice
            assert choice.precision == precision and choice.source.startswith(source)
    finally:
        torch.set_num_threads(threads)
    assert budget.choose_paths(sweep, dataset)["measured_s"] == 0 and len(timed) == budget.SAMPLED_CONFIGS
    assert "cached: no cost" in capsys.readouterr().out


def test_the_sweeps_estimate_is_one_line_that_says_what_it_timed(capsys):
    """The sweep's one estimate (the training-path line's sweep time is only the cap on measuring)."""
    budget.estimate(a_sweep(num_samples=2, max_epochs=1), data_lib.load("synthetic"))
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("estimated ") and "one epoch of the first configuration timed here on its training path, " \
                                                  "evaluation included" in line


def test_a_sweep_too_short_for_its_share_measures_nothing(timed, capsys):
    dataset = data_lib.load("synthetic")
    recorded = budget.choose_paths(a_sweep(num_samples=2, max_epochs=1), dataset)
    assert timed == [] and recorded["measured_s"] == 0
    assert all(c["source"] == "rule" and "not measured" in c["note"] for c in recorded["configs"])
    assert math.isclose(recorded["share"], 0.0)

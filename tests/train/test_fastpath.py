"""The measured training path: the fastest sound candidate wins, unsound ones are rejected, verdicts are cached per
machine and configuration, explicit settings win, compile only where it pays, the cost stays in proportion."""

import math

import pytest
import torch

from tuner.train import data as data_lib
from tuner.train import fastpath, paths
from tuner.train.config import TrainConfig
from tuner.train.fastpath import Budget, choose
from tuner.train.loop import Run
from tuner.train.paths import Path, Timing

CNN = {"data": "synthetic:3x16x16", "model": "cnn", "channels": (8, 16), "hidden": (32,), "batch_size": 32,
       "epochs": 2, "device": "cpu"}
# ms per step and loss on the fixed batch, as a fake timer reports them
REAL_PRECISIONS = paths.supported_precisions
TIMES = {"fp32+cl": (30.0, 2.30), "fp32": (40.0, 2.30), "bf16+cl": (20.0, 2.31), "bf16": (35.0, 2.31),
         "fp16+cl": (15.0, 2.29), "fp16": (25.0, 2.29)}


@pytest.fixture
def dataset():
    return data_lib.Dataset("synthetic:3x16x16", *_images(200), *_images(20), [str(i) for i in range(10)])


def _images(n):
    gen = torch.Generator().manual_seed(n)
    return (torch.randint(0, 256, (n, 3, 16, 16), generator=gen, dtype=torch.uint8).numpy(),
            (torch.arange(n) % 10).numpy())


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """A cache of this test's own, and the same candidates whatever the CPU (fp32, bf16 and fp16)."""
    monkeypatch.setenv("TUNER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(paths, "supported_precisions", lambda device: ["fp32", "bf16", "fp16"])


class FakeTimer:
    """Reports TIMES (or the overrides) for the paths it is asked to time, and remembers what it was asked."""

    def __init__(self, **overrides):
        self.times = {**TIMES, **overrides}
        self.calls = []

    def __call__(self, cfg, dataset, candidates, budget):
        self.calls.append([p.name for p in candidates])
        out = {}
        for path in candidates:
            ms, loss, *rest = self.times[path.name]
            out[path.name] = Timing(ms, loss, math.isfinite(loss), *rest)
        return out


def cfg_of(**changes):
    return TrainConfig.from_dict({**CNN, **changes})


def test_the_fastest_sound_candidate_wins_and_every_run_trains_on_it(dataset):
    timer = FakeTimer()
    choice = choose(cfg_of(), dataset, steps_per_trial=100, timer=timer)
    assert timer.calls == [["fp32+cl", "fp32", "bf16+cl", "bf16", "fp16+cl", "fp16"]]
    assert choice.path == Path("fp16", True) and choice.source == "measured"
    assert set(choice.timings) == set(TIMES)
    run = Run(cfg_of(lr=0.1), dataset)  # same model and batch: the cached verdict
    assert run.precision == "fp16" and run.train_data.channels_last and run.choice.source == "cached"
    assert "fp16+cl" in choice.describe() and "ms/step" in choice.describe()


def test_a_non_finite_or_far_off_candidate_is_rejected(dataset):
    timer = FakeTimer(**{"fp16+cl": (15.0, math.nan), "fp16": (25.0, 2.9)})
    choice = choose(cfg_of(), dataset, steps_per_trial=100, timer=timer)
    assert choice.path == Path("bf16", True)  # fp16+cl is faster but diverged; fp16 is 26% off fp32's loss
    assert choice.rejected["fp16+cl"] == "non-finite loss"
    assert choice.rejected["fp16"].startswith("loss 2.9")
    infinite = Timing(10.0, 2.3, finite=False)  # a finite first loss, a non-finite training step
    assert infinite.unsound(2.3) == "non-finite loss"


def test_the_cache_answers_for_what_does_not_change_a_step_and_not_for_what_does(dataset, monkeypatch):
    timer = FakeTimer()
    choose(cfg_of(), dataset, 100, timer=timer)
    for same in ({"lr": 0.5}, {"optimizer": "sgd"}, {"seed": 3}, {"epochs": 9}, {"dropout": 0.3}):
        assert choose(cfg_of(**same), dataset, 100, timer=timer).source == "cached", same
    assert len(timer.calls) == 1
    for other in ({"batch_size": 64}, {"channels": (8, 32)}, {"hidden": (64,)}, {"model": "tinyvgg"}):
        assert choose(cfg_of(**other), dataset, 100, timer=timer).source == "measured", other
    assert len(timer.calls) == 5
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1 if threads > 1 else 2)
        choose(cfg_of(), dataset, 100, timer=timer)
    finally:
        torch.set_num_threads(threads)
    real_machine = paths.machine
    monkeypatch.setattr(paths, "machine", lambda device: {**real_machine(device), "torch": "9.9"})
    choose(cfg_of(), dataset, 100, timer=timer)
    monkeypatch.setattr(paths, "machine", lambda device: {**real_machine(device), "name": "another CPU"})
    choose(cfg_of(), dataset, 100, timer=timer)
    assert len(timer.calls) == 8
    smaller = dataset.subset(100)  # the same images' shape: same verdict
    assert choose(cfg_of(), smaller, 100, timer=timer).source == "cached"


def test_an_explicit_setting_wins(dataset):
    timer = FakeTimer()
    choose(cfg_of(), dataset, 100, timer=timer)
    run = Run(cfg_of(precision="fp32", channels_last="off", compile=False), dataset)
    assert (run.precision, run.train_data.channels_last, run.choice.source) == ("fp32", False, "explicit")
    assert choose(cfg_of(precision="bf16", channels_last="on", compile=False), dataset, 100,
                  timer=timer).source == "explicit"
    assert Run(cfg_of(precision="fp32"), dataset).choice.path == Path("fp32", True)  # layout still measured
    assert Run(cfg_of(channels_last="off"), dataset).choice.path == Path("fp16", False)
    assert len(timer.calls) == 1


def test_an_unmeasured_width_takes_the_nearest_measured_verdict_and_without_one_the_rule(dataset):
    timer = FakeTimer(**{"bf16+cl": (10.0, 2.31)})
    choose(cfg_of(channels=(8, 16), batch_size=32), dataset, 100, timer=timer)
    choose(cfg_of(channels=(64, 128), batch_size=32), dataset, 100, timer=FakeTimer())
    near_small = Run(cfg_of(channels=(8, 24), batch_size=32), dataset).choice
    assert near_small.path == Path("bf16", True) and near_small.source.startswith("nearest measured: ")
    assert "channels=[8, 16]" in near_small.source
    assert Run(cfg_of(channels=(64, 96)), dataset).choice.path == Path("fp16", True)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(threads + 1)  # measured on other threads of this processor: still the nearest
        assert Run(cfg_of(channels=(8, 24)), dataset).choice.path == Path("bf16", True)
    finally:
        torch.set_num_threads(threads)
    mlp = Run(cfg_of(model="mlp"), dataset).choice  # no mlp measured here
    cpu = torch.device("cpu")
    assert mlp.source == "rule" and mlp.path == paths.rule(cfg_of(model="mlp"), cpu)


def test_compile_is_timed_only_where_it_could_pay_and_chosen_only_where_it_does(dataset, monkeypatch):
    monkeypatch.setitem(fastpath.COMPILE_GUESS_S, "cpu", 10.0)
    compiled = {"fp16+cl+compile": (10.0, 2.29, 20.0)}  # 5 ms a step faster, 20 s to compile
    timer = FakeTimer(**compiled)
    choose(cfg_of(), dataset, steps_per_trial=1000, timer=timer)  # saves at most 7.5 s < the 10 s guessed
    assert timer.calls == [list(TIMES)]
    choice = choose(cfg_of(), dataset, steps_per_trial=100_000, timer=timer)  # could save 750 s: timed
    assert timer.calls[-1] == ["fp16+cl+compile"] and choice.path == Path("fp16", True, True)
    assert choose(cfg_of(epochs=1), dataset, steps_per_trial=3000, timer=timer).path == Path("fp16", True)
    assert paths.decide(choice.timings, paths.allowed(cfg_of(compile=False), torch.device("cpu")),
                        100_000)[0] == Path("fp16", True)


def test_a_job_too_short_is_not_measured(dataset):
    timer = FakeTimer()
    choice = choose(cfg_of(), dataset, steps_per_trial=50, budget=Budget(job_steps=50), timer=timer)
    assert timer.calls == [] and choice.source == "rule" and choice.measured_s < 0.5
    assert "not measured" in choice.note
    assert Budget(job_steps=6 * 5 / fastpath.SHARE).affords(6)


def test_a_real_measurement_chooses_the_fastest_sound_candidate(dataset, monkeypatch):
    monkeypatch.setattr(paths, "supported_precisions", REAL_PRECISIONS)
    budget = Budget(job_steps=2000)  # 3% of it: a few rounds of a few steps
    choice = choose(cfg_of(), dataset, steps_per_trial=20, budget=budget)
    sound = {name: t.ms for name, t in choice.timings.items() if name not in choice.rejected}
    assert choice.source == "measured" and len(choice.timings) >= 2
    assert choice.path.name == min(sound, key=sound.get)
    assert all(t.finite and t.ms > 0 for t in choice.timings.values())
    reference = choice.timings["fp32+cl"].loss
    assert all(abs(t.loss - reference) < 0.1 for t in choice.timings.values())
    assert paths.cache_file().exists() and budget.spent_s > 0

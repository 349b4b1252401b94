"""Checkpoints are loaded with weights_only=True: the whole resumable state of every optimizer x scheduler loads
that way, and a file holding any other pickled object is refused without running it."""

import itertools
import pickle

import pytest
import torch

from tuner import train
from tuner.errors import UserError
from tuner.train import optim
from tuner.train.evaluation import load_file

COMBINATIONS = list(itertools.product(sorted(optim.OPTIMIZERS), sorted(optim.SCHEDULERS)))


@pytest.mark.parametrize("optimizer, scheduler", COMBINATIONS)
def test_every_optimizer_and_schedule_state_loads_with_weights_only(tmp_path, optimizer, scheduler):
    config = {"data": "synthetic", "model": "mlp", "hidden": (16,), "batch_size": 500, "epochs": 2,
              "optimizer": optimizer, "scheduler": scheduler, "momentum": 0.9 if optimizer in ("sgd", "rmsprop") else 0,
              "step_size": 1, "warmup_epochs": 0 if optim.SCHEDULERS[scheduler].per_batch else 1}
    saved = []
    reference = train.fit(config, on_epoch=lambda record, state: saved.append(state()) if not saved else None)
    torch.save(saved[0], tmp_path / "state.pt")
    state = load_file(tmp_path / "state.pt")
    resumed = train.fit(config, resume=state)
    assert resumed.history[-1]["val_acc"] == reference.history[-1]["val_acc"]
    for name, tensor in reference.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name


class Payload:
    """What an attacker with write access to the bucket would store: unpickling it runs code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_checkpoint_with_another_pickled_object_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "code-ran"
    state = {"model": {"w": torch.zeros(2)}, "extra": Payload(marker)}
    with open(tmp_path / "state.pt", "wb") as out:
        torch.save(state, out)
    with pytest.raises(UserError, match="refusing to load"):
        load_file(tmp_path / "state.pt")
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError):  # what weights_only=False would have done instead: run it
        torch.load(tmp_path / "state.pt", weights_only=True)
    torch.load(tmp_path / "state.pt", weights_only=False)
    assert marker.exists()


def test_a_resumed_run_trains_on_the_path_it_started_on_whatever_the_cache_says_now():
    """A trial resumed after a kill goes on bit for bit, though another sweep may have cached another verdict for
    its configuration in between."""
    from tuner.train import datasets, paths
    from tuner.train.config import TrainConfig

    cfg = TrainConfig.from_dict({"data": "synthetic", "model": "mlp", "hidden": (16,), "batch_size": 200,
                                 "epochs": 2, "device": "cpu"})
    dataset = datasets.load("synthetic")
    names = [p.name for p in paths.candidates(cfg, torch.device("cpu"))]
    if len(names) < 2:
        pytest.skip("this CPU offers one training path only: no other verdict can be cached")

    def cache_fastest(fastest: str) -> None:
        config = paths.config_key(cfg, dataset.image_shape, dataset.num_classes)
        where = paths.machine(torch.device("cpu"))
        timings = {n: {"ms": 1.0 if n == fastest else 100.0, "loss": 2.3, "finite": True} for n in names}
        paths.write_entry(paths.entry_key(where, config), {"machine": where, "config": config, "timings": timings})

    cache_fastest(names[0])
    states = []
    whole = train.fit(cfg, dataset, on_epoch=lambda record, state: states.append(state()))
    assert states[0]["training_path"] == names[0]
    cache_fastest(names[1])  # measured otherwise since
    resumed = train.fit(cfg, dataset, resume=states[0])
    assert resumed.history[-1]["val_loss"] == whole.history[-1]["val_loss"]
    assert resumed.state["training_path"] == names[0]

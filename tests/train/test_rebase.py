"""A run resumed with another lr, momentum or weight decay (what a population-based scheduler does when a trial
copies another's state) trains on with the new values: the optimizer holds them and the schedule continues from
the restored epoch as a run started with them would have it at that epoch."""

import pytest

from tuner import train

BASE = {"data": "synthetic", "model": "mlp", "hidden": (16,), "batch_size": 500, "epochs": 4, "optimizer": "sgd",
        "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0, "step_size": 1, "gamma": 0.5}
NEW = {"lr": 0.03, "momentum": 0.5, "weight_decay": 1e-3}
SCHEDULES = [("none", 0), ("cosine", 0), ("cosine", 1), ("step", 0), ("exponential", 1), ("onecycle", 0),
             ("cyclic", 0)]


def state_after(config: dict, epoch: int) -> dict:
    saved = {}
    train.fit(config, on_epoch=lambda record, state: saved.update(state()) if record["epoch"] == epoch else None)
    return saved


@pytest.mark.parametrize("scheduler, warmup", SCHEDULES)
def test_a_resume_with_new_values_continues_the_schedule_with_them(scheduler, warmup):
    donor = {**BASE, "scheduler": scheduler, "warmup_epochs": warmup}
    perturbed = {**donor, **NEW}
    states = []
    resumed = train.fit(perturbed, resume=state_after(donor, 2),
                        on_epoch=lambda record, state: states.append(state()))
    fresh = train.fit(perturbed)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]  # epochs 1-2 are the donor's, none repeated
    assert [r["lr"] for r in resumed.history[2:]] == pytest.approx([r["lr"] for r in fresh.history[2:]], rel=1e-9)
    group = states[0]["optimizer"]["param_groups"][0]
    assert group["weight_decay"] == NEW["weight_decay"]
    if scheduler not in ("onecycle", "cyclic"):  # these cycle the momentum themselves, as in a fresh run
        assert group["momentum"] == NEW["momentum"]
    assert states[0]["tracker"]["path"] == [{"epoch": 2, "from": "", "lr": [0.1, 0.03], "momentum": [0.9, 0.5],
                                             "weight_decay": [0.0, 1e-3]}]


def test_a_plateau_schedule_continues_from_the_restored_runs_validation_losses():
    donor = {**BASE, "scheduler": "plateau", "plateau_patience": 0, "plateau_factor": 0.5}
    reference = train.fit(donor)
    resumed = train.fit({**donor, **NEW}, resume=state_after(donor, 2))
    factor = reference.history[2]["lr"] / BASE["lr"]  # the reductions the donor's losses had made by epoch 3
    assert resumed.history[2]["lr"] == pytest.approx(NEW["lr"] * factor)


def test_a_plain_resume_changes_nothing():
    state = state_after({**BASE, "scheduler": "cosine"}, 2)
    resumed = train.fit({**BASE, "scheduler": "cosine"}, resume=state)
    assert resumed.state["tracker"]["path"] == []

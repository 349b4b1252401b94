"""A run that continues another (train.fit's start_from: a budgeted search's promotion by continuation): it starts
from the other run's last weights and optimizer, counts its epochs on from there, and lays a fresh schedule over
the epochs it adds (a warm restart), ending at the rate the full-length schedule ends at."""

import pytest
import torch

from tuner import train
from tuner.train.config import TrainConfig
from tuner.train.optim import Schedule

BASE = {"data": "synthetic", "model": "mlp", "hidden": (16,), "batch_size": 500, "optimizer": "sgd", "lr": 0.1,
        "momentum": 0.9, "stuck_epochs": 0}
FULL, RUNG = 6, 2  # the full budget, and the budget of the rung the continued run was promoted from
SCHEDULES = {"cosine": {"scheduler": "cosine", "min_lr": 1e-3}, "step": {"scheduler": "step", "step_size": 2},
             "onecycle": {"scheduler": "onecycle"}, "warmup + cosine": {"scheduler": "cosine", "warmup_epochs": 2}}


def end_rate(cfg: TrainConfig, steps_per_epoch: int) -> float:
    """The rate after the last step of cfg's schedule, stepped on its own."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr, momentum=cfg.momentum)
    schedule = Schedule(optimizer, cfg, steps_per_epoch)
    for _ in range(cfg.epochs):
        for _ in range(steps_per_epoch):
            schedule.after_batch()
        schedule.after_epoch(1.0)
    return schedule.lr


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_a_continued_run_counts_on_and_lays_a_fresh_schedule_over_the_added_epochs(name):
    values = {**BASE, **SCHEDULES[name]}
    donor = train.fit({**values, "epochs": RUNG, "schedule_for": FULL}, keep_last_state=True)
    assert {"model", "optimizer", "schedule"} <= set(donor.state)  # kept, although the run has ended
    continued = train.fit({**values, "epochs": FULL}, start_from=donor.state, keep_last_state=True)
    assert [r["epoch"] for r in continued.history] == list(range(RUNG + 1, FULL + 1))
    assert continued.status == "completed" and continued.state["start_epoch"] == RUNG
    warm = train.fit({**values, "epochs": FULL - RUNG, "schedule_for": FULL})  # the schedule laid over 4 epochs
    assert [r["lr"] for r in continued.history] == pytest.approx([r["lr"] for r in warm.history], rel=1e-9)
    ended_at = donor.state["optimizer"]["param_groups"][0]["lr"]
    assert max(r["lr"] for r in continued.history) > 2 * ended_at  # from the base rate again: a warm restart
    if name != "onecycle":  # onecycle's last value is its last batch's: compared epoch by epoch above
        full = TrainConfig.from_dict({**values, "epochs": FULL})  # per epoch: the steps per epoch do not matter
        after = continued.state["optimizer"]["param_groups"][0]["lr"]
        assert after == pytest.approx(end_rate(full, 1), rel=1e-6, abs=1e-12)


def test_a_continued_run_starts_from_the_donors_last_weights():
    """Its first epoch's training loss is near the donor's last, far below a fresh model's first (the donor's)."""
    values = {**BASE, "hidden": (64,), "batch_size": 64, "optimizer": "adam", "lr": 3e-3, "scheduler": "cosine"}
    donor = train.fit({**values, "epochs": RUNG, "schedule_for": FULL}, keep_last_state=True)
    continued = train.fit({**values, "epochs": RUNG + 1, "schedule_for": FULL}, start_from=donor.state)
    first, last = continued.history[0]["train_loss"], donor.history[-1]["train_loss"]
    assert first < 1.2 * last and first < 0.5 * donor.history[0]["train_loss"], (first, last)
    last_weights = train.fit({**values, "epochs": RUNG, "schedule_for": FULL, "restore_best": False}).model
    for key, value in last_weights.state_dict().items():  # the last epoch's weights are kept, not the best epoch's
        assert torch.equal(value.cpu(), donor.state["model"][key]), key


def test_an_ended_runs_state_cannot_be_continued():
    """Without keep_last_state a run that ended keeps only its best weights (no optimizer): nothing to continue."""
    donor = train.fit({**BASE, "epochs": RUNG, "schedule_for": FULL})
    assert "optimizer" not in donor.state
    with pytest.raises(ValueError, match="start_from needs"):
        train.fit({**BASE, "epochs": FULL}, start_from=donor.state)


def test_a_continued_run_resumed_mid_way_ends_where_it_would_have():
    """A retried or --resume'd continued trial restarts from its own checkpoint: the schedule is the one laid over
    the added epochs (the state remembers where the run started), and it ends bit for bit as the uninterrupted run."""
    values = {**BASE, "scheduler": "cosine", "restore_best": False}
    donor = train.fit({**values, "epochs": RUNG, "schedule_for": FULL}, keep_last_state=True)
    saved = {}

    def keep(record, state):
        if record["epoch"] == RUNG + 2:
            saved.update(state())

    whole = train.fit({**values, "epochs": FULL}, start_from=donor.state, on_epoch=keep)
    resumed = train.fit({**values, "epochs": FULL}, resume=saved)
    assert [r["epoch"] for r in resumed.history] == list(range(RUNG + 1, FULL + 1))
    assert [r["lr"] for r in resumed.history] == [r["lr"] for r in whole.history]
    for key, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key

"""tuner.select: the rules every ranking and choice follows (docs/run-folder.md#selection)."""

import math

import pandas as pd
import pytest

from tuner import select


def table(rows):
    """rows: (trial_id, width, seed, value, status); metric column val_acc."""
    return pd.DataFrame([{"trial_id": t, "config/width": w, "seed": s, "val_acc": v, "val_loss": 1 - v,
                          "status": st, "epochs": 5, "best_epoch": 5} for t, w, s, v, st in rows])


def test_a_confirmed_configuration_beats_an_unconfirmed_lucky_draw():
    trials = table([
        ("a0", 1, 0, 0.944, "TERMINATED"), ("a1", 1, 1, 0.943, "TERMINATED"), ("a2", 1, 2, 0.942, "TERMINATED"),
        ("b0", 2, 0, 0.942, "TERMINATED"), ("b1", 2, 1, 0.941, "TERMINATED"), ("b2", 2, 2, 0.940, "TERMINATED"),
        ("c0", 3, 0, 0.940, "TERMINATED"), ("c1", 3, 1, 0.939, "TERMINATED"), ("c2", 3, 2, 0.938, "TERMINATED"),
        ("lucky", 4, 0, 0.945, "TERMINATED"),  # the search's 4th best, never confirmed on seeds 1 and 2
    ])
    choice = select.choose(trials, "val_acc")
    assert choice.trial["trial_id"] == "a0" and choice.config.n == 3
    assert choice.config.mean == pytest.approx(0.943) and choice.config.std == pytest.approx(0.001)
    ranked = select.configurations(trials, "val_acc")
    assert [c.n for c in ranked] == [3, 3, 3, 1] and not ranked[-1].competes


def test_equal_means_go_to_the_smaller_spread():
    trials = table([("wide0", 1, 0, 0.90, "TERMINATED"), ("wide1", 1, 1, 0.94, "TERMINATED"),
                    ("tight0", 2, 0, 0.92, "TERMINATED"), ("tight1", 2, 1, 0.92, "TERMINATED")])
    choice = select.choose(trials, "val_acc")
    assert choice.config.configuration == "width=2" and choice.config.std == 0


def test_the_same_configuration_twice_on_one_seed_is_one_seed_of_evidence():
    trials = table([("a", 32, 0, 0.50, "TERMINATED"), ("b", 32, 0, 0.50, "TERMINATED"),
                    ("c", 64, 0, 0.49, "TERMINATED"), ("d", 64, 1, 0.47, "TERMINATED")])
    by_width = {c.configuration: c for c in select.configurations(trials, "val_acc")}
    assert by_width["width=32"].n == 1 and by_width["width=64"].n == 2
    assert by_width["width=64"].mean == pytest.approx(0.48)


def test_unusable_trials_never_compete_and_a_seed_that_failed_does_not_count():
    trials = table([("a0", 1, 0, 0.99, "DIVERGED"), ("a1", 1, 1, 0.98, "TERMINATED"),
                    ("b0", 2, 0, 0.90, "TERMINATED"), ("b1", 2, 1, 0.91, "TERMINATED"),
                    ("c0", 3, 0, 0.97, "STUCK"), ("c1", 3, 1, 0.97, "ERROR")])
    ranked = select.configurations(trials, "val_acc")
    assert [c.configuration for c in ranked] == ["width=2", "width=1"]  # 3 has no usable trial; 1 has one seed
    assert select.choose(trials, "val_acc").trial["trial_id"] == "b1"
    order = select.rank_trials(trials, "val_acc")["trial_id"].tolist()
    assert order[:3] == ["a1", "b1", "b0"] and set(order[3:]) == {"a0", "c0", "c1"}


def test_a_loss_is_minimised_everywhere():
    trials = table([("a", 1, 0, 0.9, "TERMINATED"), ("b", 2, 0, 0.8, "TERMINATED")]).assign(val_loss=[0.4, 0.3])
    assert select.choose(trials, "val_loss").trial["trial_id"] == "b"
    assert select.choose(trials, "val_acc").trial["trial_id"] == "a"
    assert select.rank_trials(trials, "val_loss")["trial_id"].tolist() == ["b", "a"]
    epochs = pd.DataFrame({"epoch": [1, 2, 3], "val_loss": [0.5, 0.3, 0.4], "val_acc": [0.8, 0.85, 0.9]})
    assert select.best_epoch(epochs, "val_loss")["epoch"] == 2 and select.best_epoch(epochs, "val_acc")["epoch"] == 3
    assert select.is_better(0.2, 0.3, "val_loss") and not select.is_better(math.nan, 0.3, "val_loss")


def test_only_validation_metrics_select_and_a_mode_must_agree():
    assert select.check_metric("val_loss", None) == "min" and select.check_metric("val_acc", "max") == "max"
    with pytest.raises(ValueError, match="validation split"):
        select.check_metric("train_loss", None)
    with pytest.raises(ValueError, match="contradicts"):
        select.check_metric("val_loss", "max")
    assert select.check_metric("num_params", "min", select.OBJECTIVE_METRICS) == "min"


def sized(rows):
    """rows: (trial_id, width, seed, val_acc, num_params, latency_ms)."""
    frame = table([(t, w, s, v, "TERMINATED") for t, w, s, v, _, _ in rows])
    frame["num_params"] = [p for *_, p, _ in rows]
    frame["latency_ms"] = [ms for *_, ms in rows]
    return frame


def test_rule_7_an_exact_tie_on_the_first_objective_goes_to_the_configuration_not_dominated():
    trials = sized([("big", 64, 0, 0.95, 9000, 2.0), ("small", 16, 0, 0.95, 900, 1.0), ("tiny", 4, 0, 0.80, 90, 0.5)])
    assert select.choose(trials, "val_acc").trial["trial_id"] == "big"  # one objective: the earlier trial (rule 5)
    objectives = [("val_acc", "max"), ("num_params", "min")]
    choice = select.choose(trials, "val_acc", objectives)
    assert choice.trial["trial_id"] == "small" and "Pareto front" in choice.to_json()["rule"]
    front = select.pareto(trials, ["val_acc", "num_params"])
    assert dict(zip(front["trial"], front["pareto"])) == {"big": False, "small": True, "tiny": True}
    assert front.loc[front["chosen"], "trial"].tolist() == ["small"]


def test_rule_7_the_front_is_over_configuration_means_and_only_those_that_compete():
    trials = sized([("a0", 1, 0, 0.90, 500, 3.0), ("a1", 1, 1, 0.80, 500, 1.0),  # mean 0.85, 2.0 ms
                    ("b0", 2, 0, 0.86, 800, 2.5), ("b1", 2, 1, 0.84, 800, 2.5),  # mean 0.85, 2.5 ms: dominated by a
                    ("c0", 3, 0, 0.99, 10, 0.1)])  # one seed only: does not compete (rule 4), so not on the front
    front = select.pareto(trials, ["val_acc", "latency_ms"])
    assert set(front["configuration"]) == {"width=1", "width=2"}
    row = front.set_index("configuration").loc["width=1"]
    assert row["val_acc"] == pytest.approx(0.85) and row["latency_ms"] == pytest.approx(2.0) and row["pareto"]
    assert not front.set_index("configuration").loc["width=2", "pareto"]


def test_rule_7_a_configuration_without_a_measured_objective_is_off_the_front():
    trials = sized([("cut", 1, 0, 0.99, 100, math.nan), ("done", 2, 0, 0.90, 100, 1.0)])
    front = select.pareto(trials, ["val_acc", "latency_ms"])
    assert dict(zip(front["trial"], front["pareto"])) == {"cut": False, "done": True}
    assert select.choose(trials, "val_acc", [("val_acc", "max"), ("latency_ms", "min")]).trial["trial_id"] == "done"

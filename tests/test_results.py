"""Ranking over seeds when a search proposes the same configuration twice."""

import pandas as pd

from tuner.results import choose
from tuner.spec import Sweep


def test_the_same_configuration_twice_on_one_seed_is_one_seed_of_evidence():
    trials = pd.DataFrame({
        "trial_id": ["a", "b", "c", "d"],
        "status": ["TERMINATED"] * 4,
        "config/width": [32, 32, 64, 64],
        "seed": [0, 0, 0, 1],
        "val_acc": [0.50, 0.50, 0.49, 0.47],
        "epochs": [8] * 4,
    })
    chosen, seeds = choose(trials, Sweep(data="synthetic"))
    assert chosen["trial_id"] in ("a", "b")
    assert seeds is not None and seeds["n"] == 1 and seeds["std"] == 0.0
    width_64 = choose(trials[trials["config/width"] == 64], Sweep(data="synthetic"))[1]
    assert width_64["n"] == 2 and abs(width_64["mean"] - 0.48) < 1e-12

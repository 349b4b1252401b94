"""The fault soak (python -m tuner.bench --faults N) at CI size: a real sweep at a file:// URI whose driver is killed
(SIGKILL and SIGINT by a seeded coin) and resumed each time; nothing is lost and the test set is read once."""

import random

from tuner import faults


def test_the_plan_aims_at_every_phase_in_the_order_a_sweep_reaches_them():
    aims = faults.plan(20, random.Random(0))
    assert len(aims) == 20 and set(aims) == set(faults.PHASES)
    later = [a for a in aims if a != "start"]
    assert later == sorted(later, key=faults.PHASES.index)


def test_a_sweep_killed_twice_loses_nothing_and_is_tested_once(capsys):
    result = faults.soak(2, seed=5, trials=4)
    printed = capsys.readouterr().out
    assert result["faults"] == 2 and "faults survived:" in printed and "fault 1/2:" in printed
    assert result["survived"] == result["faults"], result["failures"]
    assert result["trials_lost"] == 0 and result["study_running"] == 0 and result["epochs_twice"] == 0
    assert result["trials"] == 5  # 4 search trials, the best configuration confirmed on the other seed
    assert result["test_evaluations"] == 1

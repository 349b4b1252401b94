"""The fault soak (python -m tuner.bench --faults N) at CI size: a real sweep at a file:// URI whose driver is killed
twice (SIGKILL and SIGINT by a seeded coin) and resumed each time; nothing is lost and the test set is read once."""

from tuner import faults


def test_a_sweep_killed_twice_loses_nothing_and_is_tested_once(capsys):
    result = faults.soak(2, seed=5, max_delay_s=25, trials=4)  # SIGINT at 18.8 s, then SIGKILL at 21.2 s
    printed = capsys.readouterr().out
    assert result["faults"] >= 1 and "faults survived:" in printed and "fault 1/2:" in printed
    assert result["survived"] == result["faults"], result["failures"]
    assert result["trials_lost"] == 0 and result["study_running"] == 0
    assert result["trials"] == 5  # 4 search trials, the best configuration confirmed on the other seed
    assert result["test_evaluations"] == 1

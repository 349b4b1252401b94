"""The sweep command's closing lines say what happened: a time budget that ended a sweep with no usable trial
does not claim a configuration was chosen and tested."""

import json

import pandas as pd

from tuner.sweep import cli as sweep_cli
from run_folders import newcomer_run


def closing_lines(folder, capsys, ended_by, best):
    info = {**json.loads((folder / "run.json").read_text()), "ended_by": ended_by, "trial_epochs": 0}
    sweep_cli.report(folder, {"run": info, "trials": pd.read_csv(folder / "trials.csv"), "best": best}, "val_acc")
    return capsys.readouterr().out


def test_a_time_budget_with_no_usable_trial_says_nothing_was_chosen(tmp_path, capsys):
    printed = closing_lines(newcomer_run(tmp_path / "run", all_failed=True), capsys, "time_budget", None)
    assert "the time budget ended the sweep: no trial had a usable result by then" in printed
    assert "chosen and tested" not in printed and "nothing chosen or tested" in printed


def test_a_time_budget_with_a_choice_says_it_was_chosen_and_tested(tmp_path, capsys):
    folder = newcomer_run(tmp_path / "run")
    best = json.loads((folder / "best.json").read_text())
    printed = closing_lines(folder, capsys, "time_budget", best)
    assert "the best configuration found by then was chosen and tested" in printed

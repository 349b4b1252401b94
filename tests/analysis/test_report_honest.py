"""A report that never misleads: hand-written run folders (tests/run_folders.py) with stuck, diverged, failed,
early-stopped and confirmed trials, and one whose trials all failed; each section checked, and the pages looked at
in headless Chromium."""

import math

import pytest

from chromium import check_page, screenshot
from run_folders import every_status_run, newcomer_run
from tuner.analysis import importance, load_run, plots, write_report
from tuner.analysis import report_tables as tables
from tuner.analysis.__main__ import main as analysis_main


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return load_run(newcomer_run(tmp_path_factory.mktemp("newcomer") / "run"))


@pytest.fixture(scope="module")
def failed(tmp_path_factory):
    return newcomer_run(tmp_path_factory.mktemp("failed") / "run", all_failed=True)


def test_importance_is_over_hyperparameters_only(run):
    values, note = importance.importances(run)
    assert values and "seed" not in values and "seed" not in note
    assert set(values) <= {"optimizer", "lr", "batch_size"}


def test_best_per_level_is_the_rankings_mean_and_shows_every_level(run):
    table = tables.best_per_level(run, "optimizer").set_index("optimizer")
    assert list(table.index) == ["adam", "sgd", "rmsprop"]
    ranking = tables.ranking(run).set_index("trial")
    assert table.loc["adam", "best val_acc"] == pytest.approx(ranking.loc["41c5a_00000", "val_acc mean"])  # 98.0%
    assert table.loc["sgd", "best val_acc"] == pytest.approx(ranking.loc["41c5a_00002", "val_acc mean"])  # not 99%
    assert table.loc["adam", "best trial"] == "41c5a_00000" and table.loc["sgd", "best trial"] == "41c5a_00002"
    assert math.isnan(table.loc["rmsprop", "best val_acc"]) and "all 2 trials STUCK" in table.loc["rmsprop", "left out"]
    assert table.loc["adam", "left out"] == "1 DIVERGED"
    figure = plots.level_bars(table.reset_index(), "optimizer", "val_acc")
    assert figure.axes[0].get_ylim()[1] <= 100


def test_effect_plots_leave_out_unusable_trials_and_count_them(run):
    figure = plots.effects(run)
    usable = len(run.usable.dropna(subset=["val_acc"]))
    for ax in figure.axes[:3]:
        points = sum(len(c.get_offsets()) for c in ax.collections)
        assert points == usable, ax.get_title()
        assert ax.get_ylim()[0] > 50  # stuck trials at 10% do not stretch the axis
    assert "4 trials left out (1 DIVERGED, 2 STUCK, 1 ERROR)" in figure._suptitle.get_text().replace("\n", " ")


def test_curves_clip_the_loss_axis_and_number_the_trials_as_the_ranking_does(run):
    figure = plots.learning_curves(run)
    acc_ax, loss_ax = figure.axes[:2]
    assert loss_ax.get_ylim()[1] < 10  # stuck trials' 1e6 losses are not the scale
    ranking = tables.ranking(run)
    expected = [f"#{i + 1} {trial}" for i, trial in enumerate(ranking[ranking["usable"]]["trial"].head(5))]
    assert [t.get_text() for t in acc_ax.get_legend().get_texts()] == expected


def test_analysis_prints_the_chosen_configuration_and_its_test_result(run, capsys):
    assert analysis_main([str(run.run_dir)]) == 0
    printed = capsys.readouterr().out
    assert "chosen: trial 41c5a_00000: batch_size=64, lr=0.001, optimizer=adam" in printed
    assert "test_acc 97.71%" in printed
    assert "trial" in printed.splitlines()[0] and "41c5a_00002" in printed  # the ranking names its trials


def test_a_run_whose_trials_all_failed_gets_a_report(failed, capsys):
    assert analysis_main([str(failed)]) == 0
    printed = capsys.readouterr().out
    assert "nothing chosen or tested" in printed and "trials: 10 ERROR" in printed
    page = (failed / "report.html").read_text()
    assert "No trial produced a usable result" in page and "RuntimeError: boom" in page
    assert "No trial finished an epoch" in page


def test_the_reports_render_in_headless_chromium(run, failed, tmp_path):
    every_status = every_status_run(tmp_path / "every-status")  # budget-stopped and interrupted trials too
    for folder in (run.run_dir, failed, every_status):
        report = folder / "report.html" if (folder / "report.html").exists() else write_report(load_run(folder))
        check = check_page(report, tmp_path)
        assert check["undecoded"] == [] and check["errors"] == []
        assert screenshot(report, folder / "report_screenshot.png", tmp_path, height=5000).stat().st_size > 20_000


def test_a_setting_a_branch_of_the_space_skips_is_shown_as_absent():
    import pandas as pd

    from tuner.analysis.text import chosen_text, ranking_table

    trials = pd.DataFrame({"trial_id": ["a", "b"], "status": ["TERMINATED"] * 2, "epochs": [1, 1], "seed": [0, 0],
                           "config/optimizer": ["adam", "sgd"], "config/momentum": [float("nan"), 0.9],
                           "val_acc": [0.9, 0.8], "best_epoch": [1, 1]})
    assert "nan" not in ranking_table(trials)
    best = {"trial_id": "a", "searched": {"momentum": None, "optimizer": "adam"}, "val_acc": 0.9, "best_epoch": 1,
            "seeds": {"n": 1}, "test_acc": 0.9}
    assert "chosen: trial a: optimizer=adam\n" in chosen_text(best)


def test_a_smoke_runs_report_says_so(tmp_path):
    import json

    folder = newcomer_run(tmp_path / "run")
    info = json.loads((folder / "run.json").read_text())
    (folder / "run.json").write_text(json.dumps({**info, "smoke": True}))
    page = write_report(load_run(folder)).read_text()
    assert "SMOKE TEST" in page and "momentum=None" not in page


def test_an_interrupted_run_is_said_to_be_unfinished_not_without_usable_trials(tmp_path, capsys):
    import shutil
    from pathlib import Path

    folder = tmp_path / "run"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "run_flat_layout_interrupted", folder)
    assert analysis_main([str(folder)]) == 0
    printed = capsys.readouterr().out
    assert "no usable trial" not in printed and f"--resume {folder}" in printed

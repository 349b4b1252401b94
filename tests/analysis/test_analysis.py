"""The analysis report of a small real sweep, rendered and checked in headless Chromium."""

import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from tuner.errors import run_cli
from tuner.sweep import cli as sweep_cli
from tuner.analysis import load_run, write_report
from tuner.analysis import report_tables as tables
from tuner.analysis.__main__ import main as analysis_main
from chromium import check_page, screenshot
from sweep_helpers import write_sweep

SECTIONS = ["Ranking", "Learning curves", "Hyperparameter effects", "Best per optimizer",
            "The chosen model on the test set", "Diagnostics"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, local_ray):
    """8 trials on synthetic data: two seeds per configuration, ASHA stops, one diverging and one stuck setting."""
    folder = tmp_path_factory.mktemp("analysis")
    path = write_sweep(folder, """
        sweep = Sweep(data="synthetic", fixed={"hidden": (32,), "batch_size": 100, "stuck_epochs": 1,
                                               "scheduler": "none"},
                      space={"optimizer+lr": tune.grid_search([("sgd", 0.5), ("adam", 0.003), ("sgd", 1e6),
                                                               ("adam", 1e-9)])},
                      search="grid", trial_scheduler="asha", grace_period=1, reduction_factor=2, max_epochs=3,
                      seeds=[0, 1])
    """)
    assert sweep_cli.main([str(path), "--results", str(folder / "run")]) == 0
    return folder / "run"


def test_sweep_writes_a_report_with_every_section(run_dir):
    page = (run_dir / "report.html").read_text()
    for section in SECTIONS:
        assert f"<h2>{section}" in page, section
    assert "http://" not in page and "https://" not in page and "<script" not in page  # self-contained, offline
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) >= 8
    assert "(n=2)" in page  # mean ± std over the two seeds
    assert "test accuracy" in page and "DIVERGED" in page and "STUCK" in page
    assert "x the best trial" in page  # the likely cause names the learning-rate ratio
    assert {"confusion.png", "effects.png", "samples.png"} <= {p.name for p in (run_dir / "report_files").glob("*.png")}


def test_report_renders_in_headless_chromium(run_dir, tmp_path):
    check = check_page(run_dir / "report.html", tmp_path)
    assert check["images"] >= 8 and check["undecoded"] == [] and check["errors"] == []
    shot = screenshot(run_dir / "report.html", run_dir / "report_screenshot.png", tmp_path)
    assert shot.stat().st_size > 50_000


def test_ranking_groups_seeds_and_diagnostics_explain_failures(run_dir):
    run = load_run(run_dir)
    ranking = tables.ranking(run)
    assert (ranking["seeds"] == 2).all() and len(ranking) == 4
    assert ranking.iloc[0]["optimizer"] in ("sgd", "adam") and ranking.iloc[0]["usable"]
    causes = tables.diagnostics(run).set_index("status")["likely cause"]
    assert "blew up" in causes["DIVERGED"].iloc[0]
    assert "too small to move the loss" in causes["STUCK"].iloc[0]
    per_level = tables.best_per_level(run, "optimizer")
    assert set(per_level["optimizer"]) == {"sgd", "adam"}


def test_partial_run_is_rebuilt_from_ray_results(run_dir, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(run_dir, partial, ignore=shutil.ignore_patterns("trials.csv", "history.csv", "best.json",
                                                                    "run.json", "report*"))
    run = load_run(partial)
    full = pd.read_csv(run_dir / "trials.csv")
    assert sorted(run.trials["trial_id"]) == sorted(full["trial_id"])
    assert len(run.history) == len(pd.read_csv(run_dir / "history.csv"))
    assert any("best.json" in m for m in run.missing)
    page = write_report(run).read_text()
    assert "Missing: trials.csv" in page and "Not evaluated yet" in page


def test_cli_prints_the_ranking_and_rejects_bad_input(run_dir, tmp_path, capsys):
    assert analysis_main([str(run_dir), "--top", "3", "--compare", "lr"]) == 0
    printed = capsys.readouterr().out
    assert "report: " in printed and "val_acc" in printed
    empty = tmp_path / "empty-run"
    empty.mkdir()
    (empty / "trials.csv").write_text("trial_id,status,epochs,val_acc\n")
    done = subprocess.run([sys.executable, "-m", "tuner.analysis", str(tmp_path / "absent")], capture_output=True,
                          text=True, timeout=120)  # the command itself, once; the other cases in this process
    assert done.returncode == 2 and done.stderr.strip().startswith("error: ") and "does not exist" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    for argv, message in (([str(tmp_path)], "not a tuner run folder"),
                          ([str(empty)], "no trial has reported"),
                          ([str(run_dir), "--compare", "dropout"], "was not searched")):
        with pytest.raises(SystemExit) as exit_info:
            run_cli(analysis_main, argv)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and err.strip().startswith("error: ") and message in err
        assert len(err.strip().splitlines()) == 1


def test_full_grid_size_is_read_from_the_space_text():
    assert tables.full_grid_points({"a": "choice(['x', 'y'])", "b": "grid_search([1, 2, 3])"}) == 6
    assert tables.full_grid_points({"a": "choice(['x'])", "lr": "loguniform(0.0001, 0.1)"}) is None

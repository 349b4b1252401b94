"""Searched `model.*` keys of a sweep's own model through what reads a finished run: a warm start gives an Optuna
search the earlier trials whose model settings fit its space, and `tuner.replay` replays the run as a table."""

import pandas as pd
import pytest

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from sweep_helpers import write_sweep
from tuner.replay import replay_one, tables
from tuner.runfolder import STUDY_FILE
from tuner.sweep import cli as sweep_cli

NET = '''
from torch import nn


def net(image_shape, num_classes, width=8):
    c, h, w = image_shape
    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, width), nn.ReLU(), nn.Linear(width, num_classes))

'''


@pytest.fixture(scope="module")
def grid_run(local_ray, tmp_path_factory):
    folder = tmp_path_factory.mktemp("grid")
    path = write_sweep(folder, NET + """
sweep = Sweep(data="synthetic:1x8x8", subset=400, model=net, fixed={"batch_size": 50, "lr": 0.01}, search="grid",
              space={"model.width": tune.grid_search([4, 8, 16])}, max_epochs=2)
""")
    assert sweep_cli.main([str(path), "--results", str(folder / "run"), "--no-report", "--no-dashboard"]) == 0
    return folder / "run"


def test_a_warm_start_gives_the_trials_whose_model_settings_fit(grid_run, tmp_path, capsys):
    old = pd.read_csv(grid_run / "trials.csv")
    assert sorted(old["config/model.width"]) == [4, 8, 16]
    later = write_sweep(tmp_path, NET + """
sweep = Sweep(data="synthetic:1x8x8", subset=400, model=net, fixed={"batch_size": 50, "lr": 0.01}, search="optuna",
              space={"model.width": tune.choice([4, 8])}, num_samples=1, max_epochs=2)
""")
    new = tmp_path / "new"
    capsys.readouterr()
    assert sweep_cli.main([str(later), "--results", str(new), "--warm-start", str(grid_run), "--no-report",
                           "--no-dashboard"]) == 0
    assert "warm start: 2 earlier trials given to the search, 1 left out" in capsys.readouterr().out
    storage = JournalStorage(JournalFileBackend(str(new / STUDY_FILE)))
    (summary,) = optuna.get_all_study_summaries(storage)
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    told = [t for t in study.trials if "tuner.warm_start" in t.user_attrs]
    widths = old.set_index("trial_id")["config/model.width"]
    assert sorted(t.params["model.width"] for t in told) == [4, 8]
    for trial in told:
        assert trial.params["model.width"] == widths[trial.user_attrs["tuner.warm_start"].split()[-1]]


def test_a_run_with_model_keys_replays_as_a_table(grid_run):
    table = tables.load(grid_run)
    result = replay_one(table, "optuna", {"search": "optuna", "trial_scheduler": "none", "num_samples": 3},
                        seed=0, workers=1)
    assert result.final is not None and result.trial_epochs > 0
    assert set(result.final.values) == {"model.width"} and result.final.values["model.width"] in (4, 8, 16)

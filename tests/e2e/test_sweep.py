"""The sweep engine with real Ray (num_cpus=2) and real Optuna, on synthetic data."""

import json
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from ray import tune

from tuner import Sweep, cli, train
from tuner.analysis import report, report_tables
from tuner.analysis.load import load_run
from tuner.sweep import cli as sweep_cli
from tuner.sweep import engine, tuners
from tuner.sweep.load import load
from tuner.train import datasets as data_lib
from tuner.train import models
from tuner.train.config import TrainConfig
from sweep_helpers import TINY, cli_error, write_sweep


def run(tmp_path, body, *args):
    """The sweep, without its report (~10 s a run on a loaded 2-core machine; tests/analysis checks reports)."""
    path = write_sweep(tmp_path, body)
    out = tmp_path / "run"
    assert sweep_cli.main([str(path), "--results", str(out), "--no-report", *args]) == 0
    return out


def test_grid_runs_every_point_once_per_seed_and_ranks_by_mean(local_ray, tmp_path, capsys):
    out = run(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={TINY}, space={{"lr": tune.grid_search([1e-3, 3e-3, 1e-2])}},
                      search="grid", trial_scheduler="none", max_epochs=2, seeds=[0, 1])
    """)
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 6 and trials["trial_id"].is_unique
    assert sorted(zip(trials["config/lr"], trials["config/seed"])) == sorted(
        (lr, s) for lr in (1e-3, 3e-3, 1e-2) for s in (0, 1))
    assert (trials["status"] == "TERMINATED").all() and (trials["epochs"] == 2).all()
    best = json.loads((out / "best.json").read_text())
    assert best["seeds"]["n"] == 2 and set(best["seeds"]["trial_ids"]) <= set(trials["trial_id"])
    group = trials[trials["trial_id"].isin(best["seeds"]["trial_ids"])]
    assert best["seeds"]["mean"] == pytest.approx(group["val_acc"].mean())
    assert "chosen: trial" in capsys.readouterr().out


def test_paired_hyperparameters_stay_together(local_ray, tmp_path):
    out = run(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={TINY}, search="grid", trial_scheduler="none", max_epochs=1,
                      space={{"optimizer+lr": tune.grid_search([("sgd", 0.05), ("adam", 0.003), ("rmsprop", 0.001)]),
                              "scheduler": tune.grid_search(["step", "none"])}})
    """)
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 6
    assert set(zip(trials["config/optimizer"], trials["config/lr"], trials["config/scheduler"])) == {
        (o, lr, s) for o, lr in (("sgd", 0.05), ("adam", 0.003), ("rmsprop", 0.001)) for s in ("step", "none")}
    best = json.loads((out / "best.json").read_text())
    assert {"optimizer", "lr", "scheduler"} == set(best["searched"])


def test_random_search_then_confirm_phase_reruns_the_best_on_other_seeds(local_ray, tmp_path):
    out = run(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={TINY}, space={{"lr": tune.loguniform(1e-4, 1e-1)}},
                      search="random", trial_scheduler="none", num_samples=4, max_epochs=2, seeds=[0, 1, 2],
                      confirm_top=2)
    """)
    trials = pd.read_csv(out / "trials.csv")
    search, confirm = trials[trials["phase"] == "search"], trials[trials["phase"] == "confirm"]
    assert len(search) == 4 and (search["seed"] == 0).all()
    assert len(confirm) == 4 and sorted(confirm["seed"]) == [1, 1, 2, 2]
    best_two = search.sort_values("val_acc", ascending=False).head(2)["config/lr"]
    assert set(confirm["config/lr"]) == set(best_two)
    best = json.loads((out / "best.json").read_text())
    assert best["seeds"]["n"] == 3 and best["searched"]["lr"] in set(best_two)
    assert json.loads((out / "run.json").read_text())["phases"] == ["search", "confirm"]


def test_asha_stops_weak_trials_early(local_ray, tmp_path):
    out = run(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={TINY}, space={{"lr": tune.loguniform(1e-5, 1e-1)}},
                      search="random", trial_scheduler="asha", grace_period=1, reduction_factor=2,
                      num_samples=8, max_epochs=4, max_concurrent=2)
    """)
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 8
    stopped = trials[trials["status"] == "STOPPED_EARLY"]
    assert len(stopped) >= 2 and (stopped["epochs"] < 4).all()
    assert (trials["epochs"] == 4).any()
    history = pd.read_csv(out / "history.csv")
    assert history.groupby("trial_id")["epoch"].max().to_dict() == dict(zip(trials["trial_id"], trials["epochs"]))


def test_budgeted_search_trains_rungs_from_scratch_and_chooses_at_the_full_budget(local_ray, tmp_path):
    """search="budgeted", rungs 1 and 3 epochs (eta 3): every configuration runs a 1-epoch trial, the best of three
    again from scratch for 3 epochs; trials.csv names each trial's rung; the choice and the confirm phase (seed 1)
    are at the full budget."""
    out = run(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={{**{TINY}, "scheduler": "cosine", "min_lr": 1e-5}},
                      space={{"lr": tune.loguniform(1e-3, 3e-1)}}, search="budgeted", num_samples=3, max_epochs=3,
                      grace_period=1, reduction_factor=3, seeds=[0, 1], confirm_top=1)
    """)
    trials = pd.read_csv(out / "trials.csv")
    history = pd.read_csv(out / "history.csv")
    search, confirm = trials[trials["phase"] == "search"], trials[trials["phase"] == "confirm"]
    first, second = search[search["rung"] == 0], search[search["rung"] == 1]
    assert len(first) == 3 and len(second) == 1 and len(search) == 4
    assert (search["status"] == "TERMINATED").all() and (search["epochs"] == search["schedule_epochs"]).all()
    assert set(first["schedule_epochs"]) == {1} and set(second["schedule_epochs"]) == {3}
    assert list(search["full_budget"]) == list(search["schedule_epochs"] == 3)
    assert set(second["config/lr"]) <= set(first["config/lr"])
    assert first.set_index("config/lr").loc[second["config/lr"].iloc[0], "val_acc"] == first["val_acc"].max()
    lrs = history.set_index(["trial_id", "epoch"])["lr"]
    for trial_id in first["trial_id"]:  # a 1-epoch cosine trains its one epoch at the initial rate
        assert lrs[(trial_id, 1)] == pytest.approx(float(first.set_index("trial_id").loc[trial_id, "config/lr"]))
    assert len(confirm) == 1 and confirm["seed"].tolist() == [1] and confirm["epochs"].tolist() == [3]
    assert confirm["full_budget"].all() and confirm["rung"].isna().all()
    best = json.loads((out / "best.json").read_text())
    chosen = trials[trials["trial_id"].isin(best["seeds"]["trial_ids"])]
    assert best["seeds"]["n"] == 2 and chosen["full_budget"].all()
    compute = report_tables.compute_used(load_run(out))  # the report's compute: rungs as runs of their own length
    assert compute["rungs"] == [{"budget": 1, "trials": 3, "epochs": 3}, {"budget": 3, "trials": 1, "epochs": 3}]
    assert "the same 3 configurations run to 3 epochs would take 9" in report._compute_text(compute, load_run(out))
    studies = journal_studies(out)  # the run folder's journal: a study per rung, each result told once
    assert sorted(studies) == ["tiny", "tiny rung 0 (1 epochs)"]
    told = {name: {t.user_attrs["tuner.trial_id"]: t.value for t in trials_} for name, trials_ in studies.items()}
    assert told["tiny rung 0 (1 epochs)"] == pytest.approx(first.set_index("trial_id")["val_acc"].to_dict())
    assert told["tiny"] == pytest.approx(second.set_index("trial_id")["val_acc"].to_dict())


def journal_studies(out):
    """Each study of RUN_DIR/optuna.journal by name: its COMPLETE trials."""
    import optuna

    from tuner.search.optuna_search import study_storage

    storage = study_storage(out)
    return {s.study_name: optuna.load_study(study_name=s.study_name, storage=storage).get_trials(
        states=(optuna.trial.TrialState.COMPLETE,)) for s in optuna.get_all_study_summaries(storage)}


def test_budgeted_search_promotes_by_continuation(local_ray, tmp_path, capsys, monkeypatch):
    """search_options promotion="continue": the promoted configuration's trial starts from its rung-0 trial's last
    weights and optimizer (trials.csv: continued_from), trains only epochs 2-3, with a fresh cosine laid over them
    (a warm restart: epoch 2 at the base rate), and counts as a full-budget trial; the confirm phase trains the
    chosen configuration from scratch on seed 1. The run is at a URI (--results file://...): the trainable reads
    the donor's checkpoint through Ray's storage filesystem, as Tune wrote it."""
    monkeypatch.chdir(tmp_path)
    path = write_sweep(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={{**{TINY}, "scheduler": "cosine", "min_lr": 1e-5}},
                      space={{"lr": tune.loguniform(3e-3, 3e-2)}}, search="budgeted", num_samples=3, max_epochs=3,
                      grace_period=1, reduction_factor=3, seeds=[0, 1], confirm_top=1,
                      search_options={{"promotion": "continue"}})
    """)
    out = tmp_path / "bucket" / "continued"
    assert sweep_cli.main([str(path), "--results", f"file://{out}", "--no-report"]) == 0
    assert not (tmp_path / "runs" / "continued" / "ray").exists()  # Ray wrote the checkpoints to the URI only
    trials = pd.read_csv(out / "trials.csv").set_index("trial_id")
    history = pd.read_csv(out / "history.csv").set_index(["trial_id", "epoch"])
    search, confirm = trials[trials["phase"] == "search"], trials[trials["phase"] == "confirm"]
    first, second = search[search["rung"] == 0], search[search["rung"] == 1]
    assert len(first) == 3 and len(second) == 1 and first["continued_from"].isna().all()
    promoted, donor = second.index[0], second["continued_from"].iloc[0]
    assert donor in first.index and first.loc[donor, "config/lr"] == second["config/lr"].iloc[0]
    assert first.loc[donor, "val_acc"] == first["val_acc"].max()
    assert history.loc[promoted].index.tolist() == [2, 3] and second["epochs"].tolist() == [2]  # only added epochs
    assert second["full_budget"].all() and second["schedule_epochs"].tolist() == [3]
    assert history.loc[(promoted, 2), "lr"] == pytest.approx(second["config/lr"].iloc[0])  # the base rate again
    assert history.loc[(promoted, 3), "lr"] < 0.6 * history.loc[(promoted, 2), "lr"]  # cosine over 2 epochs
    continued_loss, donor_loss = history.loc[(promoted, 2), "train_loss"], history.loc[(donor, 1), "train_loss"]
    fresh_loss = history.loc[(confirm.index[0], 1), "train_loss"]  # the same configuration's first epoch, fresh
    assert continued_loss < 0.8 * donor_loss and continued_loss < 0.8 * fresh_loss, (continued_loss, donor_loss)
    assert confirm["epochs"].tolist() == [3] and confirm["continued_from"].isna().all()
    assert history.loc[confirm.index[0]].index.tolist() == [1, 2, 3]
    best = json.loads((out / "best.json").read_text())
    assert set(best["seeds"]["trial_ids"]) == {promoted, confirm.index[0]}
    from tuner import rerun

    assert "continued trial" in cli_error(capsys, rerun.main, out, promoted)


def test_tpe_sweep_writes_the_contracted_run_folder(local_ray, tmp_path):
    out = run(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={TINY},
                      space={{"lr": tune.loguniform(1e-4, 1e-1), "optimizer": tune.choice(["adam", "sgd"]),
                              "dropout": tune.uniform(0.0, 0.5)}},
                      search="optuna", trial_scheduler="asha", num_samples=6, max_epochs=2)
    """)
    for name in ("sweep.py", "spec.json", "trials.csv", "history.csv", "best.json", "best_model.pt", "run.json",
                 "ray", "test_predictions.csv"):
        assert (out / name).exists(), name
    trials = pd.read_csv(out / "trials.csv")
    assert {"trial_id", "status", "epochs", "config/lr", "config/optimizer", "config/dropout", "val_acc",
            "val_loss", "train_time_s", "seed"} <= set(trials.columns)
    assert len(trials) == 6
    history = pd.read_csv(out / "history.csv")
    assert list(history.columns) == ["trial_id", "epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc",
                                     "epoch_time_s"]
    best = json.loads((out / "best.json").read_text())
    assert best["trial_id"] == trials.iloc[0]["trial_id"] and best["val_acc"] == trials["val_acc"].max()
    assert 0 <= best["test_acc"] <= 1 and len(best["confusion_matrix"]) == 10 and len(best["per_class_acc"]) == 10
    cfg = TrainConfig.from_dict(best["config"])
    model = models.build(cfg, (1, 28, 28), 10)
    model.load_state_dict(torch.load(out / "best_model.pt", weights_only=True))
    resolved = json.loads((out / "spec.json").read_text())
    assert resolved["environment"]["versions"]["ray"] and "space" in resolved["sweep"]
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["trials"] == 6 and run_info["ended_by"] == "completed"


def test_conditional_space_respects_its_conditions(local_ray, tmp_path):
    out = run(tmp_path, f"""
        def space(trial):
            optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam"])
            if optimizer == "sgd":
                trial.suggest_float("momentum", 0.5, 0.99)
            scheduler = trial.suggest_categorical("scheduler", ["step", "cosine"])
            if scheduler == "step":
                trial.suggest_int("step_size", 1, 3)
            trial.suggest_float("lr", 1e-4, 1e-1, log=True)
            trial.suggest_categorical("model", ["mlp"])  # searched, though always the Sweep's default model
            return {{"nesterov": optimizer == "sgd"}}

        sweep = Sweep(data="synthetic", fixed={TINY}, space=space, search="optuna", trial_scheduler="none",
                      num_samples=8, max_epochs=1)
    """)
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 8
    assert trials["config/momentum"].notna().eq(trials["config/optimizer"] == "sgd").all()
    assert trials["config/step_size"].notna().eq(trials["config/scheduler"] == "step").all()
    assert trials["config/nesterov"].eq(trials["config/optimizer"] == "sgd").all()
    assert trials["config/model"].eq("mlp").all()


def test_diverging_and_stuck_trials_end_early_and_the_sweep_finishes(local_ray, tmp_path):
    out = run(tmp_path, """
        sweep = Sweep(data="synthetic:1x32x32",
                      fixed={"hidden": (32,), "batch_size": 100, "stuck_epochs": 2, "scheduler": "none",
                              "optimizer": "sgd", "momentum": 0.9},
                      space={"lr": tune.grid_search([0.05, 1e6, 1e-9])},
                      search="grid", trial_scheduler="none", max_epochs=4, max_failures=0)
    """)
    trials = pd.read_csv(out / "trials.csv").set_index("config/lr")
    assert len(trials) == 3
    assert trials.loc[1e6, "status"] == "DIVERGED" and trials.loc[1e6, "epochs"] == 1
    assert trials.loc[1e-9, "status"] == "STUCK" and trials.loc[1e-9, "epochs"] == 2
    assert trials.loc[0.05, "status"] == "TERMINATED" and trials.loc[0.05, "epochs"] == 4
    assert json.loads((out / "best.json").read_text())["searched"] == {"lr": 0.05}


def test_time_budget_ends_the_sweep_and_still_tests_the_best(local_ray, tmp_path, capsys):
    out = run(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={{**{TINY}, "batch_size": 10}},
                      space={{"lr": tune.loguniform(1e-4, 1e-2)}}, search="random", trial_scheduler="none",
                      num_samples=50, max_epochs=30)
    """, "--time-budget", "25", "--no-plan")  # as written: far more than 25 s, so the budget must end it
    printed = capsys.readouterr().out
    assert "time budget ended the sweep" in printed and "test_acc" in printed
    assert json.loads((out / "run.json").read_text())["ended_by"] == "time_budget"
    assert len(pd.read_csv(out / "trials.csv")) < 50
    assert "test_acc" in json.loads((out / "best.json").read_text())


def test_the_time_budget_covers_the_confirm_phase(local_ray, tmp_path, capsys):
    """2 search trials, then 46 confirm trials of 10 epochs: several times what the budget leaves, even on a fast CPU."""
    started = time.time()
    out = run(tmp_path, """
        sweep = Sweep(data="synthetic", fixed={"hidden": (256, 256), "batch_size": 10, "scheduler": "none"},
                      space={"lr": tune.loguniform(1e-4, 1e-2)}, search="random", trial_scheduler="none",
                      num_samples=2, max_epochs=10, seeds=list(range(24)), confirm_top=2)
    """, "--time-budget", "35", "--no-plan")
    elapsed = time.time() - started
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["ended_by"] == "time_budget" and elapsed < 35 + 20, elapsed
    trials = pd.read_csv(out / "trials.csv")
    confirm = trials[trials["phase"] == "confirm"]
    assert len(confirm) > 0 and (confirm["status"] == "TERMINATED").sum() < 46
    assert "test_acc" in json.loads((out / "best.json").read_text())  # the best found by then is still tested


def test_results_at_a_uri_hold_the_experiment_and_the_run_folder_and_resume_from_it(local_ray, tmp_path,
                                                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)  # the local copy goes to ./runs/<name>
    path = write_sweep(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={TINY}, space={{"lr": tune.grid_search([1e-3, 1e-2])}},
                      search="grid", trial_scheduler="none", max_epochs=2)
    """)
    remote = tmp_path / "bucket" / "cifar"
    uri = f"file://{remote}"
    assert sweep_cli.main([str(path), "--results", uri, "--no-report"]) == 0
    for name in ("trials.csv", "history.csv", "best.json", "best_model.pt", "spec.json", "sweep.py", "run.json"):
        assert (remote / name).is_file(), name
    checkpoints = list((remote / "ray").glob("trial_*/checkpoint_*"))
    assert len(checkpoints) >= 2 and not (tmp_path / "runs" / "cifar" / "ray").exists()  # Ray wrote to the URI
    trials = pd.read_csv(remote / "trials.csv")
    assert len(trials) == 2 and (trials["status"] == "TERMINATED").all()

    local = tmp_path / "runs" / "cifar"
    (local / "stale.txt").write_text("left in the local copy")
    assert sweep_cli.main(["--resume", uri, "--no-report"]) == 0  # a finished sweep: nothing runs again
    resumed = pd.read_csv(remote / "trials.csv")
    assert sorted(resumed["trial_id"]) == sorted(trials["trial_id"]) and json.loads(
        (remote / "run.json").read_text())["resumed"] is True
    assert not (remote / "stale.txt").exists() and not (local / "stale.txt").exists()  # a fresh copy, not merged
    assert [p.name for p in (tmp_path / "runs").glob("cifar.previous-*/stale.txt")] == ["stale.txt"]  # kept aside
    assert len((remote / "test_evaluations.jsonl").read_text().splitlines()) == 1  # the choice kept its evaluation


def test_a_uri_run_can_be_resumed_from_another_machine_after_the_driver_died(local_ray, tmp_path, monkeypatch):
    """sweep.py and spec.json reach the URI before the first trial, so the bucket alone is a resumable run."""
    monkeypatch.chdir(tmp_path)
    path = write_sweep(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={TINY}, space={{"lr": tune.grid_search([1e-3])}}, search="grid",
                      trial_scheduler="none", max_epochs=1)
    """)
    remote = tmp_path / "bucket" / "killed"
    sweep = sweep_cli.apply_changes(load(path), {}, str(path))
    engine.prepare(sweep, path, engine.RunOptions(results=f"file://{remote}"))
    assert {p.name for p in remote.iterdir()} == {"sweep.py", "spec.json"}


def test_results_uri_that_exists_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = write_sweep(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={TINY}, space={{"lr": tune.grid_search([1e-3])}}, search="grid",
                      trial_scheduler="none", max_epochs=1)
    """)
    (tmp_path / "taken").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        from tuner.errors import run_cli
        run_cli(sweep_cli.main, [str(path), "--results", f"file://{tmp_path / 'taken'}"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: --results file://")


def test_a_loss_metric_is_minimised_and_the_tested_weights_are_its_best_epochs(local_ray, tmp_path):
    """With metric=val_loss every ranking minimises, each trial's best epoch is its lowest validation loss, and
    the weights tested are that epoch's (here the lowest loss, epoch 8, is not the highest accuracy, epoch 4)."""
    out = run(tmp_path, """
        sweep = Sweep(data="synthetic", fixed={"hidden": (256,), "batch_size": 50, "scheduler": "none",
                                               "dropout": 0.0, "optimizer": "adam", "precision": "fp32"},
                      space={"lr": tune.grid_search([3e-4, 1e-2])}, search="grid", trial_scheduler="none",
                      max_epochs=8, metric="val_loss")
    """)
    trials, history = pd.read_csv(out / "trials.csv"), pd.read_csv(out / "history.csv")
    for _, trial in trials.iterrows():
        own = history[history["trial_id"] == trial["trial_id"]]
        assert trial["val_loss"] == own["val_loss"].min()
        assert trial["best_epoch"] == own.loc[own["val_loss"].idxmin(), "epoch"]
    assert trials["val_loss"].is_monotonic_increasing  # ranked lowest loss first
    best = json.loads((out / "best.json").read_text())
    assert best["mode"] == "min" and best["trial_id"] == trials.iloc[0]["trial_id"]
    own = history[history["trial_id"] == best["trial_id"]]
    assert best["best_epoch"] == 8 and own.loc[own["val_acc"].idxmax(), "epoch"] != 8
    cfg = TrainConfig.from_dict(best["config"])
    dataset = data_lib.load("synthetic")
    model = models.build(cfg, dataset.image_shape, dataset.num_classes)
    model.load_state_dict(torch.load(out / "best_model.pt", weights_only=True))
    _, val = train.prepare_splits(dataset, cfg, torch.device("cpu"), channels_last=False)
    measured = train.evaluate(model, val, dataset.num_classes, precision="fp32")
    assert measured.loss == pytest.approx(best["val_loss"], rel=1e-5)
    assert measured.acc == pytest.approx(own.loc[own["epoch"] == 8, "val_acc"].item())


def test_a_config_error_that_reaches_a_trial_ends_it_once_and_the_sweep_goes_on(local_ray, tmp_path, capsys):
    """The checks before Ray catch these; a configuration that slips past them (here the tuner is built directly,
    skipping them) is one ERROR trial with its message, not retried: retries are for crashes."""
    sweep = Sweep(data="synthetic:1x32x32", fixed={"width": 30, "heads": 4, "hidden": (32,), "batch_size": 100},
                  space={"model": tune.grid_search(["mlp", "vit"])}, search="grid", trial_scheduler="none",
                  max_epochs=2, max_failures=3)
    dataset = data_lib.load(sweep.data)
    out = tmp_path / "run"
    out.mkdir()
    options = engine.RunOptions(results=str(out))
    tuner = tuners.build_tuner(sweep, dataset, str(out.resolve()))
    engine.execute(sweep, out, dataset, options, tuner)
    trials = pd.read_csv(out / "trials.csv").set_index("config/model")
    assert trials.loc["vit", "status"] == "ERROR" and trials.loc["vit", "failures"] == 0
    assert "divisible by heads 4" in trials.loc["vit", "error"] and trials.loc["vit", "epochs"] == 0
    assert "divisible" in (out / "errors" / f"{trials.loc['vit', 'trial_id']}.txt").read_text()
    assert trials.loc["mlp", "status"] == "TERMINATED" and trials.loc["mlp", "epochs"] == 2
    assert json.loads((out / "best.json").read_text())["searched"] == {"model": "mlp"}
    vit = trials.loc["vit", "trial_id"]
    line = next(line for line in capsys.readouterr().out.splitlines() if f"trial {vit} ERROR" in line)
    assert "divisible by heads 4" in line and f"errors/{vit}.txt" in line and "1 ERROR" in line  # as it happens


def _cache_a_verdict_against(trained_on: str, cfg: TrainConfig, dataset) -> None:
    """The training-path cache says another path than `trained_on` is fastest here (where another exists)."""
    from tuner.train import paths

    names = [p.name for p in paths.candidates(cfg, torch.device("cpu"))]
    config = paths.config_key(cfg, dataset.image_shape, dataset.num_classes)
    for threads in (1, 2, torch.get_num_threads()):
        where = {**paths.machine(torch.device("cpu")), "threads": threads}
        timings = {name: {"ms": 100.0 if name == trained_on else 1.0, "loss": 2.3, "finite": True} for name in names}
        paths.write_entry(paths.entry_key(where, config), {"machine": where, "config": config, "timings": timings})


def test_rerun_retrains_one_trial_outside_ray_and_matches_it_epoch_for_epoch(local_ray, tmp_path, capsys):
    from tuner import rerun

    out = run(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={{**{TINY}, "dropout": 0.3, "augment": "flip_crop"}},
                      space={{"lr": tune.grid_search([3e-3, 1e-2])}}, search="grid", trial_scheduler="none",
                      max_epochs=3)
    """)
    trial_id = pd.read_csv(out / "trials.csv").iloc[1]["trial_id"]
    config, first = rerun.trial_record(out, trial_id)
    trained_on = first["training_path"]  # the precision and layout the trial trained on, in its results
    cfg = TrainConfig.from_dict({**config, "device": "cpu"})
    _cache_a_verdict_against(trained_on, cfg, data_lib.load("synthetic"))  # as if a later sweep measured otherwise
    capsys.readouterr()
    assert rerun.main([str(out), trial_id]) == 0
    printed = capsys.readouterr().out
    assert "3 of 3 recorded epochs reproduced exactly" in printed and printed.count("same") == 3
    history = pd.read_csv(out / "history.csv")
    assert f"val_acc {history[history['trial_id'] == trial_id].iloc[0]['val_acc']:.4f}" in printed
    assert rerun.main([str(out), trial_id, "--epochs", "1"]) == 0
    assert "1 of 1 recorded epochs reproduced exactly" in capsys.readouterr().out
    done = subprocess.run([sys.executable, "-m", "tuner.cli", "rerun", str(out), "nosuchtrial"], capture_output=True,
                          text=True, timeout=120)  # the command itself, once; the other cases in this process
    assert done.returncode == 2 and done.stderr.strip().startswith("error: ") and "has no trial 'nosuchtrial'" in \
        done.stderr
    for argv, message in (([str(tmp_path / "absent"), trial_id], "does not exist"),
                          ([str(tmp_path), trial_id], "not a tuner run folder")):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["rerun", *argv])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and err.strip().startswith("error: ") and message in err, argv


def test_the_tuner_command_runs_every_module_with_its_flags(tmp_path, capsys):

    for command in cli.COMMANDS:  # each is its module's own main, given the rest of the command line
        with pytest.raises(SystemExit) as exit_info:
            cli.main([command, "--help"])
        assert exit_info.value.code == 0, command
    done = subprocess.run([sys.executable, "-m", "tuner.cli", "models", "--shape", "1x28x28"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "mlp" in done.stdout
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["sweeep"])
    assert exit_info.value.code == 2 and capsys.readouterr().err.strip() == (
        "error: unknown command 'sweeep'; choose one of: " + ", ".join(cli.COMMANDS))

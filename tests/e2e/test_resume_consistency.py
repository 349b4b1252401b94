"""One truth for a run's progress: after a driver kill at any moment, the Optuna study (optuna.journal, written at
once) and Ray Tune's experiment state (a snapshot) agree on --resume, wherever the run folder is now; a folder a
kill left before Tune's first snapshot, or with spec.json and sweep.py only, resumes; run folders never collide."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import optuna
import pandas as pd
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from sweep_helpers import TINY, write_sweep
from test_fault_tolerance import Watch
from tuner.runfolder import STUDY_FILE

SLOWER_TRIALS = '{"hidden": (512, 512), "batch_size": 10, "scheduler": "none"}'  # a few seconds an epoch: the
#   watcher sees the first trials running before they end, however busy the machine (a CI run once missed it)
OPTUNA_SWEEP = f"""
    sweep = Sweep(data="synthetic", fixed={SLOWER_TRIALS}, space={{"lr": tune.loguniform(1e-4, 1e-2)}}, search="optuna",
                  trial_scheduler="none", num_samples=5, max_epochs=3, seeds=[0], start=[{{"lr": 1e-3}}], cpu=1,
                  checkpoint_keep=3)
"""  # every checkpoint kept: the old snapshot this test puts back names checkpoints Ray would have deleted since
SNAPSHOT = ("experiment_state-", "searcher-state-", "search_gen_state-")


def study_trials(run_dir):
    storage = JournalStorage(JournalFileBackend(str(run_dir / STUDY_FILE)))
    (summary,) = optuna.get_all_study_summaries(storage)
    return optuna.load_study(study_name=summary.study_name, storage=storage).trials


def resume(run_dir, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", "tuner.sweep", "--resume", str(run_dir), "--no-report",
                           "--no-dashboard", *args], capture_output=True, text=True, timeout=timeout)


def snapshot_files(ray_dir):
    return [p for p in ray_dir.iterdir() if p.name.startswith(SNAPSHOT)]


def test_a_study_ahead_of_rays_snapshot_resumes_in_a_moved_folder(tmp_path):
    """The kill the issue reproduced: the study has told trials that Ray's last snapshot still runs, and asked trials
    that snapshot never saw. Made deterministic by putting back a snapshot taken while the first trials ran."""
    out, early = tmp_path / "run", tmp_path / "early"
    proc = subprocess.Popen([sys.executable, "-m", "tuner.sweep", str(write_sweep(tmp_path, OPTUNA_SWEEP)),
                             "--results", str(out), "--no-report", "--no-dashboard"], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watch = Watch(out)
    try:
        watch.until(lambda found: found and all(r[-1]["epoch"] < 3 for r in found.values()), 240,
                    "the first trials running", proc)
        for _ in range(50):  # a snapshot Ray is copying right now may be half written: take a whole one
            shutil.rmtree(early, ignore_errors=True)
            early.mkdir()
            for path in snapshot_files(out / "ray"):
                shutil.copy(path, early / path.name)
            try:
                states = [json.loads(p.read_text()) for p in early.glob("experiment_state-*.json")]
                if states and list(early.glob("searcher-state-*.pkl")):
                    break
            except ValueError:
                pass
            time.sleep(0.1)
        watch.until(lambda found: sum(r[-1]["epoch"] == 3 for r in found.values()) >= 2 and len(found) >= 3, 300,
                    "two trials done and a third started", proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    told = {t.number for t in study_trials(out) if t.state.is_finished()}
    assert told, "the study had told no trial before the kill"
    for path in snapshot_files(out / "ray"):  # Ray's snapshot from before those trials ended
        path.unlink()
    for path in early.iterdir():
        shutil.copy(path, out / "ray" / path.name)
    moved = tmp_path / "elsewhere" / "run"
    moved.parent.mkdir()
    out.rename(moved)  # the searcher Ray pickled names the journal at the old path

    done = resume(moved)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Cannot tell" not in done.stdout + done.stderr
    trials = pd.read_csv(moved / "trials.csv")
    assert len(trials) == 5 and (trials["status"] == "TERMINATED").all(), trials[["trial_id", "status", "error"]]
    states = [t.state for t in study_trials(moved)]
    assert optuna.trial.TrialState.RUNNING not in states and optuna.trial.TrialState.WAITING not in states
    # every trial Ray ran is in the study once, finished; the study may hold more (asked after the snapshot: failed)
    completed = [t for t in study_trials(moved) if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(completed) >= 5
    assert sum(t.params == {"lr": 1e-3} for t in completed) == 1  # the start point ran once


CONFIRMED = f"""
    sweep = Sweep(data="synthetic", fixed={TINY}, space={{"lr": tune.loguniform(1e-4, 1e-1)}}, search="optuna",
                  trial_scheduler="none", num_samples=3, max_epochs=2, seeds=[0, 1], confirm_top=1)
"""


def test_folders_killed_before_tunes_first_snapshot_resume_and_a_failed_grow_advances_nothing(local_ray, tmp_path,
                                                                                            monkeypatch):
    from tuner.sweep import cli as sweep_cli
    from tuner.sweep import engine

    path = write_sweep(tmp_path, CONFIRMED)
    out = tmp_path / "run"
    assert sweep_cli.main([str(path), "--results", str(out), "--no-report"]) == 0
    first = pd.read_csv(out / "trials.csv")

    # killed between the search and the confirm phase, as Tune started the confirm phase: tuner.pkl, no snapshot
    for entry in (out / "ray_confirm").iterdir():
        if entry.name != "tuner.pkl":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    done = resume(out)  # a new process, as after a kill
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    trials = pd.read_csv(out / "trials.csv")
    assert sorted(trials["phase"].value_counts().items()) == [("confirm", 1), ("search", 3)]
    assert set(first.loc[first["phase"] == "search", "trial_id"]) == set(trials.loc[trials["phase"] == "search",
                                                                                     "trial_id"])

    # a grow that fails before its round starts leaves spec.json as it was
    def no_data(*args, **kwargs):
        raise OSError("the data disk is gone")

    spec = (out / "spec.json").read_text()
    monkeypatch.setattr(engine, "load_data", no_data)
    with pytest.raises(OSError):
        sweep_cli.main(["--resume", str(out), "--num-samples", "5", "--no-report"])
    monkeypatch.undo()
    assert (out / "spec.json").read_text() == spec

    # killed after spec.json and sweep.py were written, before the Tuner existed
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("spec.json", "sweep.py"):
        shutil.copy(out / name, bare / name)
    assert sweep_cli.main(["--resume", str(bare), "--no-report"]) == 0
    trials = pd.read_csv(bare / "trials.csv")
    assert sorted(trials["phase"].value_counts().items()) == [("confirm", 1), ("search", 3)]
    assert json.loads((bare / "run.json").read_text())["ended_by"] == "completed"
    assert len((bare / "test_evaluations.jsonl").read_text().splitlines()) == 1


def test_ctrl_c_as_the_confirm_phase_starts_at_a_uri_is_an_interrupt_and_resumes_from_the_uri(tmp_path):
    uri = f"file://{tmp_path}/bucket/run"
    proc = subprocess.Popen([sys.executable, "-m", "tuner.sweep", str(write_sweep(tmp_path, CONFIRMED)), "--results",
                             uri, "--no-report", "--no-dashboard"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    printed = []
    for line in proc.stdout:
        printed.append(line)
        if line.startswith("confirm phase:"):  # printed as the confirm phase's Tuner is built, before Tune runs it
            proc.send_signal(signal.SIGINT)
            break
    printed.append(proc.communicate(timeout=240)[0])
    printed = "".join(printed)
    assert proc.returncode == 130, printed[-3000:]
    assert f"Continue with: python -m tuner.sweep --resume {uri}" in printed
    bucket = tmp_path / "bucket" / "run"
    for name in ("optuna.journal", "trials.csv", "run.json", "spec.json", "sweep.py"):
        assert (bucket / name).exists(), name
    assert json.loads((bucket / "run.json").read_text())["ended_by"] == "interrupted"
    assert not (bucket / "best.json").exists() and not (bucket / "test_evaluations.jsonl").exists()

    done = subprocess.run([sys.executable, "-m", "tuner.sweep", "--resume", uri, "--no-report", "--no-dashboard"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    trials = pd.read_csv(bucket / "trials.csv")
    assert sorted(trials["phase"].value_counts().items()) == [("confirm", 1), ("search", 3)]
    assert len((bucket / "test_evaluations.jsonl").read_text().splitlines()) == 1

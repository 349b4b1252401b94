"""Interrupted is a state: Ctrl-C (SIGINT) or SIGTERM during a real ASHA sweep writes what finished, marks the
unfinished trials INTERRUPTED, chooses and tests nothing; --resume finishes the sweep and reads the test set
exactly once, and resuming a finished sweep does not read it again."""

import json
import signal
import subprocess
import sys

import pandas as pd

from sweep_helpers import sweep_command, trial_results, write_sweep
from test_fault_tolerance import Watch

ASHA_SWEEP = """
    sweep = Sweep(data="synthetic", fixed={"hidden": (256, 256), "batch_size": 10, "scheduler": "none"},
                  space={"lr": tune.loguniform(1e-4, 1e-2)}, search="random", trial_scheduler="asha",
                  grace_period=1, reduction_factor=4, num_samples=6, max_epochs=16, seeds=[0, 1], confirm_top=1)
"""


def evaluations(run_dir) -> list[dict]:
    log = run_dir / "test_evaluations.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def interrupt_mid_sweep(tmp_path, sig: signal.Signals):
    """Sends `sig` while a trial runs, checks the interrupted run folder; returns it, its INTERRUPTED trials and
    every result recorded before the signal."""
    out = tmp_path / "run"
    proc = subprocess.Popen(sweep_command(write_sweep(tmp_path, ASHA_SWEEP), out), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)

    running = []

    # ASHA's rungs are epochs 1 and 4, so a trial seen at epoch 5-9 of 16 is running and has 7 or more to go:
    # result.json can lag the trial by an epoch or two (Tune hands results to its loggers in bursts)
    def past_the_last_rung(found) -> bool:
        running.extend(tid for tid, records in found.items() if 5 <= records[-1]["epoch"] <= 9)
        return bool(running)

    Watch(out).until(past_the_last_rung, 240, "a trial at epoch 5-9 of 16", proc)
    proc.send_signal(sig)
    printed = proc.communicate(timeout=240)[0]
    assert proc.returncode == 130, printed[-3000:]
    assert f"interrupted ({sig.name})" in printed and f"--resume {out}" in printed
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["ended_by"] == "interrupted" and run_info["phases"] == ["search"]
    trials = pd.read_csv(out / "trials.csv")
    interrupted = trials[trials["status"] == "INTERRUPTED"]
    assert running[0] in set(interrupted["trial_id"]), trials[["trial_id", "status", "epochs"]]
    assert (interrupted["epochs"] < 16).all()
    assert not (out / "best.json").exists() and evaluations(out) == []  # the test set was not read
    return out, interrupted, trial_results(out)


def test_sigterm_interrupts_the_sweep_as_ctrl_c_does(tmp_path):  # a batch scheduler or `kill` ending the job
    interrupt_mid_sweep(tmp_path, signal.SIGTERM)


def test_ctrl_c_mid_sweep_interrupts_and_resume_tests_once(local_ray, tmp_path):
    out, interrupted, before = interrupt_mid_sweep(tmp_path, signal.SIGINT)
    resumed = subprocess.run([sys.executable, "-m", "tuner.sweep", "--resume", str(out), "--no-report",
                              "--no-dashboard"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["ended_by"] == "completed" and run_info["phases"] == ["search", "confirm"]
    trials = pd.read_csv(out / "trials.csv")
    assert "INTERRUPTED" not in set(trials["status"]) and set(trials["phase"]) == {"search", "confirm"}
    after = trial_results(out)
    for trial_id in interrupted["trial_id"]:  # continued from their last checkpoint, not from epoch 1
        epochs = [r["epoch"] for r in after[trial_id]]
        last_before = before[trial_id][-1]["epoch"]
        assert epochs[:len(before[trial_id])] == [r["epoch"] for r in before[trial_id]]
        if last_before < 5 and len(epochs) == len(before[trial_id]):
            continue  # ASHA may stop a trial at the rung (epoch 1 or 4) it had just reached as the signal came
        assert len(epochs) > len(before[trial_id]), (trial_id, epochs)  # past the last rung: it trains on
        # the epoch reported as Tune stopped may not have had its checkpoint registered yet: at most it is redone
        assert epochs[len(before[trial_id])] in (last_before, last_before + 1), epochs
    history = pd.read_csv(out / "history.csv")
    assert not history.duplicated(["trial_id", "epoch"]).any()
    logged = evaluations(out)
    best = json.loads((out / "best.json").read_text())
    assert len(logged) == 1 and best["evaluation"] == 1 and logged[0]["trial_id"] == best["trial_id"]

    from tuner.sweep import cli as sweep_cli  # a finished sweep resumed: no kill to survive, so in this process

    assert sweep_cli.main(["--resume", str(out), "--no-report", "--no-dashboard"]) == 0
    assert len(evaluations(out)) == 1  # the same choice keeps its one evaluation
    assert json.loads((out / "best.json").read_text())["test_acc"] == best["test_acc"]

"""A run folder recorded by tuner's flat layout (0.1, before its subpackages) still resumes and grows: its sweep.py
imports `from tuner.spec import Sweep`, and Ray Tune's tuner.pkl names the callbacks and the trial-folder function
by their old import paths (tuner.progress, tuner.lifecycle, tuner.results).

The fixture is a real interrupted sweep: a random search on synthetic data, Ctrl-C after its first epochs (one
trial INTERRUPTED at epoch 3, one STUCK, two never started), recorded with the code at commit ca0563f."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from sweep_helpers import trial_results

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "run_flat_layout_interrupted"


def resume(run_dir: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "tuner.sweep", "--resume", str(run_dir), "--no-report",
                           "--no-dashboard"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_a_run_recorded_by_the_flat_layout_resumes_then_grows(local_ray, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURE, run_dir)
    assert "from tuner.spec import Sweep" in (run_dir / "sweep.py").read_text()
    before = trial_results(run_dir)
    interrupted = pd.read_csv(run_dir / "trials.csv").query("status == 'INTERRUPTED'")["trial_id"].tolist()
    assert interrupted

    resume(run_dir)
    info = json.loads((run_dir / "run.json").read_text())
    assert info["ended_by"] == "completed" and info["phases"] == ["search", "confirm"]
    trials = pd.read_csv(run_dir / "trials.csv")
    assert len(trials[trials["phase"] == "search"]) == 4 and "INTERRUPTED" not in set(trials["status"])
    after = trial_results(run_dir)
    for trial_id in interrupted:  # continued from its checkpoint, not from epoch 1
        epochs = [r["epoch"] for r in after[trial_id]]
        assert epochs[:len(before[trial_id])] == [r["epoch"] for r in before[trial_id]]
        assert epochs[len(before[trial_id])] <= before[trial_id][-1]["epoch"] + 1
    assert (run_dir / "best.json").exists()
    assert len((run_dir / "test_evaluations.jsonl").read_text().splitlines()) == 1

    from tuner.sweep import cli as sweep_cli  # the old paths were read by a fresh process above: grown in this one

    assert sweep_cli.main(["--resume", str(run_dir), "--num-samples", "6", "--no-report", "--no-dashboard"]) == 0
    grown = pd.read_csv(run_dir / "trials.csv")
    assert len(grown[grown["phase"] == "search"]) == 6 and set(grown["round"]) == {1, 2}
    assert json.loads((run_dir / "spec.json").read_text())["rounds"] == [4, 6]
    assert json.loads((run_dir / "run.json").read_text())["ended_by"] == "completed"

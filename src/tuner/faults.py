"""Fault soak: a small real sweep (Optuna search, then a confirm phase, at a file:// URI) whose driver is killed N times
at random moments, SIGKILL or SIGINT to its process group, each time followed by `--resume URI`, until it ends.

    python -m tuner.bench --faults 20 [--seed 0] [--json PATH]

Prints one line per fault, then `faults survived: K/N` (a fault is survived when the next --resume continues the sweep),
trials lost (trials that reported epochs whose work is not in the final trials.csv, or that ended ERROR), epochs run
twice (an epoch a trial reported more than once: work redone), test evaluations made (lines in
test_evaluations.jsonl) and trials the Optuna study still holds RUNNING. Goal: K = N, 0 lost, 0 epochs twice, exactly
one test evaluation. A sweep that ends before the N-th fault ends the soak (the counts are of the faults delivered).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tuner.runfolder import STUDY_FILE, TEST_LOG, TRIAL_DIR_PREFIX, TRIALS_FILE
from tuner.status import Status

SOAK_SWEEP = """from ray import tune
from tuner import Sweep

sweep = Sweep(name="soak", data="synthetic", fixed={{"hidden": (128, 128), "batch_size": 20, "scheduler": "none"}},
              space={{"lr": tune.loguniform(1e-4, 1e-2)}}, search="optuna", trial_scheduler="none", num_samples={trials},
              max_epochs=3, seeds=[0, 1], confirm_top=1, cpu=1, start=[{{"lr": 1e-3}}])
"""
PHASES = (("run folder copied", "upload"), ("report:", "report"), ("chosen:", "report"), ("confirm phase", "confirm"),
          ("run folder:", "search"))


def _phase(printed: str) -> str:
    """Where the driver was when the signal came, from what it had printed."""
    last = {name: printed.rfind(mark) for mark, name in PHASES}
    found = max(last.items(), key=lambda item: item[1])
    return found[0] if found[1] >= 0 else "start"


def soak(faults: int, seed: int = 0, max_delay_s: float = 45.0, trials: int = 10, say: Any = print) -> dict[str, Any]:
    """Kill the driver of a sweep of `trials` search trials `faults` times at random moments (uniform in
    [1, max_delay_s] seconds after each start, the signal SIGKILL or SIGINT by a coin), resuming after each, then once
    more to the end; returns the counts."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="tuner-faults-") as folder:
        root = Path(folder)
        (root / "soak.py").write_text(SOAK_SWEEP.format(trials=trials))
        uri = f"file://{root}/bucket/soak"
        first = [sys.executable, "-m", "tuner.sweep", "soak.py", "--results", uri, "--no-report", "--no-dashboard"]
        resume = [sys.executable, "-m", "tuner.sweep", "--resume", uri, "--no-report", "--no-dashboard"]
        bad, delivered, runs, started = 0, 0, 0, time.time()
        failed: list[str] = []
        command = first
        while True:
            runs += 1
            last_run = delivered >= faults
            log = root / f"driver-{runs}.log"
            with log.open("w") as out:
                proc = subprocess.Popen(command, cwd=root, stdout=out, stderr=subprocess.STDOUT,
                                        start_new_session=True)
                kind = None if last_run else rng.choice((signal.SIGKILL, signal.SIGINT))
                delay = rng.uniform(1.0, max_delay_s)
                try:
                    code = proc.wait(timeout=None if last_run else delay)
                except subprocess.TimeoutExpired:
                    code = None
                if code is None:
                    phase = _phase(log.read_text())
                    os.killpg(proc.pid, kind)
                    try:
                        code = proc.wait(timeout=300)
                    except subprocess.TimeoutExpired:  # an interrupt that hangs is a fault not survived
                        os.killpg(proc.pid, signal.SIGKILL)
                        code = proc.wait()
                        failed.append(f"{kind.name} in {phase}: hung")
                        bad += 1
                    delivered += 1
                    # -SIGINT: Ctrl-C while Python imported tuner, before the command started (a shell shows 130)
                    ok = code in (130, -signal.SIGINT, -signal.SIGKILL) or (code == 0 and kind == signal.SIGINT)
                    say(f"fault {delivered}/{faults}: {kind.name} at {delay:.1f} s ({phase}) -> exit {code}"
                        f"{'' if ok else ' UNEXPECTED'}", flush=True)
                    if not ok:
                        bad += 1
                        failed.append(f"{kind.name} in {phase}: exit {code}")
                    if code == 0:  # the sweep ended before the signal landed
                        break
                    # killed before the run reached the URI: the sweep never started, so it starts again
                    command = resume if (root / "bucket" / "soak" / "spec.json").exists() else first
                    continue
            text = log.read_text()
            if code != 0:  # a --resume that could not continue: the fault before it was not survived
                bad += 1
                failed.append(f"run {runs}: exit {code}: {text.strip().splitlines()[-1:] if text.strip() else ''}")
                say(f"run {runs} ended with exit {code}\n{text[-2000:]}", flush=True)
                if runs > faults + 3:
                    break
                command = resume if (root / "bucket" / "soak" / "spec.json").exists() else first
                continue
            break
        counts = _count(root / "bucket" / "soak")
        result = {"faults": delivered, "survived": max(delivered - bad, 0), "runs": runs, "failures": failed,
                  "wall_s": round(time.time() - started, 1), **counts}
    say(f"faults survived: {result['survived']}/{result['faults']}; trials lost: {result['trials_lost']}; "
        f"epochs run twice: {result['epochs_twice']}; test evaluations: {result['test_evaluations']}; "
        f"study trials left RUNNING: {result['study_running']} ({result['runs']} driver runs, "
        f"{result['wall_s']:.0f} s)", flush=True)
    return result


def _count(bucket: Path) -> dict[str, Any]:
    """Trials lost, epochs run twice, test evaluations, RUNNING study trials: read from the run at the URI."""
    import pandas as pd

    trials = pd.read_csv(bucket / TRIALS_FILE) if (bucket / TRIALS_FILE).exists() else pd.DataFrame(
        columns=["trial_id", "status"])
    recorded, twice = set(), 0
    for result in bucket.glob(f"ray*/{TRIAL_DIR_PREFIX}*/result.json"):
        epochs = [json.loads(line)["epoch"] for line in result.read_text().splitlines() if line.strip()]
        if epochs:
            recorded.add(result.parent.name.removeprefix(TRIAL_DIR_PREFIX))
            twice += len(epochs) - len(set(epochs))
    listed = set(trials["trial_id"].astype(str))
    lost = len(recorded - listed) + int((trials["status"] == Status.ERROR).sum())
    log = bucket / TEST_LOG
    evaluations = len(log.read_text().splitlines()) if log.exists() else 0
    return {"trials": len(trials), "trials_lost": lost, "epochs_twice": twice, "test_evaluations": evaluations,
            "study_running": _running(bucket / STUDY_FILE)}


def _running(journal: Path) -> int:
    if not journal.exists():
        return 0
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(journal)))
    return sum(t.state == optuna.trial.TrialState.RUNNING for s in optuna.get_all_study_summaries(storage)
               for t in optuna.load_study(study_name=s.study_name, storage=storage).trials)

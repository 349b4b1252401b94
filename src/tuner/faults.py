"""Fault soak: a small real sweep (Optuna search, then a confirm phase, the report, at a file:// URI) whose driver is
killed N times, SIGKILL or SIGINT to its process group, each time followed by `--resume URI`, until it ends.

    python -m tuner.bench --faults 20 [--seed 0] [--json PATH]

Each fault aims at one phase in turn (the start: imports, data, Ray; the search; between the phases; the confirm phase;
the report and test evaluation; the upload to the URI) and lands at a random moment of it; where it landed is read
from what the driver had printed. Prints one line per fault, the faults by phase, then `faults survived: K/N` (a fault
is survived when the run ends as promised: 130 after SIGINT with no traceback, and the next --resume continues the
sweep), trials lost (trials that reported epochs whose work is not in the final trials.csv, or that ended ERROR),
epochs run twice (an epoch a trial reported more than once: work redone), test evaluations made (lines in
test_evaluations.jsonl) and trials the Optuna study still holds RUNNING. Goal: K = N, 0 lost, 0 epochs twice, exactly
one test evaluation. Once the sweep has ended, the faults left land in `--resume` of the ended run (it restores,
reports and uploads again, and tests nothing again).
"""

from __future__ import annotations

import json
import os
import random
import shutil
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
PHASES = ("start", "search", "between", "confirm", "report", "upload")
# where the driver is, from the last of these it printed; a resume prints them again from "run folder:" on, and the
# report names the run folder too (no new search then)
MARKS = (("run folder:", "search"), ("search phase ended", "between"), ("confirm phase:", "confirm"),
         (" · confirm ", "confirm"), ("confirm phase ended", "report"), ("trial-epochs in", "report"),
         ("copying the run folder to", "upload"), ("run folder copied", "exit"))
# how long after its first line the signal may come, per phase aimed at: within the shortest each phase lasts here,
# so that a kill aimed at a phase lands in it on a busy machine too (where the driver's lines appear late)
WITHIN_S = {"start": (0.5, 6.0), "search": (0.0, 4.0), "between": (0.0, 0.0), "confirm": (0.0, 2.0),
            "report": (0.0, 2.0), "upload": (0.0, 0.0)}
RUN_LIMIT_S = 600.0  # a driver run that takes longer hangs
OK_EXITS = (130, -signal.SIGINT, -signal.SIGKILL)  # -SIGINT: Python's own exit, before tuner's first line ran


def phase(printed: str) -> str:
    """Where the driver was when the signal came, from what it had printed."""
    now = "start"
    for line in printed.splitlines():
        for mark, name in MARKS:
            if mark in line and not (name == "search" and now in ("report", "upload", "exit")):
                now = name
    return now


def plan(faults: int, rng: random.Random) -> list[str]:
    """The phase each fault aims at: every phase in turn as far as N allows, in the order a sweep reaches them (a
    start among them at random), so kills land in the search, between the phases, in the confirm phase, the report
    and the upload."""
    later = [p for p in PHASES if p != "start"]
    aims = [later[i % len(later)] for i in range(faults - faults // len(PHASES))]
    aims.sort(key=PHASES.index)
    for _ in range(faults // len(PHASES)):
        aims.insert(rng.randrange(len(aims) + 1), "start")
    return aims


def soak(faults: int, seed: int = 0, trials: int = 10, say: Any = print, keep: Path | None = None) -> dict[str, Any]:
    """Kill the driver of a sweep of `trials` search trials `faults` times, SIGKILL or SIGINT by a seeded coin, each
    at a random moment of the phase `plan` aims it at, resuming after each, then once more to the end; returns the
    counts; `keep`: a folder that takes each driver run's output."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="tuner-faults-") as folder:
        root = Path(folder)
        (root / "soak.py").write_text(SOAK_SWEEP.format(trials=trials))
        uri = f"file://{root}/bucket/soak"
        first = [sys.executable, "-m", "tuner.sweep", "soak.py", "--results", uri, "--no-dashboard"]
        resume = [sys.executable, "-m", "tuner.sweep", "--resume", uri, "--no-dashboard"]
        aims, hit, failed, runs, started = plan(faults, rng), [], [], 0, time.time()
        while True:
            runs += 1
            aim = aims[len(hit)] if len(hit) < faults else None
            command = resume if (root / "bucket" / "soak" / "spec.json").exists() else first
            code, kind, where, text = _drive(command, root / f"driver-{runs}.log", aim, rng)
            if kind is not None:
                hit.append(where)
                problem = _judge(code, kind, where, text)
                say(f"fault {len(hit)}/{faults}: {kind.name} in {where} (aimed at {aim}) -> exit {code}"
                    f"{'' if problem is None else ' UNEXPECTED: ' + problem}", flush=True)
                if problem is not None:
                    failed.append(f"fault {len(hit)}: {kind.name} in {where}: {problem}")
                continue
            if code != 0:  # a run that could not continue: the fault before it was not survived
                failed.append(f"run {runs}: exit {code}: {text.strip().splitlines()[-1:] if text.strip() else ''}")
                say(f"run {runs} ended with exit {code} UNEXPECTED\n{text[-2000:]}", flush=True)
                if runs > 2 * faults + 3:
                    break
                continue
            if len(hit) >= faults:
                break
        counts = _count(root / "bucket" / "soak")
        if keep is not None:  # each driver run's output, to look into
            keep.mkdir(parents=True, exist_ok=True)
            for log in root.glob("driver-*.log"):
                shutil.copyfile(log, keep / log.name)
        by_phase = {p: hit.count(p) for p in (*PHASES, "exit") if hit.count(p)}
        result = {"faults": len(hit), "survived": max(len(hit) - len(failed), 0), "runs": runs, "failures": failed,
                  "by_phase": by_phase, "wall_s": round(time.time() - started, 1), **counts}
    say(f"faults by phase: {', '.join(f'{k} {v}' for k, v in by_phase.items())}", flush=True)
    say(f"faults survived: {result['survived']}/{result['faults']}; trials lost: {result['trials_lost']}; "
        f"epochs run twice: {result['epochs_twice']}; test evaluations: {result['test_evaluations']}; "
        f"study trials left RUNNING: {result['study_running']} ({result['runs']} driver runs, "
        f"{result['wall_s']:.0f} s)", flush=True)
    return result


def _drive(command: list[str], log: Path, aim: str | None, rng: random.Random
           ) -> tuple[int, signal.Signals | None, str, str]:
    """One driver run; with `aim`, a signal at a random moment of that phase (at once if the run went past it).
    Returns the exit code, the signal sent (None if the run ended first), where it landed and what was printed."""
    kind = rng.choice((signal.SIGKILL, signal.SIGINT)) if aim else None
    low, high = WITHIN_S.get(aim or "", (0.0, 0.0))
    delay = rng.uniform(low, high)
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        begun, due, where = time.time(), None, ""
        while proc.poll() is None and time.time() - begun < RUN_LIMIT_S:
            time.sleep(0.005)
            if aim is None:
                continue
            now = phase(log.read_text())
            if due is None and (aim == "start" or _reached(now, aim)):
                due = time.time() + delay
            if due is not None and time.time() >= due and proc.poll() is None:
                where = phase(log.read_text())
                os.killpg(proc.pid, kind)
                break
        else:
            if proc.poll() is None:  # never ended by itself
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return -1, None, "", log.read_text() + "\nhung: no exit in RUN_LIMIT_S"
            return proc.returncode, None, "", log.read_text()
        try:
            code = proc.wait(timeout=300)
        except subprocess.TimeoutExpired:  # an interrupt that hangs is a fault not survived
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return -1, kind, where, log.read_text() + "\nhung after the signal"
    return code, kind, where, log.read_text()


def _reached(now: str, aim: str) -> bool:
    return now == "exit" or PHASES.index(now) >= PHASES.index(aim)


def _judge(code: int, kind: signal.Signals, where: str, text: str) -> str | None:
    """Why a run's end after `kind` is not what the command promises (None if it is): a kill ends it; an interrupt
    ends it with 130 (or Python's own SIGINT exit before tuner's first line), one line, no traceback."""
    if code == 0:  # a SIGINT after the command's work (the copy to the URI printed) changes nothing
        return None if kind == signal.SIGINT and where == "exit" else f"exit 0 after {kind.name}: the signal was lost"
    if code not in OK_EXITS or (kind == signal.SIGINT and code != 130 and where != "start"):
        return f"exit {code}: {text.strip().splitlines()[-1:] if text.strip() else ''}"
    if kind == signal.SIGINT and "Traceback (most recent call last)" in text:
        return "a traceback: " + text[text.rindex("Traceback"):][-600:].replace("\n", " | ")
    return None


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

"""The live lines tell the truth: one clock for the whole command, every phase named, ended trials counted by
status, the best so far as tuner would choose it (a mean over seeds), a smoke run marked, Ray's start-up notices
kept in the run folder."""

import json
import os
import re
import subprocess
import sys
import textwrap

import pandas as pd

from tuner.sweep import cli as sweep_cli
from sweep_helpers import TINY, write_sweep

CLOCK = re.compile(r"^\[(?:(\d+)h)?(\d+)m(\d+)s\] ")


def progress_lines(printed: str) -> list[str]:
    return [line for line in printed.splitlines() if CLOCK.match(line)]


def seconds(line: str) -> int:
    hours, minutes, secs = CLOCK.match(line).groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(secs)


def test_lines_share_one_clock_name_the_phases_and_show_tuners_choice(local_ray, tmp_path, capsys):
    path = write_sweep(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={TINY}, space={{"lr": tune.loguniform(1e-3, 1e-1)}}, search="random",
                      trial_scheduler="none", num_samples=3, max_epochs=2, seeds=[0, 1], confirm_top=1)
    """)
    assert sweep_cli.main([str(path), "--results", str(tmp_path / "run"), "--no-report"]) == 0
    printed = capsys.readouterr().out
    lines = progress_lines(printed)
    clocks = [seconds(line) for line in lines]
    assert clocks == sorted(clocks)  # the confirm phase does not restart the clock
    search = [line for line in lines if "confirm" not in line]
    confirm = [line for line in lines if "confirm" in line]
    assert search and confirm and all(" search " in line for line in search)
    assert all(" search 3/3 · confirm " in line for line in confirm)
    assert "3 finished" in search[-1] and "confirm 1/1 · 0 running · 1 finished" in confirm[-1]
    best = json.loads((tmp_path / "run" / "best.json").read_text())
    mean = f"best val_acc {best['seeds']['mean']:.2%} mean of 2 seeds (trial {best['trial_id']}, "
    assert mean in confirm[-1]  # the best so far is tuner's choice: the confirmed mean, not a single seed
    table = printed[printed.index("#  trial"):].splitlines()
    assert table[1].split()[1] == best["trial_id"]  # the final table names each configuration's trial


def test_a_smoke_run_says_so_and_rays_start_up_notices_stay_in_the_run_folder(tmp_path):
    path = write_sweep(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={TINY}, space={{"lr": tune.loguniform(1e-3, 1e-1)}}, search="random",
                      trial_scheduler="none", num_samples=8, max_epochs=3)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("RAY_AUTH_MODE", None)  # token authentication as Ray sets it: tuner never switches it off
    done = subprocess.run([sys.executable, "-m", "tuner.sweep", str(path), "--smoke", "--no-dashboard",
                           "--no-report"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("tiny-smoke-")
    lines = progress_lines(done.stdout)
    assert lines and all("SMOKE TEST" in line for line in lines)
    assert "SMOKE TEST" in done.stdout[done.stdout.index("chosen:") - 200:]
    assert json.loads((run_dir / "run.json").read_text())["smoke"] is True
    assert "RAY_AUTH_MODE" not in done.stdout + done.stderr
    assert (run_dir / "ray_start.log").exists()


CRASHES = '''
import ray
from torch import nn


class Crashes(nn.Module):
    """Trains, or raises in a trial's forward pass (a Ray actor's): the checks before Ray build it and pass."""

    def __init__(self, channels, num_classes, fail):
        super().__init__()
        self.head, self.fail = nn.Linear(channels, num_classes), fail

    def forward(self, x):
        if self.fail and ray.is_initialized() and ray.get_runtime_context().get_actor_id() is not None:
            raise RuntimeError("the forward pass failed in a trial\\nmore detail on a second line")
        return self.head(x.mean((2, 3)))


def crashes(image_shape, num_classes, fail=0):
    return Crashes(image_shape[0], num_classes, fail)
'''


def test_a_trial_that_crashes_is_announced_as_it_happens(local_ray, tmp_path, capsys):
    """A trial that raises ends ERROR (max_failures=0: not retried) and its live line says so at once: its
    message's line and where the traceback is, counted as an error; the sweep goes on."""
    path = write_sweep(tmp_path, CRASHES + textwrap.dedent('''
        sweep = Sweep(data="synthetic", model=crashes, fixed={"batch_size": 100},
                      space={"model.fail": tune.grid_search([1, 0])}, search="grid", trial_scheduler="none",
                      max_epochs=1, max_failures=0)
    '''))
    out = tmp_path / "run"
    assert sweep_cli.main([str(path), "--results", str(out), "--no-report"]) == 0
    printed = capsys.readouterr().out
    trials = pd.read_csv(out / "trials.csv").set_index("config/model.fail")
    crashed = trials.loc[1, "trial_id"]
    assert trials.loc[1, "status"] == "ERROR" and trials.loc[0, "status"] == "TERMINATED"
    assert "the forward pass failed" in (out / "errors" / f"{crashed}.txt").read_text()
    assert trials.loc[1, "error"] == "RuntimeError: the forward pass failed in a trial"  # the same line as live
    live = progress_lines(printed[:printed.index("#  trial")])  # printed while the sweep ran, before its table
    announced = [line for line in live if f"trial {crashed} ERROR" in line]
    assert len(announced) == 1, "the crash has no live line of its own"
    line = announced[0]
    assert "RuntimeError: the forward pass failed in a trial" in line and "second line" not in line
    assert f"errors/{crashed}.txt" in line and "1 ERROR" in line

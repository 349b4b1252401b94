"""Sweeps that survive failures, with real Ray processes on this machine: a worker node dies
mid-trial, the driver is SIGKILLed, a trial raises or its process is killed (as the OOM killer does).

Each test prints the seconds lost to its failure (work redone plus restart); run with -s to see them.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from sweep_helpers import LOOPBACK_ENV, loopback_cluster, sweep_command, trial_results, write_sweep

SLOW_TRIALS = '{"hidden": (256, 256), "batch_size": 10, "scheduler": "none"}'  # 0.3-1 s an epoch on one core


class Watch:
    """Polls a run folder every 0.1 s and remembers when each trial's n-th result first appeared."""

    def __init__(self, run_dir: Path):
        self.run_dir, self.seen = run_dir, {}

    def results(self) -> dict[str, list[dict]]:
        now, found = time.time(), trial_results(self.run_dir)
        for trial_id, records in found.items():
            for index in range(len(records)):
                self.seen.setdefault((trial_id, index), now)
        return found

    def until(self, condition, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if condition(self.results()):
                return
            if proc is not None and proc.poll() is not None:
                pytest.fail(f"the sweep ended (exit {proc.returncode}) before {what}")
            time.sleep(0.1)
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")

    def restarted(self, trial_id: str, dead_pid: int) -> tuple[int, float]:
        """Waits for the trial's first report from a new process (the one from before the failure may still
        have reported once more); returns that report's index and the wall time lost: from the last report
        of the dead process to it, less that epoch's own training time (partial epoch redone plus restart)."""
        def new_process(found) -> bool:
            return any(r["pid"] != dead_pid for r in found.get(trial_id, []))

        self.until(new_process, 240, "a report from the restarted trial")
        records = trial_results(self.run_dir)[trial_id]
        first = next(i for i, r in enumerate(records) if r["pid"] != dead_pid)
        lost = self.seen[(trial_id, first)] - self.seen[(trial_id, first - 1)] - records[first]["epoch_time_s"]
        return first, lost


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def process_gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def test_worker_node_dies_and_the_trial_resumes_from_its_checkpoint_elsewhere(tmp_path, capsys):
    cluster = loopback_cluster()
    try:
        workers = [cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1") for _ in range(3)]
        cluster.wait_for_nodes()
        sweep_file = write_sweep(tmp_path, f"""
            sweep = Sweep(data="synthetic", fixed={SLOW_TRIALS}, space={{"lr": tune.grid_search([1e-3, 3e-3])}},
                          search="grid", trial_scheduler="none", max_epochs=5, max_failures=1)
        """)
        out = tmp_path / "run"
        proc = subprocess.Popen(sweep_command(sweep_file, out, "--address", cluster.address),
                                env={**os.environ, **LOOPBACK_ENV})
        watch, midway = Watch(out), {}

        def a_trial_is_midway(found) -> bool:
            for trial_id, records in found.items():
                if 2 <= records[-1]["epoch"] < 4:
                    midway.update({**records[-1], "trial_id": trial_id})
                    return True
            return False

        watch.until(a_trial_is_midway, 240, "a trial reported two epochs", proc)
        raylet = parent_pid(midway["pid"])  # trial processes are children of their node's raylet
        node = next(w for w in workers if w.all_processes["raylet"][0].process.pid == raylet)
        cluster.remove_node(node, allow_graceful=False)
        first_new, lost = watch.restarted(midway["trial_id"], midway["pid"])
        assert proc.wait(timeout=300) == 0
    finally:
        cluster.shutdown()

    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 2 and trials["trial_id"].is_unique
    assert (trials["status"] == "TERMINATED").all() and (trials["epochs"] == 5).all()
    records = trial_results(out)[midway["trial_id"]]
    epochs = [r["epoch"] for r in records]
    assert epochs == [1, 2, 3, 4, 5], epochs  # continued after the failure, never restarted from epoch 1
    resumed = records[first_new]
    assert resumed["epoch"] == records[first_new - 1]["epoch"] + 1 and process_gone(midway["pid"])
    history = pd.read_csv(out / "history.csv")
    assert len(history) == 10 and not history.duplicated(["trial_id", "epoch"]).any()
    with capsys.disabled():
        print(f"\nnode death after epoch {resumed['epoch'] - 1}: resumed at epoch {resumed['epoch']} on another "
              f"node, {lost:.1f} s lost (partial epoch redone + restart)")


SIGKILL_GRID = f"""
    sweep = Sweep(data="synthetic", fixed={SLOW_TRIALS}, space={{"lr": tune.grid_search([1e-3, 2e-3, 3e-3, 4e-3])}},
                  search="grid", trial_scheduler="none", max_epochs=4)
"""


def snapshot_epochs(text: str) -> dict[str, int]:
    """The epoch of each trial's last result in a Ray Tune experiment snapshot (ray/experiment_state-*.json)."""
    trials = json.loads(text)["trial_data"]
    return {json.loads(trial)["trial_id"]: json.loads(meta)["last_result"].get("epoch", 0) for trial, meta in trials}


def test_killed_driver_resumes_to_the_run_an_uninterrupted_sweep_writes_even_from_a_snapshot_behind_its_trials(
        tmp_path, capsys):
    """Ray copies its experiment snapshot and the trials' result.json files into the run folder together, in a
    background thread, while a trial's process writes each new checkpoint there at once and the driver then deletes
    the one before: a driver killed in between leaves a run folder that records fewer epochs than the trials'
    checkpoints hold, and a snapshot naming a deleted checkpoint. This kill leaves one so made: the snapshot the run
    folder held when every started trial had reported fewer epochs than at the kill, with the results it recorded."""
    sweep_file = write_sweep(tmp_path, SIGKILL_GRID)
    reference, out = tmp_path / "reference", tmp_path / "killed"
    started = time.time()
    subprocess.run(sweep_command(sweep_file, reference), check=True, capture_output=True)
    uninterrupted_s = time.time() - started

    started = time.time()
    proc = subprocess.Popen(sweep_command(sweep_file, out), start_new_session=True)
    snapshots: list[tuple[dict[str, int], str, str]] = []  # (epochs, name, text): each snapshot the run folder held

    def one_done_one_midway(found) -> bool:
        for path in sorted((out / "ray").glob("experiment_state-*.json"))[-1:]:
            try:
                text = path.read_text()
                epochs = snapshot_epochs(text)
            except (ValueError, KeyError):  # Ray is writing it
                continue
            if not snapshots or snapshots[-1][2] != text:
                snapshots.append((epochs, path.name, text))
        last = [records[-1]["epoch"] for records in found.values()]
        return 4 in last and any(2 <= e < 4 for e in last)

    Watch(out).until(one_done_one_midway, 240, "one trial finished and another one midway", proc)
    before = trial_results(out)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = time.time()
    behind = [(epochs, name, text) for epochs, name, text in snapshots
              if all(1 <= epochs.get(t, 0) < records[-1]["epoch"] for t, records in before.items())]
    assert behind, f"no snapshot behind every trial: {[s[0] for s in snapshots]}, trials at {before}"
    epochs, name, text = behind[-1]
    for snapshot in (out / "ray").glob("experiment_state-*.json"):
        snapshot.unlink()
    (out / "ray" / name).write_text(text)
    for trial_id in before:  # the results Ray had copied with that snapshot
        folder = out / "ray" / f"trial_{trial_id}"
        lines = (folder / "result.json").read_text().splitlines()[: epochs[trial_id]]
        (folder / "result.json").write_text("".join(line + "\n" for line in lines))
        rows = (folder / "progress.csv").read_text().splitlines()[: epochs[trial_id] + 1]
        (folder / "progress.csv").write_text("".join(row + "\n" for row in rows))

    resumed = subprocess.run([sys.executable, "-m", "tuner.sweep", "--resume", str(out), "--no-report",
                              "--no-dashboard"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    resume_s = time.time() - killed_at

    after = trial_results(out)
    assert set(before) <= set(after)
    for trial_id, records in after.items():
        assert [r["epoch"] for r in records] == [1, 2, 3, 4], (trial_id, [r["epoch"] for r in records])
    for trial_id, records in before.items():  # every epoch trained before the kill is reported, not trained again
        assert [r["epoch_time_s"] for r in after[trial_id][: len(records)]] == [r["epoch_time_s"] for r in records]

    trials, expected = pd.read_csv(out / "trials.csv"), pd.read_csv(reference / "trials.csv")
    assert trials["trial_id"].is_unique and set(trials["trial_id"]) == set(after)
    columns = ["config/lr", "status", "epochs", "val_acc", "val_loss", "best_epoch"]
    by_lr = lambda frame: frame[columns].sort_values("config/lr").reset_index(drop=True)
    pd.testing.assert_frame_equal(by_lr(trials), by_lr(expected))  # bit-for-bit: resumed runs end identically
    history = pd.read_csv(out / "history.csv")
    assert len(history) == 16 and not history.duplicated(["trial_id", "epoch"]).any()
    assert json.loads((out / "run.json").read_text())["resumed"] is True
    assert all(len(list(folder.glob("checkpoint_*"))) == 1 for folder in (out / "ray").glob("trial_*"))  # bounded disk
    lost = killed_at - started + resume_s - uninterrupted_s
    with capsys.disabled():
        print(f"\ndriver SIGKILL: uninterrupted {uninterrupted_s:.1f} s; killed after {killed_at - started:.1f} s, "
              f"resume {resume_s:.1f} s: {lost:.1f} s lost (a second Ray start; no epoch trained twice)")


@pytest.fixture
def local_ray():
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_a_trial_killed_every_time_is_retried_then_error_and_one_killed_once_recovers(local_ray, tmp_path, capsys):
    """Retries (max_failures) are for crashes and lost processes: a trial whose process dies at every attempt (as
    under a repeating OOM kill) is retried from its checkpoint, then recorded ERROR; one killed once recovers.
    (A configuration error is not retried: tests/test_sweep.py.)"""
    from tuner.sweep import cli as sweep_cli

    sweep_file = write_sweep(tmp_path, f"""
        sweep = Sweep(data="synthetic", fixed={SLOW_TRIALS}, space={{"lr": tune.grid_search([1e-3, 2e-3])}},
                      search="grid", trial_scheduler="none", max_epochs=16, max_failures=2)
    """)  # 16 epochs: each attempt of the doomed trial gets a few epochs in before its kill lands (result.json lags
    # the trial by an epoch or two), and three attempts must not add up to a finished trial
    out = tmp_path / "run"
    watch, killed, doomed = Watch(out), {}, []

    def records_of(found, lr: float) -> list[dict]:
        return next((r for r in found.values() if r[-1]["config"]["lr"] == lr), [])

    def kill_the_doomed_trial_at_every_attempt() -> None:  # SIGKILL, as the kernel's OOM killer sends it
        for _ in range(3):  # one try and two retries, each killed as soon as it reports
            watch.until(lambda found: bool(records_of(found, 2e-3)) and records_of(found, 2e-3)[-1]["pid"] not in
                        doomed, 240, "the doomed trial reported from a new process")
            pid = records_of(trial_results(out), 2e-3)[-1]["pid"]
            doomed.append(pid)
            os.kill(pid, signal.SIGKILL)

    def kill_the_other_trial_once() -> None:
        def midway(found) -> bool:
            records = records_of(found, 1e-3)
            if records and records[-1]["epoch"] >= 2:
                killed.update({**records[-1], "trial_id": next(t for t, r in found.items() if r is records)})
                return True
            return False

        watch.until(midway, 240, "the lr=1e-3 trial reported two epochs")
        os.kill(killed["pid"], signal.SIGKILL)
        killed["first_new"], killed["lost"] = watch.restarted(killed["trial_id"], killed["pid"])

    threads = [threading.Thread(target=target, daemon=True)
               for target in (kill_the_doomed_trial_at_every_attempt, kill_the_other_trial_once)]
    for thread in threads:
        thread.start()
    assert sweep_cli.main([str(sweep_file), "--results", str(out), "--no-report"]) == 0
    for thread in threads:
        thread.join(timeout=5)

    trials = pd.read_csv(out / "trials.csv").set_index("config/lr")
    assert len(doomed) == 3
    assert trials.loc[2e-3, "status"] == "ERROR" and trials.loc[2e-3, "failures"] == 3  # 1 try + 2 retries
    assert trials.loc[1e-3, "status"] == "TERMINATED" and trials.loc[1e-3, "epochs"] == 16
    assert trials.loc[1e-3, "failures"] == 1
    records = trial_results(out)[killed["trial_id"]]
    assert [r["epoch"] for r in records] == list(range(1, 17))
    assert records[killed["first_new"]]["epoch"] > 1  # the restarted process began after its checkpoint
    assert json.loads((out / "best.json").read_text())["searched"]["lr"] == 1e-3
    with capsys.disabled():
        after = records[killed["first_new"]]["epoch"] - 1
        print(f"\ntrial SIGKILL after epoch {after}: {killed['lost']:.1f} s lost (partial epoch redone + restart)")

"""--resume mid-bracket of a budgeted search that promotes by continuation: the interrupted search goes on where it
stood; promotions proposed after the resume still find the end-of-rung state of the trial they continue (the
interrupted phase keeps its continuable trials' checkpoints whole), and no epoch is lost or trained twice."""

import signal
import subprocess
import sys

import pandas as pd
import torch

from sweep_helpers import sweep_command, trial_results, write_sweep
from test_fault_tolerance import Watch
from test_sweep import journal_studies

CONTINUE_SWEEP = """
    sweep = Sweep(data="synthetic", fixed={"hidden": (256, 256), "batch_size": 10, "scheduler": "cosine"},
                  space={"lr": tune.loguniform(1e-4, 1e-2)}, search="budgeted", grace_period=1, reduction_factor=3,
                  num_samples=3, max_epochs=9, search_options={"promotion": "continue"})
"""


def test_resume_mid_bracket_continues_every_promotion_and_repeats_nothing(local_ray, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(sweep_command(write_sweep(tmp_path, CONTINUE_SWEEP), out), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def rung_1_ends(found) -> bool:  # the continued trial at rung 1 (epochs 2-3) reports its last epoch: the top
        return any(records[0]["epoch"] == 2 and records[-1]["epoch"] == 3 for records in found.values())  # rung's
        #   promotion, which continues it, is about to start

    Watch(out).until(rung_1_ends, 300, "the rung-1 trial's last epoch", proc)
    proc.send_signal(signal.SIGINT)
    printed = proc.communicate(timeout=240)[0]
    assert proc.returncode == 130, printed[-3000:]
    before = trial_results(out)
    resumed = subprocess.run([sys.executable, "-m", "tuner.sweep", "--resume", str(out), "--no-report",
                              "--no-dashboard"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    trials = pd.read_csv(out / "trials.csv").set_index("trial_id")
    search = trials[trials["phase"] == "search"]
    assert (search["status"] == "TERMINATED").all(), search[["status", "rung", "epochs", "error"]]
    assert sorted(search["rung"].value_counts().items()) == [(0, 3), (1, 1), (2, 1)]
    history = pd.read_csv(out / "history.csv")
    assert not history.duplicated(["trial_id", "epoch"]).any()
    budgets = {0: 1, 1: 3, 2: 9}
    for trial_id, row in search[search["rung"] > 0].iterrows():  # each promotion trains the epochs it adds, once
        donor = row["continued_from"]
        assert search.loc[donor, "rung"] == row["rung"] - 1, (trial_id, donor)
        epochs = history.loc[history["trial_id"] == trial_id, "epoch"].tolist()
        assert epochs == list(range(budgets[row["rung"] - 1] + 1, budgets[row["rung"]] + 1)), (trial_id, epochs)
    after = trial_results(out)
    for trial_id, records in before.items():  # what ran before the signal is kept, not retrained from epoch 1
        assert [r["epoch"] for r in after[trial_id]][:len(records)] == [r["epoch"] for r in records]
    studies = journal_studies(out)  # the journal, continued by the resumed search, holds each rung's results once
    for rung, name in enumerate(["tiny rung 0 (1 epochs)", "tiny rung 1 (3 epochs)", "tiny"]):
        told = [t.user_attrs["tuner.trial_id"] for t in studies[name]]
        assert sorted(told) == sorted(search.index[search["rung"] == rung]), (name, told)
    states = list((out / "ray").glob("trial_*/checkpoint_*/state.pt"))
    assert len(states) >= 5
    for state in states:  # the phase over, their states are slimmed
        assert "optimizer" not in torch.load(state, weights_only=True), state

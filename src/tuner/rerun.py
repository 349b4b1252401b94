"""Retrain one trial of a run folder outside Ray, from its saved configuration and seed, and print its curve
beside the one history.csv recorded:

    python -m tuner.rerun RUN_DIR TRIAL_ID [--epochs E] [--device cpu]     (or: tuner rerun ...)

The trial's configuration comes from Ray's record of it (RUN_DIR/ray*/trial_ID/params.json), the data from the
sweep's spec.json, and the thread count from the trial's own reports: on the same device (and CPU) the rerun
matches the recorded run epoch for epoch.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from tuner import runfolder, runspec
from tuner.errors import UserError, run_cli
from tuner.runfolder import HISTORY_FILE, SPEC_FILE, training_values
from tuner.sweep import codedirs
from tuner.train import datasets, usercode
from tuner.train.config import TrainConfig
from tuner.train.loop import fit
from tuner.train.paths import pinned


def trial_record(run_dir: Path, trial_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The trial's Tune config, and how it trained: the thread count and training path of its first result."""
    folders = runfolder.trial_folders(run_dir, trial_id)
    if not folders:
        known = sorted(runfolder.trial_id_of(p) for p in runfolder.trial_folders(run_dir))
        raise UserError(f"{run_dir} has no trial {trial_id!r}; its trials: {', '.join(known) or 'none'}")
    folder = folders[0]
    try:
        config = json.loads((folder / "params.json").read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{folder}: cannot read its configuration (params.json): {exc}") from None
    results = folder / "result.json"
    first = next((line for line in results.read_text().splitlines() if line.strip()), "") if results.exists() else ""
    return config, json.loads(first) if first else {}


def rerun(run_dir: Path, trial_id: str, epochs: int | None = None, device: str = "cpu",
          data_dir: str | None = None) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """(the rerun's epoch records, the recorded history of the trial)."""
    if not (run_dir / SPEC_FILE).exists():
        raise UserError(f"{run_dir} is not a tuner run folder (no {SPEC_FILE})")
    saved = runspec.read_spec(run_dir)
    config, first = trial_record(run_dir, trial_id)
    if config.get(runfolder.CONTINUED_FROM):
        raise UserError(f"trial {trial_id} continued trial {config[runfolder.CONTINUED_FROM]}'s weights (a budgeted "
                        "search's promotion by continuation): a rerun from its configuration alone would train from "
                        "scratch; rerun the trial it continued")
    codedirs.use_code(run_dir)  # the local packages it shipped, as copied into the run folder
    usercode.load_sweep_module(run_dir / runfolder.SWEEP_FILE, training_values(config).get("model"),
                               saved.sweep.get("data"))  # the sweep file's own model or data functions
    values = training_values(config)
    if epochs is not None:
        if epochs < 1:
            raise UserError(f"--epochs must be at least 1, got {epochs}")
        values["epochs"] = epochs
    cfg = TrainConfig.from_dict({**values, "device": device})
    if first.get("training_path"):  # the precision and layout it trained on, not what the cache says today
        cfg = pinned(cfg, first["training_path"])
    dataset = datasets.load_sized(saved.sweep.get("data", cfg.data), int(saved.sweep.get("subset") or 0), data_dir)
    if first.get("threads"):
        torch.set_num_threads(int(first["threads"]))
    records: list[dict[str, Any]] = []
    recorded = _history(run_dir, trial_id)

    def show(record: dict[str, Any], _state: Any) -> None:
        records.append(record)
        print(_line(record, recorded), flush=True)

    print(f"rerunning trial {trial_id} on {device} with {torch.get_num_threads()} threads: "
          + ", ".join(f"{k}={v}" for k, v in sorted(values.items()) if k not in ("data",)), flush=True)
    fit(cfg, dataset, on_epoch=show)
    return records, recorded


def _history(run_dir: Path, trial_id: str) -> pd.DataFrame:
    path = run_dir / HISTORY_FILE
    if not path.exists():
        return pd.DataFrame(columns=["epoch", "val_acc", "val_loss"])
    history = pd.read_csv(path)
    return history[history["trial_id"].astype(str) == trial_id].set_index("epoch")


def _line(record: dict[str, Any], recorded: pd.DataFrame) -> str:
    epoch = record["epoch"]
    text = f"epoch {epoch}: val_acc {record['val_acc']:.4f} val_loss {record['val_loss']:.4f}"
    if epoch in recorded.index:
        then = recorded.loc[epoch]
        text += (f"   recorded: val_acc {then['val_acc']:.4f} val_loss {then['val_loss']:.4f}   "
                 f"{'same' if reproduced(record, recorded) else 'DIFFERENT'}")
    else:
        text += "   (not recorded)"
    return text


def reproduced(record: dict[str, Any], recorded: pd.DataFrame) -> bool:
    """The rerun's epoch has the recorded epoch's val_acc (to float noise)."""
    return math.isclose(record["val_acc"], recorded.loc[record["epoch"], "val_acc"], abs_tol=1e-12)


EXAMPLES = """examples:
  tuner rerun runs/mnist_mlp-20261130-081500 41c5a_00003              the trial again, its curve beside the record
  tuner rerun runs/mnist_mlp-20261130-081500 41c5a_00003 --epochs 2   only its first two epochs
  tuner rerun runs/mnist_mlp-20261130-081500 41c5a_00003 --device cuda   on a GPU (close, not bit-equal)
(trial ids: the ranking's `trial` column, or the folders under RUN_DIR/ray*/)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tuner rerun", description=__doc__, epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir")
    parser.add_argument("trial_id")
    parser.add_argument("--epochs", type=int, help="train this many epochs instead of the trial's own")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    parser.add_argument("--data-dir", help=f"data root (default ${datasets.DATA_ENV}, else ~/.cache/tuner)")
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run folder {run_dir} does not exist")
    records, recorded = rerun(run_dir, args.trial_id, args.epochs, args.device, args.data_dir)
    compared = [r for r in records if r["epoch"] in recorded.index]
    same = sum(reproduced(r, recorded) for r in compared)
    print(f"{same} of {len(compared)} recorded epochs reproduced exactly")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

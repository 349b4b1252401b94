"""Packing a table: every trial's best-epoch weights evaluated on the test set once, and the run folder's files with
those test accuracies written into one compressed file; the `tables` command.

    python -m tuner.tables pack runs/tables/s4_mnist_lr benchmarks/tables/s4_mnist_lr.tar.gz
    python -m tuner.tables show benchmarks/tables/s4_mnist_lr.tar.gz

The only part of tuner.replay that touches torch: it evaluates checkpoints.
"""

from __future__ import annotations

import argparse
import io
import sys
import tarfile
from pathlib import Path

import pandas as pd

from tuner import runfolder
from tuner.errors import UserError, run_cli
from tuner.replay.tables import PACKED_FILES, TEST_FILE, Table, describe, load, read_folder
from tuner.runfolder import STATE_FILE


def checkpoint_state(run_dir: Path, trial_id: str) -> Path:
    """The last checkpoint's state file of a trial in a run folder's Ray experiment."""
    folders = [p for trial in runfolder.trial_folders(run_dir, trial_id) for p in trial.glob("checkpoint_*")
               if (p / STATE_FILE).exists()]
    if not folders:
        raise UserError(f"{run_dir}: trial {trial_id} has no checkpoint left to evaluate")
    return max(folders, key=lambda p: int(p.name.rsplit("_", 1)[1])) / STATE_FILE


def pack(run_dir: Path, out: Path, data_dir: str | None = None, device: str = "auto", test: bool = True) -> Table:
    """Check that the run folder is a table, evaluate every trial's best-epoch weights on the test set once, and
    write the compressed table (spec.json, sweep.py, trials.csv, history.csv, test.csv, run.json). `test=False`
    packs without test.csv: a budgeted table's short runs, which a replay reads for their validation curves only."""
    table = load(run_dir)
    files = read_folder(run_dir)
    if test:
        files[TEST_FILE] = _test_accuracies(run_dir, table, data_dir, device).to_csv(index=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:gz") as tar:
        for name in PACKED_FILES:
            if name in files:
                payload = files[name].encode()
                info = tarfile.TarInfo(f"{table.name}/{name}")
                info.size, info.mtime = len(payload), 0
                tar.addfile(info, io.BytesIO(payload))
    return load(out)


def _test_accuracies(run_dir: Path, table: Table, data_dir: str | None, device: str) -> pd.DataFrame:
    from tuner.train import datasets
    from tuner.train.evaluation import evaluate_split, load_file, load_model

    sweep = table.sweep
    dataset = datasets.load_sized(sweep.get("data", "mnist"), int(sweep.get("subset") or 0), data_dir)
    rows = []
    for index, trial_id in enumerate(table.trials["trial_id"].astype(str), 1):
        state = load_file(checkpoint_state(run_dir, trial_id))
        model, normalizer, cfg = load_model(state, dataset.image_shape, device)
        result = evaluate_split(model, normalizer, cfg, dataset.x_test, dataset.y_test, dataset.num_classes,
                                      device)
        rows.append({"trial_id": trial_id, "test_acc": result.acc, "test_loss": result.loss})
        print(f"[{index}/{len(table.trials)}] trial {trial_id}: test_acc {result.acc:.2%}", flush=True)
    return pd.DataFrame(rows)


EXAMPLES = """examples:
  tuner tables show benchmarks/tables/s0_cifar_lr.tar.gz       its grid, seeds, best configuration and statuses
  tuner tables pack runs/tables/s4_mnist_lr benchmarks/tables/s4_mnist_lr.tar.gz     a finished grid as a table
then: tuner tables pack --help (--no-test packs a budgeted table's short runs without test accuracies)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tuner tables", description=__doc__, epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="evaluate every trial on the test set and write a .tar.gz table")
    packing.add_argument("run_dir")
    packing.add_argument("out")
    packing.add_argument("--data-dir", help="data root (default $TUNER_DATA, else ~/.cache/tuner)")
    packing.add_argument("--no-test", action="store_true", help="no test accuracies: a budgeted table's short runs "
                                                                  "(replays read their validation curves only)")
    showing = commands.add_parser("show", help="summarise a table")
    showing.add_argument("table")
    args = parser.parse_args(argv)
    if args.command == "pack":
        run_dir = Path(args.run_dir)
        if not run_dir.is_dir():
            raise UserError(f"run folder {run_dir} does not exist")
        print(describe(pack(run_dir, Path(args.out), args.data_dir, test=not args.no_test)))
    else:
        print(describe(load(args.table)))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

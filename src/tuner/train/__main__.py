"""python -m tuner.train --set data=mnist --set model=mlp --set epochs=3: train one configuration, no Ray, and print
per-epoch metrics as key=value lines (readable by Katib's stdout collector)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from tuner.errors import run_cli
from tuner.train import datasets
from tuner.train.checks import validate
from tuner.train.config import TrainConfig, field_names, parse_assignments
from tuner.train.evaluation import evaluate_split
from tuner.train.fastpath import Budget, choose
from tuner.train.loop import fit, trial_steps


def format_record(record: dict[str, Any], total_epochs: int) -> str:
    return (f"epoch {record['epoch']}/{total_epochs} train_loss={record['train_loss']:.4f} "
            f"train_acc={record['train_acc']:.4f} val_loss={record['val_loss']:.4f} val_acc={record['val_acc']:.4f} "
            f"lr={record['lr']:.3g} epoch_time_s={record['epoch_time_s']:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tuner train", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train one configuration, no Ray, and print per-epoch metrics (key=value lines, readable by "
                    "Katib's stdout collector). python -m tuner.train is the same.",
        epilog="examples:\n"
               "  tuner train --set data=mnist --set model=mlp --set epochs=3\n"
               "  tuner train --set data=cifar10 --set model=cnn --set optimizer=sgd --set lr=0.05 "
               "--set momentum=0.9 --test\n"
               "  tuner train --set data=imagefolder:/path/to/images@32 --set model=cnn --set epochs=5")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any TrainConfig field, e.g. --set model=cnn --set lr=0.01; fields: "
                             + ", ".join(field_names()))
    parser.add_argument("--data-dir", help=f"data root (default ${datasets.DATA_ENV}, else ~/.cache/tuner)")
    parser.add_argument("--test", action="store_true", help="evaluate the final model once on the test set")
    parser.add_argument("--save", metavar="PATH", help="write the final state (weights, optimizer, config) here")
    args = parser.parse_args(argv)
    cfg = TrainConfig.from_dict(parse_assignments(args.set))
    validate(cfg)
    dataset = datasets.load(cfg.data, args.data_dir)
    print(datasets.summary(dataset if not cfg.subset else dataset.subset(cfg.subset, seed=cfg.split_seed),
                           cfg.val_fraction, cfg.split_seed), flush=True)
    started = time.perf_counter()
    steps = trial_steps(cfg, dataset)
    choice = choose(cfg, dataset, steps, Budget(steps))
    print(f"training path: {choice.describe()}", flush=True)

    def show(record: dict[str, Any], _state: Callable) -> None:
        print(format_record(record, cfg.epochs), flush=True)

    result = fit(cfg, dataset, on_epoch=show)
    print(f"model {cfg.model}: {result.num_params:,} parameters on {result.device} ({result.precision})")
    best = result.best
    print(f"status={result.status} best_epoch={best['epoch']} val_acc={best['val_acc']:.4f} "
          f"val_loss={best['val_loss']:.4f} train_time_s={time.perf_counter() - started:.1f}")
    if args.test:
        test = evaluate_split(result.model, result.normalizer, cfg, dataset.x_test, dataset.y_test,
                              dataset.num_classes, cfg.device)
        print(f"test_acc={test.acc:.4f} test_loss={test.loss:.4f}")
    if args.save:
        torch.save(result.state, args.save)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

"""The `tuner` command: `tuner sweep|train|analysis|export|bench|rerun|replay|tables ...`, the same flags as the
`python -m tuner.<command>` forms (which stay)."""

from __future__ import annotations

import importlib
import sys

from tuner import _starting
from tuner.errors import exit_with_error, run_cli

COMMANDS = {
    "sweep": ("tuner.sweep.cli", "run a sweep file (or --resume a run folder)"),
    "train": ("tuner.train.__main__", "train one configuration, no Ray"),
    "analysis": ("tuner.analysis.__main__", "rank a run folder's configurations and write its report"),
    "export": ("tuner.export", "write a Kubeflow Katib Experiment from a sweep file"),
    "bench": ("tuner.bench", "tuner's loop against the studies' loop; the sweep engine's overhead"),
    "rerun": ("tuner.rerun", "retrain one trial of a run folder outside Ray and compare its curve"),
    "replay": ("tuner.replay.__main__", "replay searches against recorded learning curves"),
    "tables": ("tuner.replay.packing", "pack or show a recorded learning-curve table"),
    "data": ("tuner.train.datasets", "load (and cache) a data set and print its summary"),
    "models": ("tuner.train.models", "list the models and their sizes"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: tuner COMMAND [options]   (tuner COMMAND --help for its options)", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_text}" for name, (_, help_text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        exit_with_error(f"unknown command {command!r}; choose one of: {', '.join(COMMANDS)}")
    _starting.install(f"tuner {command}")
    module = importlib.import_module(COMMANDS[command][0])  # torch and Ray, for most: seconds
    _starting.done()
    return run_cli(module.main, rest)


def entry() -> int:
    """The `tuner` script: main, then a signal while Python and Ray shut down is one line and exit 130."""
    return _starting.finish(main, "tuner")


if __name__ == "__main__":
    sys.exit(entry())

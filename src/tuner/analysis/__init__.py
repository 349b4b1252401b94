"""Rank a sweep's configurations and explain it: `python -m tuner.analysis RUN_DIR` writes RUN_DIR/report.html.

    from tuner.analysis import load_run, write_report
    run = load_run("runs/mnist_mlp-20261122-230000")   # RunData: trials, history, best, spec, ...
    write_report(run, top=10, compare="optimizer")
"""

from tuner.analysis.load import RunData, load_run
from tuner.analysis.report import write_report

__all__ = ["RunData", "load_run", "write_report"]

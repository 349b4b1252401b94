"""Rank a sweep's configurations and explain it: `python -m tuner.analysis RUN_DIR` writes RUN_DIR/report.html.

    from tuner.analysis import load_run, write_report
    run = load_run("runs/mnist_mlp-20261122-230000")   # RunData: trials, history, best, spec, ...
    write_report(run, top=10, compare="optimizer")

    load        a run folder read into one RunData (also a running or killed sweep's)
    report_tables   the report's tables;  plots: its figures;  importance: fANOVA;  report: report.html
    text        the ranking as the terminal prints it

Reading a run folder needs neither torch nor Ray: importing this package imports neither.
"""

from __future__ import annotations

from tuner import _lazy

_WHERE = {"RunData": "load", "load_run": "load", "write_report": "report", "ranking_table": "text"}
__all__ = ["RunData", "load_run", "write_report"]

__getattr__, __dir__ = _lazy.exports(__name__, _WHERE)

"""python -m tuner.analysis RUN_DIR [--top K] [--compare NAME] [--open]"""

from __future__ import annotations

import argparse
import sys
import webbrowser

from tuner.analysis import report_tables as tables
from tuner.analysis.load import load_run
from tuner.analysis.report import write_report
from tuner.errors import UserError, run_cli
from tuner.status import SweepEnd
from tuner.analysis.text import chosen_text, pareto_table, ranking_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tuner analysis", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Rank a sweep's configurations, print the chosen one and its test result, and write "
                    "RUN_DIR/report.html (python -m tuner.analysis is the same).",
        epilog="examples:\n  tuner analysis runs/mnist_mlp-20261130-081500 --open     the report in a browser\n"
               "  tuner analysis RUN_DIR --top 5 --compare scheduler     best configuration per scheduler\n"
               "  tuner analysis RUN_DIR                                 also a running or killed sweep's folder")
    parser.add_argument("run_dir", help="a run folder written by python -m tuner.sweep")
    parser.add_argument("--top", type=int, default=10, help="configurations in the ranking (default 10)")
    parser.add_argument("--compare", metavar="NAME", help="hyperparameter for the best-per-level comparison "
                                                          "(default: optimizer if searched)")
    parser.add_argument("--data-dir", help="data root for the sample-prediction images (default $TUNER_DATA)")
    parser.add_argument("--open", action="store_true", help="open the report in a browser")
    args = parser.parse_args(argv)
    if args.top < 1:
        raise UserError(f"--top must be at least 1, got {args.top}")
    run = load_run(args.run_dir)
    if args.compare and f"config/{args.compare}" not in run.trials:
        searched = ", ".join(c.removeprefix("config/") for c in run.config_columns) or "none"
        raise UserError(f"--compare {args.compare!r} was not searched in this run; searched: {searched}")
    print(ranking_table(run.trials, run.metric if run.metric in run.trials else "val_acc", args.top))
    if run.pareto.size:
        print(pareto_table(run.trials, run.objectives))
    for missing in run.missing:
        print(f"missing: {missing}")
    print("trials: " + ", ".join(f"{n} {s}" for s, n in tables.status_counts(run).items()))
    if run.best is None and (run.info or {}).get("ended_by") == SweepEnd.INTERRUPTED:
        print(f"interrupted: nothing chosen or tested yet; python -m tuner.sweep --resume {run.run_dir} finishes it")
    else:
        print(chosen_text(run.best, run.metric, finished=run.info is not None))
    path = write_report(run, args.top, args.compare, args.data_dir)
    print(f"report: {path}")
    if args.open:
        webbrowser.open(path.resolve().as_uri())
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

"""python -m tuner.replay TABLE [--strategies NAME,...] [--seeds N] [--workers W] [--json PATH] [--out DIR]

Replays searches against a recorded table (see tuner.replay); writes replay.md, replay.json and anytime.png.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from tuner.errors import UserError, run_cli
from tuner.replay import runner, tables
from tuner.replay.report import anytime_plot, markdown, to_json
from tuner.replay.strategies import BUDGETED, DEFAULT_STRATEGIES, STRATEGIES, load_strategies_file, parse_define


EXAMPLES = """examples:
  tuner replay benchmarks/tables/s0_cifar_lr.tar.gz --seeds 30 --workers 2     every strategy, 30 search seeds
  tuner replay benchmarks/tables/s4_mnist_lr.tar.gz --strategies tuner-default,ray-default --json replay.json
  tuner replay benchmarks/tables/s4_mnist_lr.tar.gz --budgets benchmarks/tables/s4_mnist_lr_budgets --strategies tuner-budgeted
  tuner replay benchmarks/tables/s1_mnist_schedules.tar.gz --define "asha3:base=tuner-asha,grace_period=3"
  tuner replay runs/mnist_mlp-20261206-101500 --seeds 10     your own finished grid: what would ASHA have found?
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tuner replay", description=runner.__doc__, epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", help="a packed table (.tar.gz) or a run folder whose trials ran without a trial "
                                      "scheduler")
    parser.add_argument("--strategies", help=f"comma-separated names (default: all of "
                                              f"{', '.join(DEFAULT_STRATEGIES)}; with --budgets also "
                                              f"{', '.join(BUDGETED)})")
    parser.add_argument("--budgets", metavar="TABLE,...", help="the same grid recorded at smaller max_epochs "
                                                               "(tables or run folders, comma-separated, or one "
                                                               "folder holding them): a budgeted table, for "
                                                               "budgeted searches")
    parser.add_argument("--define", action="append", default=[], metavar="NAME:key=value,...",
                        help="add a strategy, e.g. 'slow-asha:base=tuner-default,grace_period=5'; repeatable")
    parser.add_argument("--define-file", metavar="FILE.py", help="add the strategies a Python file defines as "
                                                                  "STRATEGIES = {NAME: {field: value}} (a strategy "
                                                                  "may bring its own space)")
    parser.add_argument("--seeds", type=int, default=10, help="search seeds per strategy (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="virtual workers: trials at once (default 2)")
    parser.add_argument("--processes", type=int, help="replays run in parallel in this many processes "
                                                      "(default: the CPU count)")
    parser.add_argument("--json", metavar="PATH", help="also write the summary as JSON here")
    parser.add_argument("--out", metavar="DIR", help="folder for replay.md, replay.json and anytime.png "
                                                     "(default runs/replay-<table>-<time>)")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.workers < 1:
        raise UserError("--seeds and --workers must be at least 1")
    defined = {**(load_strategies_file(args.define_file) if args.define_file else {}),
               **dict(parse_define(text) for text in args.define)}
    known = {**STRATEGIES, **defined}
    chosen = args.strategies or ",".join(DEFAULT_STRATEGIES + (BUDGETED if args.budgets else ()))
    names = [n.strip() for n in chosen.split(",") if n.strip()] + [n for n in defined if n not in chosen.split(",")]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(f"unknown strategy {unknown[0]!r}; built in: {', '.join(STRATEGIES)} (or --define it)")
    table = tables.load(args.table)
    print(tables.describe(table), flush=True)
    budgets = tables.load_budgets(table, budget_locations(args.budgets)) if args.budgets else {}
    for budget, short in sorted(budgets.items()):
        print(f"  budget {budget} epochs: {short.source} ({short.trial_epochs} trial-epochs)", flush=True)
    summaries = runner.run(table, {n: known[n] for n in names}, args.seeds, args.workers, args.processes,
                           progress=lambda line: print(line, flush=True), budgets=budgets)
    out = Path(args.out) if args.out else Path("runs") / f"replay-{table.name}-{datetime.now():%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    report = markdown(table, summaries, args.workers)
    data = to_json(table, summaries)
    (out / "replay.md").write_text(report + "\n")
    (out / "replay.json").write_text(json.dumps(data, indent=2, default=str))
    anytime_plot(table, summaries, out / "anytime.png")
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2, default=str))
    print("\n" + report + f"\n\nwritten: {out}/replay.md, replay.json, anytime.png")
    return 0


def budget_locations(text: str) -> list[str]:
    """--budgets: comma-separated tables, or one folder holding packed tables or run folders (not itself a table)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) == 1 and Path(parts[0]).is_dir() and not (Path(parts[0]) / tables.TRIALS_FILE).exists():
        inside = sorted(str(p) for p in Path(parts[0]).iterdir() if p.name.endswith(".tar.gz") or
                        (p / tables.TRIALS_FILE).exists())
        if not inside:
            raise UserError(f"--budgets {parts[0]}: no table in that folder")
        return inside
    if not parts:
        raise UserError("--budgets needs at least one table")
    return parts


if __name__ == "__main__":
    sys.exit(run_cli(main))

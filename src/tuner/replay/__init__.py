"""Replay: searches run against recorded learning curves instead of training.

    tables       a recorded table (a finished grid run, or one packed with each trial's test accuracy)
    controller   a virtual Ray Tune controller driving Ray's own search algorithms and trial schedulers
    strategies   STRATEGIES: named sets of Sweep fields to replay
    runner       one replay (search phase, then the confirm phase), and many in parallel processes
    report       what a replay reports: reached, trial-epochs to the target, spent, the anytime plot

`from tuner import replay; replay.run(...)` works as before. Importing this package imports neither torch nor
Ray: Ray's search algorithms and trial schedulers are imported when a replay runs them.

TABLE is a run folder whose trials ran without a trial scheduler (any grid run), or a packed table
(`python -m tuner.tables pack`); see tuner.replay.runner for how a replay drives Ray's objects.
"""

from __future__ import annotations

from tuner import _lazy

_WHERE = {"run": "runner", "replay_one": "runner", "replay_with_tune": "runner", "warm_study": "runner",
          "Incumbent": "runner", "TARGET_GAP": "runner", "Replay": "report", "Summary": "report",
          "to_json": "report", "markdown": "report", "anytime_plot": "report", "VirtualController": "controller",
          "STRATEGIES": "strategies", "DEFAULT_STRATEGIES": "strategies", "strategy_sweep": "strategies",
          "parse_define": "strategies", "load_strategies_file": "strategies", "main": "__main__"}

__getattr__, __dir__ = _lazy.exports(__name__, _WHERE)

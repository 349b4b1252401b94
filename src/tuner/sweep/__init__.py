"""The sweep: a Sweep (a sweep file) run with Ray Tune into a run folder.

    spec          the Sweep and the facts that follow from it (param space, trials, search and confirm seeds)
    load          a sweep file loaded, and the command line's changes (--set, --smoke)
    validate      every check before Ray starts (the space's configurations built on the meta device)
    budget        one cost model of an epoch: the ETA, and the plan a time budget buys
    engine        run, resume, grow: the phases of a sweep
    tuners        the Ray Tune objects of each phase
    trainable     the thin adapter from Ray Tune to tuner.train.fit
    progress, lifecycle   Tune callbacks: the live line; what ended each trial, and Ctrl-C
    writer        the run folder written at the end (trials.csv, best.json, the test evaluation)
    prune         an ended trial's checkpoints cut to what is still read, once its phase is over
    storage       run folders at a URI (s3://, gs://, file://)
    ray_session   the Ray a sweep runs on
    cli           python -m tuner.sweep
"""

from __future__ import annotations

from tuner import _lazy

_WHERE = {"Sweep": "spec", "RunOptions": "engine", "run": "engine",
          "resume": "engine", "main": "cli", "parser": "cli"}

__getattr__, __dir__ = _lazy.exports(__name__, _WHERE)

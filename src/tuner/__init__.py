"""tuner: hyperparameter sweeps for PyTorch image classifiers (Ray Tune + Optuna).

The package's layers, lowest first (docs/architecture.md):

    errors, status, select, runfolder   the vocabulary: errors, trial states, the selection rules, the run folder
    train          one configuration trained in plain PyTorch (config, data, models, optim, augment, the loop)
    search         search spaces, SEARCHES and TRIAL_SCHEDULERS, tuner's Optuna search, warm starts
    integrations   MLflow tracking, Katib export
    analysis       a run folder read, ranked and reported
    sweep          the Sweep, its checks, the engine that runs it with Ray Tune, the run-folder writer
    replay         searches replayed against recorded learning curves
    cli, bench, rerun, export   the commands;   api: tuner.run and tuner.load_run for notebooks and scripts

Public API: `from tuner import Sweep, TrainConfig, fit, run, load_run`. Names are looked up on first use, so
`import tuner` (and a sweep file's `from tuner import Sweep`) imports only what it needs.
"""

from __future__ import annotations

from tuner import _aliases, _lazy

_aliases.install()

_WHERE = {"Sweep": "tuner.sweep.spec", "TrainConfig": "tuner.train.config", "fit": "tuner.train.loop",
          "run": "tuner.api", "load_run": "tuner.api", "Run": "tuner.api",
          "Status": "tuner.status", "UserError": "tuner.errors"}
__all__ = sorted(_WHERE)

__getattr__, __dir__ = _lazy.exports(__name__, _WHERE)

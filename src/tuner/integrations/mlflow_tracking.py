"""Where users already look: MLflow runs, TensorBoard event files, a persistent Optuna study.

- MLflow (`--mlflow [URI]`): one parent run per sweep, one nested run per trial (params = its configuration,
  metrics per epoch, its status), the chosen trial tagged `tuner.chosen` with its test metrics. Logged live by a
  Tune callback through MLflow's own client; a resumed sweep finds its trials' runs again by their
  `tuner.trial_id` tag instead of opening new ones. Default URI: `sqlite:///RUN_DIR/mlflow.db`, which
  `mlflow ui --backend-store-uri sqlite:///RUN_DIR/mlflow.db` opens with nothing else started.
- TensorBoard: Ray Tune's own logger writes each trial's event file into RUN_DIR/ray*/trial_*/, so
  `tensorboard --logdir RUN_DIR` shows every trial's curves.
- Optuna: an Optuna search keeps its study in RUN_DIR/optuna.journal (tuner.search.optuna_search.study_storage;
  Optuna's journal file: appends only, so a killed driver leaves it whole), which `optuna-dashboard
  RUN_DIR/optuna.journal` shows while the sweep runs and after, and which `--resume` continues.
"""

from __future__ import annotations

import math
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
from ray.tune import Callback

from tuner.errors import UserError
from tuner.runfolder import MLFLOW_FILE, redact, trial_values
from tuner.status import Status, SweepEnd

METRICS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time_s")
TERMINAL = {Status.TERMINATED: "FINISHED", Status.STOPPED_EARLY: "FINISHED", Status.STOPPED_BY_BUDGET: "FINISHED",
            Status.DIVERGED: "FAILED", Status.STUCK: "FAILED", Status.ERROR: "FAILED", Status.INTERRUPTED: "KILLED",
            Status.RUNNING: "RUNNING"}  # MLflow's run status for each of tuner's


def mlflow_uri(option: str, run_dir: Path) -> str:
    """`--mlflow` alone: a SQLite store in the run folder; else the URI given (http(s)://, sqlite:///, file:...).
    A `user:password@` in an http(s) URI moves to MLflow's own variables (MLFLOW_TRACKING_USERNAME and _PASSWORD,
    unless set): the URI tuner keeps (spec.json, the Tune callback in tuner.pkl) holds no credential, and
    --resume reads them from the same variables."""
    if option == "default":
        return f"sqlite:///{(run_dir / MLFLOW_FILE).resolve()}"
    parts = urllib.parse.urlsplit(option)
    if parts.scheme in ("http", "https") and parts.username is not None:
        os.environ.setdefault("MLFLOW_TRACKING_USERNAME", urllib.parse.unquote(parts.username))
        if parts.password is not None:
            os.environ.setdefault("MLFLOW_TRACKING_PASSWORD", urllib.parse.unquote(parts.password))
        return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return option


def check_reachable(uri: str) -> None:
    """An MLflow tracking server must answer before Ray starts (MLflow's own client would retry for minutes)."""
    uri = redact(uri)  # the health check needs no credential, and an error line shows none
    uri = uri.replace("://***@", "://")
    if not uri.startswith(("http://", "https://")):
        if not uri.startswith(("sqlite:///", "file:", "postgresql", "mysql")) and "://" in uri:
            raise UserError(f"--mlflow {uri}: not a tracking URI MLflow reads (http://, sqlite:///, file:)")
        return
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=5) as answer:
            answer.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise UserError(f"--mlflow {uri}: no MLflow tracking server answers there ({exc})") from None


def start_parent(uri: str, experiment: str, sweep_name: str, run_dir: Path, params: dict[str, Any]) -> dict[str, str]:
    """The sweep's parent run; returns what spec.json keeps so that --resume logs into the same runs."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    if found is not None and found.lifecycle_stage == "deleted":  # MLflow refuses runs in a deleted experiment
        raise UserError(f"--mlflow {uri}: the MLflow experiment {experiment!r} (id {found.experiment_id}) is "
                        f"deleted; restore it (MLFLOW_TRACKING_URI={uri} mlflow experiments restore -x "
                        f"{found.experiment_id}), delete it for good (mlflow gc), or give the sweep another name")
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    run = client.create_run(experiment_id, run_name=f"{sweep_name} ({run_dir.name})",
                            tags={"tuner.run_dir": str(run_dir.resolve()), "tuner.role": "sweep"})
    client.log_batch(run.info.run_id, params=_params(params))
    return {"uri": uri, "experiment_id": experiment_id, "parent_run_id": run.info.run_id}


def reopen(info: dict[str, str]) -> None:
    """A resumed or grown sweep runs again: its parent run shows RUNNING until the sweep's end sets it again."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        MlflowClient(tracking_uri=info["uri"]).update_run(info["parent_run_id"], status="RUNNING")
    except MlflowException as exc:
        _warn(f"the sweep's parent run at {info['uri']} was not marked running again", exc)


def _params(values: dict[str, Any]) -> list[Any]:
    from mlflow.entities import Param

    return [Param(k, str(v)[:500]) for k, v in sorted(values.items()) if v is not None]


def _warn(what: str, exc: Exception) -> None:
    detail = " ".join(str(exc).split())
    print(f"warning: MLflow: {what} ({type(exc).__name__}: {detail[:300]}{'...' if len(detail) > 300 else ''})",
          file=sys.stderr, flush=True)


class MLflowTrials(Callback):
    """Every trial of one phase an MLflow run nested under the sweep's parent run, logged as results arrive.

    A tracking server that fails mid-sweep costs the live log, not the sweep (Tune would end the experiment on a
    callback's exception): one warning, then nothing more is sent live, since every call would wait out MLflow's
    retries again while Tune's loop stands still; the sweep's end (finish) fills in the epochs if it can."""

    def __init__(self, uri: str, experiment_id: str, parent_run_id: str, phase: str):
        self.uri, self.experiment_id, self.parent_run_id, self.phase = uri, experiment_id, parent_run_id, phase
        self._client: Any = None
        self._runs: dict[str, str] = {}
        self._failed = False

    def __getstate__(self) -> dict[str, Any]:  # Tune pickles callbacks with the experiment; the client stays out
        return {**self.__dict__, "_client": None, "_runs": {}, "_failed": False}

    def _safely(self, log: Any) -> None:
        from mlflow.exceptions import MlflowException

        if self._failed:
            return
        try:
            log()
        except MlflowException as exc:
            self._failed = True
            _warn(f"live logging to {self.uri} stopped for this {self.phase} phase; the sweep goes on and its end "
                  "logs what is missing if the server answers again", exc)

    def client(self) -> Any:
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    def run_id(self, trial_id: str, config: dict[str, Any] | None = None) -> str:
        if trial_id not in self._runs:
            self._runs[trial_id] = trial_run(self.client(), self.experiment_id, self.parent_run_id, trial_id,
                                             self.phase, config)
        return self._runs[trial_id]

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._safely(lambda: self.run_id(trial.trial_id, trial.config))

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        from mlflow.entities import Metric

        if result.get("epoch", 0) < 1:
            return
        stamp = int(time.time() * 1000)
        metrics = [Metric(k, float(result[k]), stamp, int(result["epoch"])) for k in METRICS
                   if isinstance(result.get(k), (int, float)) and math.isfinite(result[k])]
        self._safely(lambda: self.client().log_batch(self.run_id(trial.trial_id, trial.config), metrics=metrics))


def trial_run(client: Any, experiment_id: str, parent_run_id: str, trial_id: str, phase: str,
              config: dict[str, Any] | None) -> str:
    """The trial's run: found by its tuner.trial_id tag (a resumed trial keeps its run), else created."""
    found = client.search_runs([experiment_id], filter_string=f"tags.`tuner.trial_id` = '{trial_id}'",
                               max_results=1)
    if found:
        return found[0].info.run_id
    tags = {"mlflow.parentRunId": parent_run_id, "tuner.trial_id": trial_id, "tuner.phase": phase}
    run = client.create_run(experiment_id, run_name=f"trial {trial_id}", tags=tags)
    if config:
        client.log_batch(run.info.run_id, params=_params(trial_values(config)))
    return run.info.run_id


def finish(info: dict[str, str], trials: pd.DataFrame, history: pd.DataFrame, best: dict[str, Any] | None,
           ended_by: str) -> None:
    """`_finish`; a tracking server that fails here costs a warning, not the sweep: the run folder is written."""
    from mlflow.exceptions import MlflowException

    try:
        _finish(info, trials, history, best, ended_by)
    except MlflowException as exc:
        _warn(f"the sweep's end was not logged to {info['uri']} (the run folder is complete)", exc)


def _finish(info: dict[str, str], trials: pd.DataFrame, history: pd.DataFrame, best: dict[str, Any] | None,
            ended_by: str) -> None:
    """After the sweep: each trial run gets its final status (and any epochs it is missing: a resumed driver
    starts a new callback), the chosen one its tag and test metrics, the parent run the choice.

    A sweep can finish more than once (--resume after a time budget, --resume --num-samples growing it): the choice
    can move to another trial, so the tag leaves the run it was on, and the final metrics carry the time they are
    logged (MLflow shows a metric's latest value by step, then timestamp: at equal ones the highest value wins)."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, RunTag

    client = MlflowClient(tracking_uri=info["uri"])
    now = int(time.time() * 1000)
    for _, row in trials.iterrows():
        trial_id = str(row["trial_id"])
        run_id = trial_run(client, info["experiment_id"], info["parent_run_id"], trial_id, str(row.get("phase")),
                           None)
        logged = {m.step for m in client.get_metric_history(run_id, "val_acc")}
        own = history[history["trial_id"].astype(str) == trial_id]
        missing = [Metric(k, float(r[k]), 0, int(r["epoch"])) for _, r in own.iterrows() if int(r["epoch"]) not in
                   logged for k in METRICS if k in r and pd.notna(r[k])]
        tags = [RunTag("tuner.status", str(row["status"]))]
        if best is not None and best["trial_id"] == trial_id:
            tags.append(RunTag("tuner.chosen", "true"))
            missing += [Metric("test_acc", best["test_acc"], now, 0), Metric("test_loss", best["test_loss"], now, 0)]
        client.log_batch(run_id, metrics=missing, tags=tags)
        client.set_terminated(run_id, TERMINAL.get(Status(row["status"]), "FINISHED"))
    parent = info["parent_run_id"]
    if best is not None:
        _untag_earlier_choices(client, info, best["trial_id"])
        client.log_batch(parent, metrics=[Metric("test_acc", best["test_acc"], now, 0),
                                          Metric(f"best_{best['metric']}", best[best["metric"]], now, 0)],
                         tags=[RunTag("tuner.chosen_trial", best["trial_id"])])
    client.set_tag(parent, "tuner.ended_by", ended_by)
    client.set_terminated(parent, "KILLED" if ended_by == SweepEnd.INTERRUPTED else "FINISHED")


def _untag_earlier_choices(client: Any, info: dict[str, str], chosen: str) -> None:
    """Exactly one trial run of the sweep is tagged tuner.chosen: an earlier finish's choice loses the tag."""
    earlier = client.search_runs([info["experiment_id"]], max_results=1000,
                                 filter_string=f"tags.mlflow.parentRunId = '{info['parent_run_id']}' and "
                                               "tags.`tuner.chosen` = 'true'")
    for run in earlier:
        if run.data.tags.get("tuner.trial_id") != chosen:
            client.delete_tag(run.info.run_id, "tuner.chosen")

"""report.html: one self-contained page (inline CSS, images embedded) plus the PNGs beside it."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tuner import select
from tuner.train import datasets as data_lib
from tuner.analysis import importance, plots
from tuner.analysis import report_tables as tables
from tuner.analysis.load import RunData
from tuner.errors import UserError
from tuner.runfolder import PBT_PATH, PREDICTIONS_FILE, REPORT_DIR, REPORT_FILE
from tuner.status import Status

STYLE = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0 auto;max-width:1200px;padding:16px 28px;
color:#222;line-height:1.45}
h1{margin-bottom:4px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:36px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}
th{background:#f3f5f8}tr:nth-child(even) td{background:#fafafa}img{max-width:100%;height:auto;display:block;margin:8px 0}
.note{color:#555;font-size:13px}.box{background:#eef5ff;border:1px solid #bcd3f5;padding:10px 14px;border-radius:6px}
.warn{background:#fff6e5;border:1px solid #f0c36d;padding:8px 12px;border-radius:6px}
.kv td:first-child{font-weight:600;white-space:nowrap}
"""


class Page:
    """Collects sections; figures are saved as PNG files and embedded as data URIs."""

    def __init__(self, run: RunData):
        self.run = run
        self.parts: list[str] = []
        self.figure_dir = run.run_dir / REPORT_DIR
        self.figure_dir.mkdir(exist_ok=True)

    def add(self, markup: str) -> None:
        self.parts.append(markup)

    def heading(self, text: str) -> None:
        self.add(f"<h2>{html.escape(text)}</h2>")

    def note(self, text: str, css: str = "note") -> None:
        self.add(f'<p class="{css}">{html.escape(text)}</p>')

    def table(self, frame: pd.DataFrame) -> None:
        shown = frame.apply(lambda column: column.map(_short) if column.dtype.kind in "fO" else column)
        self.add(shown.to_html(index=False, escape=True, na_rep="-", border=0))

    def figure(self, fig: Figure | None, name: str, alt: str) -> None:
        if fig is None:
            return
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110)
        plt.close(fig)
        png = buffer.getvalue()
        (self.figure_dir / f"{name}.png").write_bytes(png)
        encoded = base64.b64encode(png).decode()
        self.add(f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(alt)}">')

    def html(self) -> str:
        title = html.escape(f"tuner report: {self.run.name}")
        return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
                f"<style>{STYLE}</style></head><body>{''.join(self.parts)}</body></html>")


def pct(value: Any) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2%}"


def write_report(run: RunData, top: int = 10, compare: str | None = None, data_dir: str | None = None) -> Path:
    page = Page(run)
    header(page)
    ranking_section(page, top)
    pareto_section(page)
    curves_section(page)
    population_section(page)
    effects_section(page)
    compare_section(page, compare or tables.default_compare(run))
    test_section(page, data_dir)
    diagnostics_section(page)
    path = run.run_dir / REPORT_FILE
    path.write_text(page.html())
    return path


def header(page: Page) -> None:
    run, sweep = page.run, page.run.sweep
    page.add(f"<h1>{html.escape(run.name)}</h1>")
    if sweep.get("description"):
        page.note(sweep["description"])
    if (run.info or {}).get("smoke"):
        page.note("SMOKE TEST: a check that the sweep file runs (2 trials x 1 epoch on a small subset), not a "
                  "result.", "warn")
    for missing in run.missing:
        page.note(f"Missing: {missing}.", "warn")
    compute = tables.compute_used(run)
    statuses = ", ".join(f"{n} {_label(s)}" for s, n in tables.status_counts(run).items())
    info = run.info or {}
    rows = [("data set", sweep.get("data")), ("model", _fixed_or_searched(run, "model")),
            ("search", f"{sweep.get('search')} · trial scheduler {sweep.get('trial_scheduler')}"
                       f" (grace {sweep.get('grace_period')}, reduction {sweep.get('reduction_factor')})"),
            ("selection metric", f"{run.metric} ({run.mode}), on the validation split; test used once"),
            ("trials", f"{len(run.trials)}: {statuses}"),
            ("wall time", f"{info.get('total_wall_time_s', info.get('wall_time_s', '-'))} s"
                          f" (ended by: {info.get('ended_by', 'unknown: the run has not finished')})"),
            ("compute used", _compute_text(compute, run)),
            ("environment", _environment(run.spec))]
    page.add('<table class="kv">' + "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
                                           for k, v in rows) + "</table>")
    if run.usable.dropna(subset=[run.metric if run.metric in run.trials else "val_acc"]).empty:
        page.note(f"No trial produced a usable result ({statuses}): nothing was chosen or tested. The Diagnostics "
                  "section below gives each trial's likely cause; errors/ holds the tracebacks.", "warn")


def _label(status: str) -> str:
    return Status(status).label if status in set(Status) else status


def _fixed_or_searched(run: RunData, key: str) -> str:
    if f"config/{key}" in run.trials:
        return "searched: " + ", ".join(sorted(run.trials[f"config/{key}"].dropna().astype(str).unique()))
    return str(run.spec.get("fixed_config", {}).get(key, run.sweep.get(key, "-")))


def _compute_text(compute: dict[str, Any], run: RunData) -> str:
    text = (f"{compute['trial_epochs']} trial-epochs; the same {len(run.trials)} trials run to "
            f"{run.max_epochs} epochs would take {compute['trials_at_max_epochs']}")
    if compute["rungs"]:
        configurations = len(run.trials[select.config_columns(run.trials)].astype(str).drop_duplicates())
        text = (f"{compute['trial_epochs']} trial-epochs in rungs, each trial a run of its own length ("
                + ", ".join(f"{r['trials']} x {r['budget']} epochs: {r['epochs']}" for r in compute["rungs"])
                + f"); the same {configurations} configurations run to {run.max_epochs} epochs would take "
                f"{configurations * run.max_epochs}")
    if compute["full_grid_trial_epochs"]:
        share = compute["trial_epochs"] / compute["full_grid_trial_epochs"]
        text += (f"; a full grid of this space ({compute['grid_points']} points x seeds x {run.max_epochs} epochs) "
                 f"would take {compute['full_grid_trial_epochs']} ({share:.0%} of it used)")
    else:
        text += "; the space has continuous ranges, so it has no full grid"
    return text


def _environment(spec: dict[str, Any]) -> str:
    env = spec.get("environment", {})
    versions = ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items() if v)
    return f"git {str(env.get('git_commit') or '-')[:10]} · {versions}" if env else "-"


def ranking_section(page: Page, top: int) -> None:
    run = page.run
    page.heading(f"Ranking (top {top})")
    table = tables.ranking(run, top)
    metric = run.metric if run.metric in run.trials else "val_acc"
    shown = table.drop(columns=["configuration", "trial_ids", "usable", "competes"])
    mean, std = f"{metric} mean", f"{metric} std"
    shown[metric] = [_mean_std(m, s, n, metric) for m, s, n in zip(table[mean], table[std], table["seeds"])]
    shown = shown.drop(columns=[mean, std])
    shown.insert(0, "#", range(1, len(shown) + 1))
    page.table(shown)
    page.note(f"{metric} is each trial's best epoch on the validation split; configurations run under several "
              "seeds show mean ± std (n seeds) and are ranked by the mean, and only those run on the most seeds "
              "compete for the choice (a single lucky seed cannot beat a confirmed mean); ties go to the smaller "
              "spread. 'trial' is the configuration's best seed, the one tested if it is chosen.")
    best = run.best
    if best:
        searched = ", ".join(f"{k}={_short(v)}" for k, v in best.get("searched", {}).items() if v is not None)
        seeds = best.get("seeds")
        show = pct if metric.endswith("acc") else "{:.4f}".format
        spread = f" (mean {show(seeds['mean'])} ± {show(seeds['std'])} over {seeds['n']} seeds)" \
            if seeds and seeds["n"] > 1 else " (one seed: no spread measured)"
        page.add(f'<div class="box"><b>Chosen:</b> trial {html.escape(best["trial_id"])}: {html.escape(searched)}'
                 f"<br>validation {metric} {html.escape(show(best[metric]))}{html.escape(spread)} at epoch "
                 f"{best['best_epoch']} · <b>test accuracy {html.escape(pct(best['test_acc']))}</b>, test loss "
                 f"{best['test_loss']:.4f} (the test set was evaluated once, for this configuration only)</div>")


def pareto_section(page: Page) -> None:
    """A multi-objective sweep's Pareto front (tuner.select rule 7): the figure and the non-dominated
    configurations, the chosen one first."""
    run = page.run
    metrics = run.objectives
    if len(metrics) < 2:
        return
    page.heading(f"Pareto front ({', '.join(metrics)})")
    front = run.pareto
    if front.empty or not front["pareto"].any():
        page.note("No competing configuration has every objective measured: there is no front to draw.")
        return
    page.figure(plots.pareto_front(front, metrics), "pareto_front",
                f"{metrics[0]} against {', '.join(metrics[1:])}: the non-dominated configurations and the chosen one")
    shown = front[front["pareto"]].drop(columns=["configuration", "pareto"])
    shown["chosen"] = shown["chosen"].map({True: "chosen", False: ""})
    page.table(shown)
    page.note(f"Each value is the configuration's mean over the seeds it ran on (only the configurations run on the "
              f"most seeds compete). Non-dominated: no other configuration is at least as good on every objective "
              f"and better on one. The chosen configuration is the front's best on {metrics[0]} (docs/run-folder.md, "
              f"Selection rule 7); {len(front) - int(front['pareto'].sum())} competing configurations are dominated.")


def _mean_std(mean: float, std: float, n: int, metric: str) -> str:
    scale = (lambda v: f"{v:.2%}") if metric.endswith("acc") else (lambda v: f"{v:.4f}")
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    return f"{scale(mean)} ± {scale(std)} (n={n})" if n > 1 and not math.isnan(std) else scale(mean)


def _short(value: Any) -> Any:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return value


def curves_section(page: Page) -> None:
    page.heading("Learning curves")
    if page.run.history.empty:
        page.note("No trial finished an epoch: there are no curves to draw.")
        return
    page.figure(plots.learning_curves(page.run), "learning_curves",
                "validation accuracy and loss per epoch for every trial, top five in bold")
    rungs = plots.asha_rungs(page.run)
    if rungs:
        page.note(f"Dotted lines: ASHA rungs at epochs {', '.join(map(str, rungs))}, where weak trials are stopped.")


def population_section(page: Page) -> None:
    """Population-based training: each trial's copies and hyperparameter changes (trials.csv's pbt_path)."""
    trials = page.run.trials
    if PBT_PATH not in trials or not trials[PBT_PATH].notna().any():
        return
    page.heading("Population-based training")
    shown = trials[["trial_id", *[c for c in trials if c.startswith("config/")], PBT_PATH]].copy()
    shown[PBT_PATH] = shown[PBT_PATH].fillna("(kept its own)")
    page.table(shown.map(_short))
    page.note("Each trial's path: '@E from T: lr a->b' means that after epoch E it took trial T's checkpoint and "
              "trained on with lr b instead of T's a, its schedule continuing from epoch E. config/ columns hold the "
              "final values; history.csv holds every trial's lineage, epoch by epoch, with its lr. Replay cannot "
              "replay this: a table holds curves of fixed hyperparameters.")


def effects_section(page: Page) -> None:
    run = page.run
    page.heading("Hyperparameter effects")
    figure = plots.effects(run)
    if figure is None:
        page.note("No usable trial to plot.")
    page.figure(figure, "effects", "metric against each hyperparameter")
    page.figure(plots.parallel_coordinates(run), "parallel_coordinates", "parallel coordinates of the usable trials")
    values, note = importance.importances(run)
    if values:
        page.figure(plots.importance_bars(values), "importance", "fANOVA importance per hyperparameter")
    page.note(f"Importance: {note}.")


def compare_section(page: Page, parameter: str | None) -> None:
    run = page.run
    page.heading(f"Best per {parameter or 'level'}")
    table = tables.best_per_level(run, parameter) if parameter else pd.DataFrame()
    if table.empty:
        page.note("No searched hyperparameter to compare (use --compare NAME with a searched hyperparameter).")
        return
    metric = run.metric if run.metric in run.trials else "val_acc"
    shown = table.copy()
    shown[f"best {metric}"] = shown[f"best {metric}"].map(
        lambda v: "-" if pd.isna(v) else pct(v) if metric.endswith("acc") else f"{v:.4f}")
    page.table(shown)
    page.note(f"Each {parameter} with every other hyperparameter tuned for it: a fair comparison, unlike a table "
              f"that fixes one learning rate for all. 'best {metric}' is the level's best configuration by the "
              "ranking's rule (the mean over its seeds; 'seeds' says how many); 'left out' counts the trials that "
              "errored, diverged or got stuck.")
    page.figure(plots.level_bars(table, parameter, metric), f"best_per_{parameter}",
                f"best configuration per {parameter}")


def test_section(page: Page, data_dir: str | None) -> None:
    run, best = page.run, page.run.best
    page.heading("The chosen model on the test set")
    if not best:
        page.note("Nothing to evaluate: no trial produced a usable result, so no configuration was chosen."
                  if run.finished else
                  "Not evaluated yet: the sweep has not chosen a configuration (it is running or was killed).", "warn")
        return
    page.note(f"Test accuracy {pct(best['test_acc'])}, loss {best['test_loss']:.4f}, trial {best['trial_id']}.")
    page.figure(plots.confusion(best), "confusion", "confusion matrix on the test set")
    page.figure(plots.per_class(best), "per_class", "per-class test accuracy")
    predictions = run.run_dir / PREDICTIONS_FILE
    if not predictions.exists():
        page.note(f"{PREDICTIONS_FILE} is missing: no sample predictions to show.", "warn")
        return
    try:
        dataset = data_lib.load_sized(run.sweep.get("data", "mnist"), int(run.sweep.get("subset", 0) or 0),
                                      data_dir, test_images=500, fetch=False)  # a report never downloads
    except UserError as exc:
        page.note(f"Sample predictions not shown: the data set could not be loaded here ({exc}).", "warn")
        return
    frame = pd.read_csv(predictions)
    if len(frame) != len(dataset.y_test) or not np.array_equal(frame["label"].to_numpy(), dataset.y_test):
        page.note("Sample predictions not shown: the data set here differs from the one the sweep tested on.",
                  "warn")
        return
    page.figure(plots.sample_predictions(dataset.x_test, dataset.y_test, frame["prediction"].to_numpy(),
                                         dataset.classes), "samples", "sample test predictions")


def diagnostics_section(page: Page) -> None:
    run = page.run
    page.heading("Diagnostics")
    table = tables.diagnostics(run)
    if table.empty:
        page.note("No trial diverged, got stuck or crashed.")
    else:
        page.table(table)
    gaps = tables.overfitting(run)
    if not gaps.empty:
        for column in ("val_acc", "train_acc", "gap at best epoch", "gap at last epoch"):
            gaps[column] = gaps[column].map(pct)
        gaps["val_loss rise after best"] = gaps["val_loss rise after best"].map(
            lambda v: "-" if pd.isna(v) else f"{v:+.4f}")
        page.table(gaps)
        page.note("Overfitting of the top trials: training minus validation accuracy (train accuracy is measured "
                  "with dropout and augmentation on, so it can sit below validation), and how far the validation "
                  "loss rose after its best epoch.")

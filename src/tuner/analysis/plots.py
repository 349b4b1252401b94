"""The report's figures (matplotlib, Agg): curves, hyperparameter effects, test-set views."""

from __future__ import annotations

import math
import textwrap
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from tuner import select, status  # noqa: E402
from tuner.status import Status  # noqa: E402
from tuner.analysis.load import RunData  # noqa: E402

TOP_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]


def _percent(metric: str) -> bool:
    return metric.endswith("acc")


def _scale(metric: str, values: Any) -> Any:
    return values * 100 if _percent(metric) else values


def _label(metric: str) -> str:
    return f"{metric} (%)" if _percent(metric) else metric


def leaders(run: RunData, top: int = 5) -> list[tuple[int, str]]:
    """(rank, trial) of the ranking's first `top` usable configurations, numbered as the ranking numbers them: the
    trial is each configuration's tested one (its best seed)."""
    table = select.ranking(run.trials, run.metric if run.metric in run.trials else "val_acc")
    if table.empty:
        return []
    return [(rank, str(trial)) for rank, (trial, usable) in enumerate(zip(table["trial"], table["usable"]), 1)
            if usable][:top]


def learning_curves(run: RunData, top: int = 5) -> Figure:
    """Validation accuracy and loss per epoch: every trial faint, the ranking's top configurations bold (numbered as
    in the ranking); x marks where trials were stopped early; the chosen trial's learning rate. The axes are scaled
    to the usable trials: stuck and diverged curves may leave the frame."""
    fig, (acc_ax, loss_ax, lr_ax) = plt.subplots(1, 3, figsize=(16, 4.6))
    history = run.history
    ranked = leaders(run, top)
    bold = [trial for _, trial in ranked]
    stopped = set(run.trials.loc[run.trials["status"] != Status.TERMINATED, "trial_id"])
    for trial_id, curve in history.groupby("trial_id"):
        if trial_id in bold:
            continue
        acc_ax.plot(curve["epoch"], curve["val_acc"] * 100, color="0.6", alpha=0.35, linewidth=0.8)
        loss_ax.plot(curve["epoch"], curve["val_loss"], color="0.6", alpha=0.35, linewidth=0.8)
        if trial_id in stopped:
            acc_ax.plot(curve["epoch"].iloc[-1], curve["val_acc"].iloc[-1] * 100, "x", color="0.35", markersize=4)
    marker = "o" if history.empty or history["epoch"].max() <= 3 else None  # a curve of one epoch is a point
    for colour, (rank, trial_id) in zip(TOP_COLOURS, ranked):
        curve = history[history["trial_id"] == trial_id]
        for ax, values in ((acc_ax, curve["val_acc"] * 100), (loss_ax, curve["val_loss"])):
            ax.plot(curve["epoch"], values, color=colour, linewidth=2, marker=marker, label=f"#{rank} {trial_id}")
    for rung in asha_rungs(run):
        acc_ax.axvline(rung, color="0.5", linestyle=":", linewidth=1.2)
    acc_ax.set_ylim(_zoom(history, bold), 100.5)
    acc_ax.set(title="Validation accuracy (x: stopped early)", xlabel="epoch", ylabel="val_acc (%)")
    loss_ax.set(title="Validation loss (scaled to the usable trials)", xlabel="epoch",
                ylabel="val_loss (cross-entropy, nats)")
    _clip_loss(loss_ax, history[history["trial_id"].isin(set(run.usable["trial_id"]))]["val_loss"])
    if ranked:
        acc_ax.legend(fontsize=7, loc="lower right", title="# in the ranking", title_fontsize=7)
    chosen = run.best["trial_id"] if run.best else (bold[0] if bold else None)
    if chosen is not None:
        best = history[history["trial_id"] == chosen]
        lr_ax.plot(best["epoch"], best["lr"], marker="o", color=TOP_COLOURS[0])
        if (best["lr"] > 0).all():
            lr_ax.set_yscale("log")
    lr_ax.set(title=f"Learning rate of the chosen trial {chosen or ''}", xlabel="epoch",
              ylabel="learning rate (end of epoch)")
    for ax in (acc_ax, loss_ax, lr_ax):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _clip_loss(ax: Any, usable: pd.Series) -> None:
    """Loss axis limits from the usable trials' finite losses (log scale when they span a wide range)."""
    finite = usable.replace([np.inf, -np.inf], np.nan).dropna()
    if finite.empty:
        return
    low, high = float(finite.min()), float(finite.max())
    if high > 5 * max(float(finite.median()), 1e-9) and low > 0:
        ax.set_yscale("log")
        ax.set_ylim(low / 1.5, high * 1.5)
    else:
        margin = (high - low) * 0.08 or max(abs(high) * 0.1, 1e-3)
        ax.set_ylim(max(low - margin, 0.0) if low >= 0 else low - margin, high + margin)


def _zoom(history: pd.DataFrame, leaders: list[str]) -> float:
    """Lower y limit that keeps the leaders' curves from epoch 2 on readable; weaker trials may leave the frame."""
    lead = history[history["trial_id"].isin(leaders) & (history["epoch"] > 1)]["val_acc"] * 100
    if lead.empty:
        return 0.0
    floor = lead.min()
    return float(max(0.0, floor - max(2.0, (100 - floor) * 0.5)))


def sorted_levels(values: pd.Series) -> list[str]:
    """Category labels in numeric order when they are numbers (64, 128, 256), else alphabetical."""
    levels = values.dropna().astype(str).unique()
    try:
        return sorted(levels, key=float)
    except ValueError:
        return sorted(levels)


def asha_rungs(run: RunData) -> list[int]:
    """Epochs where ASHA compares trials (grace_period * reduction_factor**k below max_epochs)."""
    sweep = run.sweep
    if sweep.get("trial_scheduler") != "asha":
        return []
    rung, factor, rungs = float(sweep.get("grace_period", 1)), float(sweep.get("reduction_factor", 3)), []
    while rung < run.max_epochs:
        rungs.append(int(round(rung)))
        rung *= factor
    return rungs


def _is_numeric(values: pd.Series) -> bool:
    values = values.dropna()
    return len(values) > 0 and pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values) \
        and values.nunique() > 4


def _log_scaled(run: RunData, name: str, values: pd.Series) -> bool:
    text = str(run.sweep.get("space", {}).get(name, "")) if isinstance(run.sweep.get("space"), dict) else ""
    if text.startswith("loguniform"):
        return True
    positive = values.dropna()
    return len(positive) > 0 and (positive > 0).all() and positive.max() / positive.min() > 100


def effects(run: RunData) -> Figure | None:
    """Metric against each searched hyperparameter, usable trials only (those that errored, diverged or got stuck
    are counted in the title): scatter for numbers, box and points for categories."""
    names = [c.removeprefix("config/") for c in run.hyperparameters]
    metric = run.metric if run.metric in run.trials else "val_acc"
    trials = run.usable.dropna(subset=[metric])
    if not names or trials.empty:
        return None
    left_out = run.trials[~run.trials["trial_id"].isin(trials["trial_id"])]
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.8 * rows), squeeze=False)
    rng = np.random.default_rng(0)
    colours = np.where(trials["status"] == Status.TERMINATED, "#1f77b4", "#7f7f7f")
    y = _scale(metric, trials[metric])
    for ax, name in zip(axes.flat, names):
        values = trials[f"config/{name}"]
        if _is_numeric(run.trials[f"config/{name}"]):
            ax.scatter(values, y, c=colours, s=22, alpha=0.8)
            if _log_scaled(run, name, values):
                ax.set_xscale("log")
        else:
            levels = sorted_levels(run.trials[f"config/{name}"])
            positions = {level: i for i, level in enumerate(levels)}
            filled = [level for level in levels if (values.astype(str) == level).any()]
            ax.boxplot([y[values.astype(str) == level] for level in filled], positions=[positions[v] for v in filled],
                       widths=0.5, showfliers=False)
            x = values.astype(str).map(positions) + rng.uniform(-0.15, 0.15, len(values))
            ax.scatter(x, y, c=colours, s=18, alpha=0.8, zorder=3)
            ax.set_xticks(range(len(levels)), [level if level in filled else f"{level}\n(none usable)"
                                               for level in levels], rotation=20, fontsize=8)
            ax.set_xlim(-0.6, len(levels) - 0.4)
        ax.set(xlabel=name, ylabel=_label(metric), title=name)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    title = f"{metric} against each hyperparameter, {len(trials)} usable trials (blue: ran to the end, grey: stopped " \
            "early)"
    if len(left_out):
        tally = ", ".join(f"{n} {s}" for s, n in status.counts(list(left_out["status"])).items())
        title += f"; {len(left_out)} trials left out ({tally})"
    fig.suptitle(textwrap.fill(title, width=int(13 * 5.2 * cols)), fontsize=10)  # a narrow figure wraps it
    fig.tight_layout()
    return fig


def parallel_coordinates(run: RunData) -> Figure | None:
    names = run.hyperparameters
    metric = run.metric if run.metric in run.trials else "val_acc"
    trials = run.usable.dropna(subset=[metric])
    if len(names) < 2 or len(trials) < 2:
        return None
    columns, ticks = [], []
    for name in names:
        values = trials[name]
        if _is_numeric(values):
            numbers = values.astype(float)
            if _log_scaled(run, name.removeprefix("config/"), numbers):
                numbers = np.log10(numbers)
            low, high = numbers.min(), numbers.max()
            columns.append((numbers - low) / (high - low) if high > low else numbers * 0 + 0.5)
            ticks.append([f"{values.min():.3g}", f"{values.max():.3g}"])
        else:
            levels = sorted_levels(values)
            codes = values.astype(str).map({level: i for i, level in enumerate(levels)})
            columns.append(codes / max(len(levels) - 1, 1))
            ticks.append(levels)
    score = _scale(metric, trials[metric])
    columns.append((score - score.min()) / (score.max() - score.min() or 1))
    fig, ax = plt.subplots(figsize=(max(8, 1.8 * len(columns)), 4.5))
    cmap = plt.get_cmap("viridis" if select.best_first(metric) else "viridis_r")
    norm = plt.Normalize(score.min(), score.max())
    matrix = np.column_stack(columns)
    for row, value in sorted(zip(matrix, score), key=lambda pair: -select.sort_key(pair[1], metric)):
        ax.plot(range(len(columns)), row, color=cmap(norm(value)), alpha=0.7, linewidth=1.2)
    for i, levels in enumerate(ticks):
        if levels:
            for j, level in enumerate(levels):
                ax.text(i + 0.03, j / max(len(levels) - 1, 1), level, fontsize=7, va="center")
    ax.set_xticks(range(len(columns)), [n.removeprefix("config/") for n in names] + [_label(metric)], fontsize=8)
    ax.set_yticks([0, 1], ["low", "high"])
    ax.set_title("Parallel coordinates: every usable trial, coloured by " + _label(metric))
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=_label(metric))
    fig.tight_layout()
    return fig


def importance_bars(importances: dict[str, float]) -> Figure:
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(importances) + 1.2))
    names = list(importances)[::-1]
    ax.barh(names, [importances[n] * 100 for n in names], color="#1f77b4")
    ax.set(xlabel="share of the metric's variance explained (fANOVA, %)", title="Hyperparameter importance")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig


def level_bars(table: pd.DataFrame, parameter: str, metric: str) -> Figure | None:
    """best_per_level's table as bars; a level without a usable trial gets no bar but its 'left out' text."""
    column = f"best {metric}"
    values = _scale(metric, table[column].astype(float))
    if values.isna().all():
        return None
    fig, ax = plt.subplots(figsize=(7, 3.6))
    bars = ax.bar(table[parameter].astype(str), values.fillna(0), color="#1f77b4")
    ax.bar_label(bars, labels=[f"{v:.2f}" if not math.isnan(v) else "" for v in values], fontsize=8)
    low, high = values.min(), values.max()
    if _percent(metric):
        ax.set_ylim(max(0, low - (high - low) * 2 - 1), min(100, high + max((high - low) * 0.5, 1)))
    bottom, top = ax.get_ylim()
    for position, (value, note) in enumerate(zip(values, table["left out"])):
        if math.isnan(value):
            ax.text(position, bottom + (top - bottom) * 0.05, str(note), ha="center", fontsize=8, color="#d62728")
    ax.set(xlabel=parameter, ylabel=f"{_label(metric)}, mean over seeds",
           title=f"Best configuration per {parameter}, others tuned")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def confusion(best: dict[str, Any]) -> Figure:
    matrix = np.array(best["confusion_matrix"])
    classes = best.get("classes") or [str(i) for i in range(len(matrix))]
    fig, ax = plt.subplots(figsize=(7.5, 6.3))
    image = ax.imshow(matrix, cmap="Blues")
    for i in range(len(matrix)):
        for j in range(len(matrix)):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set(xlabel="predicted class", ylabel="true class", title="Confusion matrix on the test set (images)")
    fig.colorbar(image, ax=ax, label="test images")
    fig.tight_layout()
    return fig


def per_class(best: dict[str, Any]) -> Figure:
    values = np.array(best["per_class_acc"]) * 100
    classes = best.get("classes") or [str(i) for i in range(len(values))]
    fig, ax = plt.subplots(figsize=(8, 3.4))
    bars = ax.bar(classes, values, color=["#d62728" if v == values.min() else "#1f77b4" for v in values])
    ax.bar_label(bars, labels=[f"{v:.1f}" for v in values], fontsize=7)
    ax.axhline(best["test_acc"] * 100, color="0.4", linestyle="--", linewidth=1, label="overall")
    ax.set_ylim(max(0, values.min() - 10), 100)
    ax.set(ylabel="test accuracy (%)", title="Per-class accuracy on the test set")
    ax.tick_params(axis="x", rotation=30, labelsize=8)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def sample_predictions(images: np.ndarray, labels: np.ndarray, predictions: np.ndarray, classes: list[str],
                       count: int = 32) -> Figure:
    """A grid of test images titled prediction (truth): green correct, red wrong; half are mistakes if possible."""
    rng = np.random.default_rng(0)
    wrong = np.flatnonzero(predictions != labels)
    right = np.flatnonzero(predictions == labels)
    picked = np.concatenate([rng.permutation(wrong)[:count // 2], rng.permutation(right)])[:count]
    picked = np.sort(picked)
    cols = 8
    rows = math.ceil(len(picked) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.6, rows * 1.85), squeeze=False)
    for ax, index in zip(axes.flat, picked):
        image = images[index]
        ax.imshow(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0), cmap="gray" if image.shape[0] == 1
                  else None, interpolation="nearest")
        ok = predictions[index] == labels[index]
        ax.set_title(f"{classes[predictions[index]]}\n({classes[labels[index]]})", fontsize=7,
                     color="#2ca02c" if ok else "#d62728")
        for spine in ax.spines.values():
            spine.set_edgecolor("#2ca02c" if ok else "#d62728")
            spine.set_linewidth(2.5 if not ok else 1.2)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(picked):]:
        ax.axis("off")
    fig.suptitle("Test images: prediction (truth); red = misclassified", fontsize=10)
    fig.tight_layout()
    return fig


def pareto_front(front: pd.DataFrame, metrics: list[str]) -> Figure:
    """The competing configurations on the first two objectives (one panel per further objective against the
    first): dominated ones grey, the non-dominated joined as a front, the chosen one a star."""
    first, others = metrics[0], metrics[1:]
    fig, axes = plt.subplots(1, len(others), figsize=(6.5 * len(others), 4.6), squeeze=False)
    on = front[front["pareto"]]
    chosen = front[front["chosen"]]
    for ax, other in zip(axes[0], others):
        off = front[~front["pareto"]]
        ax.scatter(off[other], _scale(first, off[first]), color="0.6", s=22, label="dominated")
        line = on.sort_values(other)
        ax.plot(line[other], _scale(first, line[first]), "o-", drawstyle="steps-post", color=TOP_COLOURS[0],
                label="Pareto front")
        ax.scatter(chosen[other], _scale(first, chosen[first]), marker="*", s=260, color=TOP_COLOURS[1],
                   zorder=3, label="chosen")
        if other == "num_params" and len(front) and front[other].max() > 10 * max(front[other].min(), 1):
            ax.set_xscale("log")
        ax.set(xlabel=_label(other), ylabel=_label(first), title=f"{first} against {other}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig

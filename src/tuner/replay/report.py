"""What a replay reports: per strategy, how many search seeds reached the table's best and how fast (trial-epochs and
virtual seconds), what it spent and chose; as JSON, as a markdown table, and the anytime plot."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tuner import select
from tuner.replay import tables


@dataclass
class Replay:
    """One strategy, one search seed: the anytime curve and where it ended."""

    strategy: str
    seed: int
    steps: list[tuple[int, float, float, float]] = field(default_factory=list)  # trial-epochs, virtual s, mean, test
    trials: list[dict[str, Any]] = field(default_factory=list)
    final: tables.Point | None = None
    final_key: tuple | None = None

    @property
    def trial_epochs(self) -> int:
        return self.steps[-1][0] if self.steps else 0

    @property
    def virtual_s(self) -> float:
        return self.steps[-1][1] if self.steps else 0.0

    def to_target(self, target: float, metric: str) -> tuple[int | None, float | None]:
        """Trial-epochs and virtual seconds until the incumbent's table mean first reached the target."""
        for epochs, seconds, mean, _ in self.steps:
            if mean == target or select.is_better(mean, target, metric):
                return epochs, seconds
        return None, None

@dataclass
class Summary:
    name: str
    replays: list[Replay]
    target: float
    best_key: tuple
    table: tables.Table

    def _to_target(self) -> tuple[list[float], list[float]]:
        hits = [r.to_target(self.target, self.table.metric) for r in self.replays]
        return [math.inf if e is None else e for e, _ in hits], [math.inf if s is None else s for _, s in hits]

    @property
    def reached(self) -> int:
        return sum(1 for e in self._to_target()[0] if math.isfinite(e))

    def quartiles(self, which: int) -> list[float | None]:
        values = self._to_target()[which]
        return [_finite(float(np.quantile(values, q, method="lower"))) for q in (0.25, 0.5, 0.75)]

    def finals(self, attribute: str) -> list[float]:
        return [getattr(r.final, attribute) if r.final is not None else math.nan for r in self.replays]

    @property
    def chose_best(self) -> int:
        return sum(1 for r in self.replays if r.final_key == self.best_key)

    def to_json(self) -> dict[str, Any]:
        epochs, seconds = self.quartiles(0), self.quartiles(1)
        spent = [r.trial_epochs for r in self.replays]
        return {"seeds": len(self.replays), "reached": self.reached,
                "median_trial_epochs_to_target": epochs[1], "trial_epochs_to_target_quartiles": [epochs[0], epochs[2]],
                "median_virtual_s_to_target": seconds[1], "virtual_s_to_target_quartiles": [seconds[0], seconds[2]],
                "median_final_mean_val": float(np.nanmedian(self.finals("mean"))),
                "median_final_mean_test": _finite(float(np.nanmedian(self.finals("test_mean")))) if self.table.has_test
                else None,
                "chose_best": self.chose_best, "median_trial_epochs_spent": float(np.median(spent)),
                "median_virtual_s_spent": float(np.median([r.virtual_s for r in self.replays]))}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def to_json(table: tables.Table, summaries: dict[str, Summary]) -> dict[str, Any]:
    target = next(iter(summaries.values())).target
    return {"table": table.name, "source": table.source, "metric": table.metric,
            "grid_trial_epochs": table.trial_epochs, "best_mean_val": table.best.mean,
            "best_mean_test": table.best.test_mean if table.has_test else None,
            "best_configuration": table.best.values, "target": target,
            "strategies": {name: summary.to_json() for name, summary in summaries.items()}}


def markdown(table: tables.Table, summaries: dict[str, Summary], workers: int) -> str:
    data = to_json(table, summaries)
    seeds = max(s["seeds"] for s in data["strategies"].values())
    lines = [f"Replay of table `{table.name}` ({len(table.points)} configurations x {len(table.seeds)} seeds, "
             f"{table.trial_epochs} trial-epochs as a grid), {seeds} search seeds, {workers} virtual workers.",
             f"Best configuration: {_config_text(table.best.values)}, mean {table.metric} {table.best.mean:.4f}"
             + (f", test {table.best.test_mean:.4f}" if table.has_test else "") +
             f"; target: within 0.1 point ({data['target']:.4f}).", "",
             "| strategy | reached | trial-epochs to target: median [q25, q75] | share of the grid | virtual time to "
             "target | final choice: mean val | mean test | chose the best | trial-epochs spent |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, s in data["strategies"].items():
        q = s["trial_epochs_to_target_quartiles"]
        median = s["median_trial_epochs_to_target"]
        epochs = f"{_num(median)} [{_num(q[0])}, {_num(q[1])}]"
        share = f"{median / table.trial_epochs:.0%}" if median is not None else "-"
        seconds = f"{_num(s['median_virtual_s_to_target'])} s" if s["median_virtual_s_to_target"] is not None else "-"
        test = f"{s['median_final_mean_test']:.4f}" if s["median_final_mean_test"] is not None else "-"
        lines.append(f"| {name} | {s['reached']}/{s['seeds']} | {epochs} | {share} | {seconds} | "
                     f"{s['median_final_mean_val']:.4f} | {test} | {s['chose_best']}/{s['seeds']} | "
                     f"{s['median_trial_epochs_spent']:.0f} |")
    lines += ["", "Medians over search seeds; a seed that never got within 0.1 point counts as never (a median is "
              "shown only where at least half the seeds got there). 'mean val' and 'mean test' are the final choice's "
              "configuration's means over the table's seeds."]
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _config_text(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


def anytime_plot(table: tables.Table, summaries: dict[str, Summary], path: Path) -> None:
    """Incumbent's table mean against trial-epochs: median and quartile band per strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    longest = max(r.trial_epochs for s in summaries.values() for r in s.replays)
    xs = np.unique(np.geomspace(1, max(longest, 2), 300).astype(int))
    fig, ax = plt.subplots(figsize=(10, 6))
    scale = 100 if table.metric.endswith("acc") else 1
    for name, summary in summaries.items():
        curves = np.array([_step_values(r, xs) for r in summary.replays]) * scale
        median = np.nanmedian(curves, axis=0)
        ax.plot(xs, median, label=name, lw=2)
        ax.fill_between(xs, np.nanquantile(curves, 0.25, axis=0), np.nanquantile(curves, 0.75, axis=0), alpha=0.2)
    best = table.best.mean * scale
    ax.axhline(best, color="k", lw=1, label=f"table best {best:.2f}")
    target = next(iter(summaries.values())).target * scale
    ax.axhline(target, color="k", lw=1, ls="--", label="target (0.1 point)")
    ax.axvline(table.trial_epochs, color="grey", lw=1, ls=":", label="grid's trial-epochs")
    ax.set_xscale("log")
    means = np.array([p.mean * scale for p in table.points.values() if p.usable])
    spread = max(best - float(np.quantile(means, 0.5)), 1e-6)
    ax.set_ylim(best - min(spread, 5.0 if scale == 100 else spread), best + 0.1 * spread)
    ax.set(xlabel="trial-epochs (log)", ylabel=f"incumbent's table mean {table.metric}" + (" (%)" if scale == 100
                                                                                             else ""),
           title=f"Anytime performance on {table.name}: median and quartiles over search seeds")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _step_values(replay: Replay, xs: np.ndarray) -> np.ndarray:
    epochs = np.array([s[0] for s in replay.steps])
    means = np.array([s[2] for s in replay.steps])
    index = np.searchsorted(epochs, xs, side="right") - 1
    return np.where(index >= 0, means[np.clip(index, 0, None)], np.nan)

"""A time budget the sweep plans for: what `--time-budget S` (Sweep.time_budget_s) buys on this machine.

Before the first trial, one epoch of the first configuration to run (a start point if the sweep file names
one) is timed here (tuner.probe), with every CPU of this machine. The budget, less what the command spends
beside training, then buys about A = (budget - overhead) / epoch seconds of training, and the sweep is sized
to it before it starts:

- A below one epoch: an `error:` naming the measured epoch time;
- the sweep as written fits: it runs as written;
- A at most the sweep's max_epochs: one configuration, trained A epochs with all the CPUs;
- A up to MIN_SEARCH_EPOCHS x max_epochs: a few configurations (the start points first), each trained to the
  same length and none stopped early, as many as keep each at no less than half of max_epochs;
- more: the search as written, its number of trials cut so that its trial scheduler's expected trial-epochs
  (and the confirm phase, while it costs at most a third of the budget) fit.

Where the plan shortens training, every schedule is laid out over the epochs the trial gets (cosine and
onecycle over TrainConfig.epochs; step_size, cycle_epochs, warmup_epochs and a step or exponential gamma laid over
them by TrainConfig.schedule_for), and trials.csv records them.
The budget stays a hard limit too: Tune stops whatever still runs when it ends, and the best trial so far is
chosen and tested.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from typing import Any

from tuner.errors import UserError
from tuner.search import BUDGETED_SEARCHES
from tuner.search.budgeted import expected_epochs_per_configuration
from tuner.search.space import candidate_configs, is_grid
from tuner.sweep.spec import Sweep
from tuner.sweep.validate import validate
from tuner.train import paths as paths_lib
from tuner.train import probe as probe_lib
from tuner.train.config import TrainConfig
from tuner.train.data import Dataset
from tuner.train.probe import Probe

SAMPLED_CONFIGS = 4  # configurations whose training path is measured; the nearest of them stands for the others
OVERHEAD_S = 20.0  # Ray start, the first trial process, the test evaluation and report (measured: docs/budget.md)
PER_TRIAL_S = 1.0  # a trial's start, its reports and checkpoints beside its epochs
MIN_SEARCH_EPOCHS = 3  # below this many full-length trials' worth of epochs, do not search
CONFIRM_SHARE = 1 / 3  # the confirm phase may take at most this share of the affordable epochs


@dataclass
class EpochCost:
    """What the sweep's training costs here, in one model for the ETA and the budget plan: `slots` trials at once,
    each epoch taking `epoch_s` (measured on the threads one of the slots gets), beside a fixed overhead for the
    command and a small one per trial."""

    epoch_s: float
    slots: int = 1
    overhead_s: float = OVERHEAD_S
    per_trial_s: float = PER_TRIAL_S

    def seconds(self, trial_epochs: float, trials: int = 0) -> float:
        """Wall time of `trials` trials of `trial_epochs` epochs in all."""
        return self.overhead_s + (self.per_trial_s * trials + trial_epochs * self.epoch_s) / self.slots

    def affordable(self, budget_s: float, trials: int = 0) -> float:
        """Trial-epochs `budget_s` seconds buy for `trials` trials (the inverse of seconds)."""
        return max(budget_s - self.overhead_s - self.per_trial_s * trials / self.slots, 0.0) * self.slots / self.epoch_s


@dataclass
class Plan:
    budget_s: float
    epoch_s: float  # one epoch of the probed configuration, all CPUs
    overhead_s: float
    affordable: float  # epochs the budget buys, one after another
    kind: str  # error | as_written | one | few | search
    trials: int
    epochs: int  # per trial at most: every schedule is laid out over these
    slots: int  # trials at once
    confirm: bool
    expected_trial_epochs: float

    def describe(self) -> str:
        head = f"budget {self.budget_s:.0f} s ≈ {self.affordable:.1f} epochs of {self.epoch_s:.1f} s here"
        if self.kind == "as_written":
            return f"{head}: the sweep as written fits (about {self.expected_trial_epochs:.0f} trial-epochs)"
        what = "configuration" if self.trials == 1 else "configurations"
        text = f"{head}: {self.trials} {what} x {self.epochs} epochs"
        if self.kind == "search":
            text = (f"{head}: up to {self.trials} trials of at most {self.epochs} epochs, about "
                    f"{self.expected_trial_epochs:.0f} trial-epochs under the trial scheduler")
        if not self.confirm:
            text += ", no confirm phase"
        return text

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "text": self.describe()}

    @classmethod
    def from_json(cls, saved: dict[str, Any]) -> Plan:
        return cls(**{f.name: saved[f.name] for f in dataclasses.fields(cls)})


def expected_trial_epochs(sweep: Sweep, trials: int | None = None) -> float:
    """Trial-epochs the search phase costs: every trial to max_epochs without a trial scheduler; under ASHA or
    HyperBand, the share of trials each rung keeps (the trial scheduler's own geometry); the confirm phase."""
    n = trials if trials is not None else sweep.expected_trials()
    per_trial = expected_epochs_per_configuration(sweep) if sweep.search in BUDGETED_SEARCHES else \
        {"asha": _asha_epochs_per_trial, "hyperband": _hyperband_epochs_per_trial}.get(
            sweep.trial_scheduler, lambda s: float(s.max_epochs))(sweep)
    return n * per_trial + confirm_trial_epochs(sweep)


def confirm_trial_epochs(sweep: Sweep) -> float:
    return sweep.confirm_top * len(sweep.confirm_seeds) * sweep.max_epochs

def _asha_epochs_per_trial(sweep: Sweep) -> float:
    """ASHA keeps 1/eta of the trials at each rung grace * eta^k below max_epochs."""
    eta, top, rung, keep, total, reached = sweep.reduction_factor, sweep.max_epochs, sweep.grace_period, 1.0, 0.0, 0
    while rung < top:
        total += keep * (rung - reached)
        reached, keep, rung = rung, keep / eta, rung * eta
    return total + keep * (top - reached)




def _hyperband_epochs_per_trial(sweep: Sweep) -> float:
    """Ray's HyperBandScheduler: brackets s = 0.. of n0(s) trials from r0(s) epochs, each halving by eta."""
    eta, top = sweep.reduction_factor, sweep.max_epochs
    s_max = int(round(math.log(top) / math.log(eta))) + 1
    trials = epochs = 0.0
    for s in range(s_max):
        n, r = math.ceil(s_max / (s + 1) * eta ** s), int(top * eta ** (-s))
        if r == 0:
            continue
        trials += n
        for _ in range(s + 1):
            epochs += n * min(r, top)
            n, r = max(n // eta, 1), r * eta
    return epochs / trials if trials else float(top)


def make(sweep: Sweep, probe: Probe, budget_s: float, slots: int, spent_s: float = 0.0) -> Plan:
    """The plan for the budget_s seconds left (spent_s of the whole budget went to loading, checks and the probe),
    given the measured epoch time."""
    cost = EpochCost(probe.epoch_s)  # probed on every thread this machine has: epochs one after another
    affordable = cost.affordable(budget_s, trials=1)
    if affordable < 1:
        raise UserError(f"time budget {budget_s + spent_s:.0f} s is shorter than one epoch here: {probe.describe()}, "
                        f"plus about {OVERHEAD_S + spent_s:.0f} s for loading, Ray, the test evaluation and the "
                        f"report; give at least {OVERHEAD_S + PER_TRIAL_S + probe.epoch_s + spent_s:.0f} s, or make "
                        f"the epoch cheaper (--set fixed.subset=N trains on fewer images)")
    written = expected_trial_epochs(sweep)
    common = dict(budget_s=budget_s, epoch_s=probe.epoch_s, overhead_s=OVERHEAD_S, affordable=affordable)
    if written <= cost.affordable(budget_s, sweep.samples):
        return Plan(**common, kind="as_written", trials=sweep.samples, epochs=sweep.max_epochs, slots=slots,
                    confirm=confirm_trial_epochs(sweep) > 0, expected_trial_epochs=written)
    top = sweep.max_epochs
    if affordable < top + 1:
        epochs = int(affordable)
        return Plan(**common, kind="one", trials=1, epochs=epochs, slots=1, confirm=False,
                    expected_trial_epochs=epochs)
    if affordable < MIN_SEARCH_EPOCHS * top:
        trials = max(1, min(int(affordable // math.ceil(top / 2)), max(len(sweep.start), slots)))
        epochs = min(top, int(affordable // trials))
        return Plan(**common, kind="few", trials=trials, epochs=epochs, slots=min(slots, trials), confirm=False,
                    expected_trial_epochs=trials * epochs)
    confirm_cost = confirm_trial_epochs(sweep)
    confirm = confirm_cost <= CONFIRM_SHARE * affordable
    per_trial = expected_trial_epochs(sweep.without_confirm(), trials=1)
    trials = max(len(sweep.start) + 1, int((affordable - (confirm_cost if confirm else 0)) // per_trial))
    trials = min(trials, sweep.samples)
    return Plan(**common, kind="search", trials=trials, epochs=top, slots=slots, confirm=confirm,
                expected_trial_epochs=trials * per_trial + (confirm_cost if confirm else 0))


def apply(sweep: Sweep, plan: Plan, cpus: float) -> Sweep:
    """The sweep the plan runs: fewer trials, shorter training (schedules laid out over it), no confirm phase
    where it does not fit, all CPUs for a single trial."""
    if plan.kind == "as_written":
        return sweep
    changes: dict[str, Any] = {"max_epochs": plan.epochs}
    if not plan.confirm:
        changes["seeds"] = sweep.without_confirm().seeds
    if plan.kind in ("one", "few"):
        changes.update(search="random" if sweep.search == "grid" else sweep.search, trial_scheduler="none",
                       scheduler_options={}, num_samples=plan.trials, space=_as_searchable(sweep))
        if plan.kind == "one" and sweep.gpu == 0:
            changes["cpu"] = cpus
    else:
        changes["num_samples"] = plan.trials
    planned = dataclasses.replace(sweep, **changes, fixed=_scaled_schedule(sweep, plan.epochs))
    validate(planned, where="the time budget's plan")
    return planned


def _as_searchable(sweep: Sweep) -> Any:
    """A grid's points as choices, so the plan can draw a few of them (start points first)."""
    if callable(sweep.space) or sweep.search != "grid":
        return sweep.space
    from ray import tune

    return {k: tune.choice(v["grid_search"]) if is_grid(v) else v
            for k, v in sweep.space.items()}


def _scaled_schedule(sweep: Sweep, epochs: int) -> dict[str, Any]:
    """Every schedule laid over the shortened run: the settings written for max_epochs (step_size, gamma,
    cycle_epochs, warmup_epochs; searched or fixed) are laid over `epochs` as each trial builds its schedule
    (TrainConfig.schedule_for, tuner.train.config.laid_over), so it ends at the rate the full run would."""
    if epochs >= sweep.max_epochs:
        return dict(sweep.fixed)
    return {**sweep.fixed, "schedule_for": sweep.fixed.get("schedule_for") or sweep.max_epochs}


# ---------------------------------------------------------------- on this machine


def local_slots(sweep: Sweep, cpus: int) -> int:
    """Trials at once on this machine: its GPUs over the GPU share per trial, else its CPUs over the CPUs per trial."""
    import torch

    if sweep.gpu > 0 and torch.cuda.is_available():
        return max(1, int(torch.cuda.device_count() / sweep.gpu))
    return max(1, int(cpus // max(sweep.cpu, 1)))


def plan_budget(sweep: Sweep, dataset: Dataset, deadline: float | None, on_cluster: bool,
                enabled: bool = True) -> tuple[Sweep, Plan | None]:
    """With a time budget on this machine: time one epoch of the first configuration here, then size the sweep to
    what the budget left buys (make). On a cluster the trials' machines are not this one: the budget then only ends
    the sweep. Without a budget (or `enabled` False: --no-plan), print the estimate."""
    import torch

    if not sweep.time_budget_s or not enabled or deadline is None:
        estimate(sweep, dataset, on_cluster)
        return sweep, None
    if on_cluster:
        print("time budget on a cluster: it ends the sweep, but is not planned for (the trials' machines are not "
              "this one)", flush=True)
        return sweep, None
    cpus = os.cpu_count() or 1
    device = "cuda" if sweep.gpu > 0 and torch.cuda.is_available() else "cpu"
    measured = probe_lib.measure(TrainConfig.from_dict(sweep.first_config()), dataset, threads=cpus, device=device)
    left = deadline - time.time()
    planned = make(sweep, measured, left, local_slots(sweep, cpus), sweep.time_budget_s - left)
    print(f"measured here: {measured.describe()}\nplan: {planned.describe()}", flush=True)
    return apply(sweep, planned, cpus), planned


def estimate(sweep: Sweep, dataset: Dataset, on_cluster: bool = False) -> float:
    """Print how long the sweep should take here: its expected trial-epochs (grid size, the trial scheduler's
    rungs, the confirm phase) x one epoch of its first configuration, timed now on a trial's threads. Returns
    the expected trial-epochs."""
    import torch

    total = expected_trial_epochs(sweep)
    if on_cluster:
        print(f"expected about {total:.0f} trial-epochs (their time on the cluster's machines is not estimated here)",
              flush=True)
        return total
    cpus = os.cpu_count() or 1
    on_gpu = sweep.gpu > 0 and torch.cuda.is_available()
    slots = local_slots(sweep, cpus)
    threads = max(1, int(cpus // slots)) if not on_gpu else max(1, int(sweep.cpu))
    measured = probe_lib.measure(TrainConfig.from_dict(sweep.first_config()), dataset, threads=threads,
                                 device="cuda" if on_gpu else "cpu")
    seconds = EpochCost(measured.epoch_s, slots).seconds(total, sweep.expected_trials())
    print(f"estimated {probe_lib.estimate_text(seconds)} on this machine ({total:.0f} trial-epochs x "
          f"{measured.epoch_s:.3g} s, {slots} at once; one epoch of the first configuration timed here on its "
          f"training path, evaluation included)", flush=True)
    if seconds > 3600 and sweep.gpu > 0 and not on_gpu:
        print(f"this sweep file asks for GPUs (gpu={sweep.gpu:g} per trial) and this machine has none: it would take "
              f"{probe_lib.estimate_text(seconds)} here. --time-budget SECONDS plans the best model that many "
              f"seconds buy; --smoke checks that the sweep runs at all", flush=True)
    return total


# What the training-path line's sweep time is: not the sweep's estimate (estimate(): a whole epoch timed on the
# chosen path, evaluation included), but the cap on measuring, fixed before any path is chosen.
CAP_BASIS = "the sweep's time at its first timed training step (the cap on measuring; not the estimate)"


def choose_paths(sweep: Sweep, dataset: Dataset, on_cluster: bool = False) -> dict[str, Any] | None:
    """Before the first trial: the fastest training path (precision, layout, compile) of a sample of the sweep's
    configurations, measured on a trial's threads (tuner.train.fastpath) or read from the cache. Every trial then
    takes its own configuration's verdict, or the nearest sampled one's (paths.resolve). The measurement may cost
    fastpath.SHARE of the sweep's estimated time (this cost model), nothing where the cache answers. Prints one
    line; returns what spec.json records."""
    import torch

    from tuner.train.fastpath import Budget, choose
    from tuner.train.loop import trial_steps

    if on_cluster:
        print("training path: chosen on each trial's machine (its cached measurement, else the rule)", flush=True)
        return None
    cpus = os.cpu_count() or 1
    on_gpu = sweep.gpu > 0 and torch.cuda.is_available()
    slots = local_slots(sweep, cpus)
    threads = max(1, int(cpus // slots)) if not on_gpu else max(1, int(sweep.cpu))
    configs = sample_configs(sweep, dataset)
    epoch_steps, trial_epochs = trial_steps(configs[0].replace(epochs=1), dataset), expected_trial_epochs(sweep)
    trials = sweep.expected_trials()
    limit = sweep.time_budget_s or math.inf  # a time budget caps what the sweep can take
    budget = Budget(epoch_steps * trial_epochs / slots,
                    lambda step_s: min(EpochCost(step_s * epoch_steps, slots).seconds(trial_epochs, trials), limit))
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    chosen = []
    try:
        for cfg in configs:
            choice = choose(cfg.replace(device="cuda" if on_gpu else "cpu"), dataset, trial_steps(cfg, dataset),
                            budget)
            chosen.append({"config": paths_lib.describe_config(paths_lib.config_key(cfg, dataset.image_shape,
                                                                                   dataset.num_classes)),
                           **choice.to_json()})
    finally:
        torch.set_num_threads(previous)
    where = paths_lib.machine(torch.device("cuda" if on_gpu else "cpu"))
    share = budget.spent_s / budget.job_estimate_s if math.isfinite(budget.job_estimate_s) else 0.0
    measured = any(c["source"] == "measured" for c in chosen)
    spent = (f"measured in {budget.spent_s:.1f} s, {share:.1%} of {probe_lib.estimate_text(budget.job_estimate_s)}, "
             f"{CAP_BASIS}" if measured else
             "not measured: the sweep is too short for it" if any(c["note"] for c in chosen) else "cached: no cost")
    print(f"training path on {where['name']}, {threads} thread{'s' if threads != 1 else ''}: "
          + "; ".join(f"{c['config']}: {_path_text(c)}" for c in chosen) + f" ({spent})", flush=True)
    return {"machine": where, "threads": threads, "measured_s": round(budget.spent_s, 3),
            "estimated_sweep_s": round(budget.job_estimate_s, 1) if math.isfinite(budget.job_estimate_s) else None,
            "share": round(share, 5), "sampled": len(chosen), "configs": chosen}


def _path_text(chosen: dict[str, Any]) -> str:
    times = ", ".join(f"{name} {ms:.3g}" + (" rejected" if name in chosen["rejected"] else "")
                      for name, ms in sorted(chosen["ms_per_step"].items(), key=lambda item: item[1]))
    return f"{chosen['path']} ({chosen['source']}{'; ms/step ' + times if times else ''})"


def sample_configs(sweep: Sweep, dataset: Dataset) -> list[TrainConfig]:
    """Up to SAMPLED_CONFIGS configurations that differ in what a step's speed depends on: the first to run, then
    each time the one farthest from those taken (widths and batch sizes at the ends of the space first)."""
    first = TrainConfig.from_dict(sweep.first_config())
    groups: dict[str, tuple[TrainConfig, dict[str, Any]]] = {}
    for values in [sweep.first_config()] + candidate_configs(sweep):
        cfg = first if not groups else TrainConfig.from_dict(values)
        key = paths_lib.config_key(cfg, dataset.image_shape, dataset.num_classes)
        groups.setdefault(repr(key), (cfg, key))
    taken = [next(iter(groups.values()))]
    rest = list(groups.values())[1:]
    while rest and len(taken) < SAMPLED_CONFIGS:
        far = max(rest, key=lambda g: min(paths_lib.distance(g[1], t[1]) for t in taken))
        taken.append(far)
        rest.remove(far)
    return [cfg for cfg, _ in taken]

"""The fastest numerically sound training path for a configuration on this machine, chosen by measuring it.

Which path is fastest (fp32 or bf16/fp16 autocast, channels-last or not, torch.compile or not) depends on the CPU
or GPU, the model, its width and the batch size (docs/fastpath.md has the measurements), so no table decides it.
`choose` times every candidate the explicit settings leave open: each trains a few steps from the same weights on
the same batches, in interleaved rounds, and its time per step is its fastest round (another process's load slows
a round down, never speeds one up). torch.compile is timed only where it could pay for its compile time over one
trial's steps and the budget allows, and chosen only where it does. The measurement costs at most SHARE of the
job it serves (`Budget`): a job too short for that keeps the rule. Verdicts are cached (tuner.train.paths), so a
configuration measured once here costs nothing again; every run takes the verdict through paths.resolve.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict

import torch
import torch.nn.functional as F

from tuner.train import paths as paths_lib
from tuner.train.config import TrainConfig
from tuner.train.data import Dataset
from tuner.train.device import autocast, resolve_device
from tuner.train.loop import Run
from tuner.train.paths import Choice, Path, Timing

SHARE = 0.03  # the measurement may cost this share of the job's estimated time
WARMUP_STEPS = 2
# interleaved rounds x timed steps per candidate: the most the budget allows (a loaded machine needs many rounds
# to find each candidate's unhurried time), never fewer than the last
PLANS = ((8, 5), (5, 4), (3, 3), (2, 3), (2, 1))
MIN_ROUNDS, MIN_STEPS = PLANS[-1]
SAMPLE_BATCHES = 4  # distinct batches the steps cycle through
COMPILE_GUESS_S = {"cpu": 60.0, "cuda": 30.0}  # compile time assumed before one is measured on this processor
COMPILE_MAX_GAIN = 0.5  # the most of a step compiling is assumed to save: where even that cannot pay, no timing

Timer = Callable[[TrainConfig, Dataset, "list[Path]", "Budget"], "dict[str, Timing] | None"]


class Budget:
    """What measuring may cost: SHARE of the job it serves. `job_steps` (training steps one after another) bounds
    it before anything runs: candidates x the fewest steps each must take has to fit SHARE of them; `job_s` (one
    training step's seconds -> the job's seconds; default job_steps x step) fixes the limit in seconds once the
    first step is timed. One Budget can serve several configurations (a sweep's sample)."""

    def __init__(self, job_steps: float = math.inf, job_s: Callable[[float], float] | None = None,
                 share: float = SHARE):
        self.job_steps, self.share = job_steps, share
        self.job_s = job_s or (lambda step_s: step_s * job_steps)
        self.job_estimate_s = math.inf
        self.limit_s = math.inf if math.isinf(job_steps) else None
        self.spent_s = 0.0

    def affords(self, candidates: int) -> bool:
        """Whether timing `candidates` paths with the fewest steps can fit, before timing anything."""
        steps = candidates * (WARMUP_STEPS + 1 + MIN_ROUNDS * MIN_STEPS)
        return steps <= self.share * self.job_steps and self.left() > 0

    def start(self, step_s: float) -> None:
        """Fix the limit from the first measured step (once)."""
        if self.limit_s is None:
            self.job_estimate_s = self.job_s(step_s)
            self.limit_s = self.share * self.job_estimate_s

    def left(self) -> float:
        return math.inf if self.limit_s is None else self.limit_s - self.spent_s


def choose(cfg: TrainConfig, dataset: Dataset, steps_per_trial: int, budget: Budget | None = None,
           timer: Timer | None = None, fresh: bool = False) -> Choice:
    """paths.resolve(), measuring first where this configuration has no verdict cached here (then cached).
    `timer` times candidates (default measure_paths) and returns None where the budget cannot pay for it;
    `fresh`: measure again whatever the cache holds (the benchmark)."""
    device = resolve_device(cfg.device)
    shape, classes = dataset.image_shape, dataset.num_classes
    if paths_lib.explicit(cfg):
        return paths_lib.resolve(cfg, device, shape, classes, steps_per_trial)
    budget = budget or Budget()
    measure = timer or measure_paths
    where, config = paths_lib.machine(device), paths_lib.config_key(cfg, shape, classes)
    key = paths_lib.entry_key(where, config)
    entry = (None if fresh else paths_lib.read_cache().get(key)) or {"machine": where, "config": config, "timings": {}}
    timings = paths_lib.timings_of(entry)
    missing = [p for p in paths_lib.candidates(cfg, device) if p.name not in timings]
    if cfg.compile:  # compile=true: the compiled candidates are the ones to time
        missing = [Path(p.precision, p.channels_last, True) for p in paths_lib.candidates(cfg, device)
                   if p.name + "+compile" not in timings]
    started = time.perf_counter()
    if missing:
        measured = _timed(measure, cfg, dataset, missing, budget) if budget.affords(len(missing)) else None
        if measured is None:
            choice = paths_lib.resolve(cfg, device, shape, classes, steps_per_trial)
            choice.measured_s = time.perf_counter() - started
            choice.note = (f"not measured: timing {len(missing)} paths would cost more than {budget.share:.0%} of "
                           f"the {budget.job_steps:.0f} training steps it serves")
            return choice
        timings.update(measured)
    if cfg.compile is None:
        timings.update(_compiled(cfg, dataset, device, timings, steps_per_trial, budget, measure))
    measured = set(timings) != set(entry["timings"])
    if measured:
        entry = {**entry, "timings": {n: asdict(t) for n, t in timings.items()},
                 "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        paths_lib.write_entry(key, entry)
    choice = paths_lib.resolve(cfg, device, shape, classes, steps_per_trial, cache={key: entry})
    if measured:
        choice.source, choice.measured_s = "measured", time.perf_counter() - started
    return choice


def _timed(measure: Timer, cfg: TrainConfig, dataset: Dataset, paths: list[Path],
           budget: Budget) -> dict[str, Timing] | None:
    started = time.perf_counter()
    try:
        return measure(cfg, dataset, paths, budget)
    finally:
        budget.spent_s += time.perf_counter() - started


def _compiled(cfg: TrainConfig, dataset: Dataset, device: torch.device, timings: dict[str, Timing],
              steps_per_trial: int, budget: Budget, measure: Timer) -> dict[str, Timing]:
    """The fastest eager path compiled, timed where compiling could pay over a trial's steps and the budget allows
    a compile (nothing timed otherwise)."""
    best, _ = paths_lib.decide(timings, paths_lib.candidates(cfg, device), steps_per_trial)
    if best is None or Path(best.precision, best.channels_last, True).name in timings:
        return {}
    guess = compile_guess(device)
    could_save = COMPILE_MAX_GAIN * timings[best.name].ms / 1000 * steps_per_trial
    if could_save < guess or budget.left() < guess:
        return {}
    return _timed(measure, cfg, dataset, [Path(best.precision, best.channels_last, True)], budget) or {}


def compile_guess(device: torch.device) -> float:
    """The longest compile measured on this processor so far, else COMPILE_GUESS_S."""
    name = paths_lib.machine(device)["name"]
    seen = [t.get("compile_s", 0.0) for e in paths_lib.read_cache().values() if isinstance(e, dict)
            and e.get("machine", {}).get("name") == name for t in e.get("timings", {}).values()]
    return max([s for s in seen if s] or [COMPILE_GUESS_S.get(device.type, 60.0)])


# ---------------------------------------------------------------- the real timer


def measure_paths(cfg: TrainConfig, dataset: Dataset, paths: list[Path], budget: Budget) -> dict[str, Timing] | None:
    """Time `paths` on a few batches of `dataset`: each built as fit() builds it (the same seed: the same weights and
    batches), its loss on a fixed batch taken, WARMUP_STEPS steps, then interleaved rounds of timed steps (PLANS).
    None when the first candidate's step shows that timing them all would exceed the budget."""
    started = time.perf_counter()
    sample = _sample(dataset, cfg)
    runs: list[tuple[Path, Run, list[torch.Tensor], float, float]] = []
    rounds = steps = 0
    for path in paths:
        built = time.perf_counter()
        run = Run(cfg.replace(subset=0, precision=path.precision, channels_last="on" if path.channels_last else "off",
                              compile=path.compile), sample)
        loss = fixed_batch_loss(run)
        losses = [_step(run, k) for k in range(WARMUP_STEPS - 1)]
        _sync(run.device)
        step_started = time.perf_counter()
        losses.append(_step(run, WARMUP_STEPS - 1))
        _sync(run.device)
        step_s, warm_s = time.perf_counter() - step_started, time.perf_counter() - built
        runs.append((path, run, losses, loss, warm_s))
        if not rounds:
            budget.start(step_s)
            left = budget.left() - (time.perf_counter() - started)
            rounds, steps = _plan(len(paths) - 1, warm_s, step_s, left)
            if not rounds:
                return None
    best = {path.name: math.inf for path, *_ in runs}
    for r in range(rounds):
        for path, run, losses, _, _ in runs:
            _sync(run.device)
            t0 = time.perf_counter()
            for k in range(steps):
                losses.append(_step(run, WARMUP_STEPS + r * steps + k))
            _sync(run.device)
            best[path.name] = min(best[path.name], (time.perf_counter() - t0) / steps)
    out = {}
    for path, run, losses, loss, warm_s in runs:
        finite = bool(torch.isfinite(torch.stack([x.float() for x in losses])).all())
        compile_s = max(warm_s - WARMUP_STEPS * best[path.name], 0.0) if path.compile else 0.0
        out[path.name] = Timing(best[path.name] * 1000, loss, finite, round(compile_s, 2))
    return out


def _plan(more: int, warm_s: float, step_s: float, left_s: float) -> tuple[int, int]:
    """Rounds and steps per round that fit the time left, given the first candidate's build-and-warm-up time and
    step time (each further candidate costs about as much); (0, 0): not even the fewest fit."""
    for rounds, steps in PLANS:
        if more * warm_s + (more + 1) * rounds * steps * step_s <= left_s:
            return rounds, steps
    return 0, 0


def _sample(dataset: Dataset, cfg: TrainConfig) -> Dataset:
    """SAMPLE_BATCHES training batches' worth of images (after the validation split), every class kept."""
    n = math.ceil(SAMPLE_BATCHES * cfg.batch_size / (1 - cfg.val_fraction)) + dataset.num_classes
    return dataset.subset(n, n_test=1, seed=cfg.split_seed) if n < len(dataset.y_train) else dataset


def _step(run: Run, k: int) -> torch.Tensor:
    n, batch = len(run.train_data), run.cfg.batch_size
    idx = torch.arange(k * batch, (k + 1) * batch, device=run.device) % n
    return run.train_step(idx)[0].detach()


def fixed_batch_loss(run: Run) -> float:
    """The loss of the untrained model on the first batch, in eval mode (no dropout: every path sees the same
    function), under the path's precision and layout; eager, so a compiled path compiles no second graph."""
    x, y = run.train_data.batch(torch.arange(min(run.cfg.batch_size, len(run.train_data)), device=run.device))
    run.model.eval()
    with torch.no_grad(), autocast(run.device, run.precision):
        loss = float(F.cross_entropy(run.model(x).float(), y))
    run.model.train()
    return loss


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)

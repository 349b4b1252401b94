"""Training paths: how a step computes (precision, memory layout, torch.compile), what each measured on this
machine (cached), and the rule that picks one. Measuring is tuner.train.fastpath; this module never measures.

A *path* is a precision (fp32, bf16 or fp16 autocast), a memory layout (channels-last or not) and torch.compile
on or off. Verdicts (every candidate's ms/step and loss) are cached per machine in `cache_file()`, keyed by
`entry_key`: the machine (CPU model and ISA flags with the threads, or GPU name), torch's version, the model's
settings, the image shape, the classes and the batch size.

`resolve` is what every training run calls: an explicit setting wins; `auto` (precision, channels_last) and
compile=None take the cached verdict for this configuration, else that of the nearest measured configuration of
the same model on this machine (a few widths and batch sizes stand for the rest), else the rule
(device.resolve_precision, device.use_channels_last, no compile). `decide` keeps the fastest sound path: a path
whose training loss was non-finite, or whose loss on a fixed batch is more than LOSS_TOLERANCE from fp32's, is
rejected; a compiled path's compile time counts against it over the trial's steps.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

import torch

from tuner.train import models
from tuner.train.checks import MODEL_FIELDS
from tuner.train.config import TrainConfig
from tuner.train.device import resolve_precision, use_channels_last

LOSS_TOLERANCE = 0.05  # relative distance from fp32's loss on the same batch beyond which a path is rejected
KEY_FIELDS = tuple(f for f in MODEL_FIELDS if f not in ("dropout", "dropout2d"))  # what shapes the computation
CACHE_NAME = "fastpath.json"
CACHE_VERSION = 1


@dataclass(frozen=True)
class Path:
    precision: str  # fp32 | bf16 | fp16
    channels_last: bool
    compile: bool = False

    @property
    def name(self) -> str:
        return self.precision + ("+cl" if self.channels_last else "") + ("+compile" if self.compile else "")

    @classmethod
    def parse(cls, name: str) -> Path:
        parts = name.split("+")
        return cls(parts[0], "cl" in parts[1:], "compile" in parts[1:])


@dataclass
class Timing:
    ms: float  # per training step: the fastest round
    loss: float  # on a fixed batch in eval mode, same weights for every candidate
    finite: bool  # every training step's loss was finite
    compile_s: float = 0.0  # compile time beyond the eager path's first steps

    def unsound(self, reference: float | None) -> str | None:
        """Why this path may not train (None: it may)."""
        if not self.finite or not math.isfinite(self.loss):
            return "non-finite loss"
        if reference is not None and abs(self.loss - reference) > LOSS_TOLERANCE * abs(reference) + 1e-3:
            return f"loss {self.loss:.4g} against fp32's {reference:.4g}"
        return None


@dataclass
class Choice:
    path: Path
    source: str  # explicit | measured | cached | nearest | rule | too short to measure
    timings: dict[str, Timing] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    measured_s: float = 0.0  # what measuring cost (0 when the cache answered)
    note: str = ""

    @property
    def precision(self) -> str:
        return self.path.precision

    def describe(self) -> str:
        """One line: the choice, where it came from, every candidate's ms/step."""
        times = ", ".join(f"{name} {t.ms:.3g}" + (f" (+{t.compile_s:.0f} s compile)" if t.compile_s else "")
                          + (f" rejected: {self.rejected[name]}" if name in self.rejected else "")
                          for name, t in sorted(self.timings.items(), key=lambda item: item[1].ms))
        cost = f", measured in {self.measured_s:.1f} s" if self.measured_s else ""
        text = f"{self.path.name} ({self.source}{cost})"
        if times:
            text += f"; ms/step {times}"
        return text + (f"; {self.note}" if self.note else "")

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path.name, "precision": self.path.precision, "channels_last": self.path.channels_last,
                "compile": self.path.compile, "source": self.source, "measured_s": round(self.measured_s, 3),
                "ms_per_step": {name: round(t.ms, 4) for name, t in self.timings.items()},
                "compile_s": {name: round(t.compile_s, 2) for name, t in self.timings.items() if t.compile_s},
                "rejected": self.rejected, "note": self.note}


# ---------------------------------------------------------------- what is measured, and where it is kept


def machine(device: torch.device) -> dict[str, Any]:
    """What makes a measurement valid elsewhere: the processor (CPU model and ISA flags, or GPU name and
    capability), the threads a step runs on, torch's version."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return {"device": "cuda", "name": torch.cuda.get_device_name(index),
                "capability": ".".join(map(str, torch.cuda.get_device_capability(index))),
                "cuda": torch.version.cuda, "torch": torch.__version__}
    name, flags = cpu_identity()
    return {"device": device.type, "name": name, "flags": flags, "threads": torch.get_num_threads(),
            "torch": torch.__version__}


def cpu_identity() -> tuple[str, str]:
    """The CPU's model name (with family and model numbers) and its vector/matrix ISA flags."""
    info: dict[str, str] = {}
    try:
        for line in FilePath("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
            if key.strip() == "flags":
                break
    except OSError:
        pass
    name = info.get("model name") or platform.processor() or platform.machine()
    if info.get("cpu family"):
        name += f" (family {info['cpu family']} model {info.get('model', '?')})"
    flags = sorted(f for f in info.get("flags", "").split() if f.startswith(("avx", "amx", "fma", "f16c")))
    return name, " ".join(flags)


def config_key(cfg: TrainConfig, image_shape: tuple[int, ...], num_classes: int) -> dict[str, Any]:
    """The settings a step's speed depends on beside the path: the model's own, the batch and image size."""
    values = {name: getattr(cfg, name) for name in KEY_FIELDS}
    return {**{k: list(v) if isinstance(v, tuple) else v for k, v in values.items()},
            "batch_size": cfg.batch_size, "image_shape": list(image_shape), "num_classes": num_classes}


def entry_key(where: dict[str, Any], config: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps([CACHE_VERSION, where, config], sort_keys=True).encode()).hexdigest()[:16]


def cache_file() -> FilePath:
    """$TUNER_CACHE/fastpath.json, else ~/.cache/tuner/fastpath.json."""
    folder = os.environ.get("TUNER_CACHE")
    return (FilePath(folder).expanduser() if folder else FilePath.home() / ".cache" / "tuner") / CACHE_NAME


def read_cache() -> dict[str, Any]:
    try:
        saved = json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def write_entry(key: str, entry: dict[str, Any]) -> None:
    """Merged into the file as it is now (another sweep may have written since), written atomically."""
    path = cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(json.dumps({**read_cache(), key: entry}, indent=1))
        os.replace(partial, path)
    except OSError as exc:
        print(f"warning: could not write {path}: {exc}", flush=True)


def timings_of(entry: dict[str, Any]) -> dict[str, Timing]:
    return {name: Timing(**values) for name, values in entry.get("timings", {}).items()}


# ---------------------------------------------------------------- the rule that decides


def candidates(cfg: TrainConfig, device: torch.device) -> list[Path]:
    """The eager paths the explicit precision and layout leave open, fp32 first (the reference)."""
    precisions = supported_precisions(device) if cfg.precision == "auto" else [cfg.precision]
    conv = cfg.model in models.CONV_MODELS
    layouts = {"on": [True], "off": [False]}.get(cfg.channels_last, [True, False] if conv else [False])
    return [Path(p, cl) for p in precisions for cl in layouts]


def allowed(cfg: TrainConfig, device: torch.device) -> list[Path]:
    """The paths a run may take: the candidates, compiled (compile=true), eager (false) or either (None)."""
    eager = candidates(cfg, device)
    compiled = [Path(p.precision, p.channels_last, True) for p in eager]
    return {None: eager + compiled, True: compiled, False: eager}[cfg.compile]


def supported_precisions(device: torch.device) -> list[str]:
    """fp32; bf16 where the hardware computes it (AVX512-BF16 or AMX on a CPU); fp16 on GPUs and on CPUs with
    AVX512-FP16 or AMX-FP16 (elsewhere a CPU converts every fp16 value in software)."""
    out = ["fp32"]
    if device.type == "cuda":
        return out + (["bf16"] if torch.cuda.is_bf16_supported() else []) + ["fp16"]
    if device.type != "cpu":
        return out
    flags = cpu_identity()[1].split()
    if "avx512_bf16" in flags or "amx_bf16" in flags:
        out.append("bf16")
    if "avx512_fp16" in flags or "amx_fp16" in flags:
        out.append("fp16")
    return out


def decide(timings: dict[str, Timing], paths: list[Path], steps_per_trial: int) -> tuple[Path | None, dict]:
    """Of `paths`, the measured sound one with the least time over a trial's steps (compile time included); and
    why each unsound one was rejected."""
    reference = next((t.loss for name, t in timings.items() if Path.parse(name).precision == "fp32"), None)
    rejected, best, best_s = {}, None, math.inf
    for path in paths:
        timing = timings.get(path.name)
        if timing is None:
            continue
        why = timing.unsound(reference)
        if why:
            rejected[path.name] = why
            continue
        seconds = timing.ms / 1000 * steps_per_trial + timing.compile_s
        if seconds < best_s:
            best, best_s = path, seconds
    return best, rejected


def rule(cfg: TrainConfig, device: torch.device) -> Path:
    """Today's table: no measurement (a cluster's other machines, a run too short to measure)."""
    return Path(resolve_precision(cfg, device), use_channels_last(cfg, device), bool(cfg.compile))


def pinned(cfg: TrainConfig, name: str) -> TrainConfig:
    """cfg held to the path named (`Path.name`): a resumed or rerun trial trains on the path it started on, whatever
    the cache says now (another sweep may have measured since)."""
    path = Path.parse(name)
    return cfg.replace(precision=path.precision, channels_last="on" if path.channels_last else "off",
                       compile=path.compile)


def explicit(cfg: TrainConfig) -> bool:
    return cfg.precision != "auto" and cfg.channels_last != "auto" and cfg.compile is not None


def resolve(cfg: TrainConfig, device: torch.device, image_shape: tuple[int, ...], num_classes: int,
            steps_per_trial: int, cache: dict[str, Any] | None = None) -> Choice:
    """The path a run trains on; reads the cache, never measures."""
    if explicit(cfg):
        return Choice(Path(cfg.precision, cfg.channels_last == "on", bool(cfg.compile)), "explicit")
    cache = read_cache() if cache is None else cache
    where, config = machine(device), config_key(cfg, image_shape, num_classes)
    entry = cache.get(entry_key(where, config))
    source = "cached"
    if entry is None:
        entry, source = nearest(cache, where, config), "nearest"
    if entry is not None:
        timings = timings_of(entry)
        path, rejected = decide(timings, allowed(cfg, device), steps_per_trial)
        if path is not None:
            label = source if source == "cached" else f"nearest measured: {describe_config(entry['config'])}"
            return Choice(path, label, timings, rejected)
    return Choice(rule(cfg, device), "rule")


def nearest(cache: dict[str, Any], where: dict[str, Any], config: dict[str, Any]) -> dict[str, Any] | None:
    """The measured entry of the same model and image shape on this processor nearest in batch size and widths
    (`distance`), and in threads (a sweep measures on one trial's threads; a single planned trial gets them all)."""

    def processor(m: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in m.items() if k != "threads"}

    def far(entry: dict[str, Any]) -> float:
        threads = entry["machine"].get("threads", 1), where.get("threads", 1)
        return distance(entry["config"], config) + abs(math.log(threads[0] / threads[1]))

    same = [e for e in cache.values() if isinstance(e, dict) and processor(e.get("machine", {})) == processor(where)
            and e.get("config", {}).get("model") == config["model"]
            and e["config"].get("image_shape") == config["image_shape"]]
    return min(same, key=far, default=None)


def distance(one: dict[str, Any], other: dict[str, Any]) -> float:
    """How far apart two config_keys are: log ratios of the batch size and of every numeric model setting (widths
    summed over layers), 1 for any other difference."""
    total = abs(math.log(other["batch_size"] / one["batch_size"]))
    for name in KEY_FIELDS:
        a, b = one.get(name), other.get(name)
        a, b = (sum(a) if isinstance(a, list) else a), (sum(b) if isinstance(b, list) else b)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > 0 and b > 0:
            total += abs(math.log(a / b))
        elif a != b:
            total += 1.0
    return total


def describe_config(config: dict[str, Any]) -> str:
    shown = [f"{k}={v}" for k, v in config.items() if v is not None and k not in ("image_shape", "num_classes")]
    return " ".join(shown)

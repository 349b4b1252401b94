"""TrainConfig: every setting of one training run, with a commented default per field.

A trial builds `TrainConfig.from_dict({**fixed, **sampled})`: a misspelled hyperparameter
or a value of the wrong type fails before training, naming the key.
"""

from __future__ import annotations

import ast
import difflib
import functools
import math
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from tuner.errors import UserError

Shape = tuple[int, ...]


@dataclass
class TrainConfig:
    # ---- data
    data: str = "mnist"  # mnist | fashion_mnist | cifar10 | imagefolder:PATH[@SIZE] | synthetic[:CxHxW]
    val_fraction: float = 0.1  # share of the training set held out for validation, stratified
    split_seed: int = 0  # seeds the validation split: keep it fixed across a sweep so trials compare fairly
    subset: int = 0  # train+val on a stratified subset of this many training images (0 = all); smoke runs
    augment: str = "none"  # preset name in tuner.augment.AUGMENTS
    normalize: str = "train"  # train (per-channel mean/std of the training split) | half (mean .5, std .5) | none
    # ---- model (None = the architecture's own default, as in the study it comes from)
    model: str = "mlp"  # name in tuner.models.MODELS, "package.module:function", "torchvision:NAME" (train.factories)
    model_args: dict[str, Any] = field(default_factory=dict)  # keyword arguments of a model factory: `model.KEY`
    hidden: Shape | None = None  # fully connected sizes: MLP hidden layers, CNN head ("" or () for none)
    channels: Shape | None = None  # conv stage widths: cnn, resnet12
    width: int | None = None  # tinyvgg/resnet12 base channels, gru hidden size, vit/mixer embedding size
    depth: int | None = None  # gru layers, vit/mixer blocks
    mlp_dim: int | None = None  # vit feed-forward size, mixer channel-mixing size
    token_dim: int | None = None  # mixer token-mixing size
    heads: int | None = None  # vit attention heads
    patch: int | None = None  # vit/mixer patch side in pixels
    dropout: float | None = None  # dropout before fully connected layers
    dropout2d: float | None = None  # channel dropout after each conv stage (cnn)
    batch_norm: bool | None = None  # batch norm after linear/conv layers (mlp, cnn)
    # ---- optimisation
    optimizer: str = "adam"  # name in tuner.optim.OPTIMIZERS
    lr: float = 1e-3  # initial learning rate; the peak for cyclic and onecycle
    momentum: float = 0.0  # sgd and rmsprop
    nesterov: bool = False  # sgd, needs momentum > 0
    weight_decay: float = 0.0  # L2 penalty (decoupled for adamw)
    beta1: float = 0.9  # adam-family first-moment decay
    beta2: float = 0.999  # adam-family second-moment decay
    scheduler: str = "cosine"  # name in tuner.optim.SCHEDULERS
    step_size: int = 10  # step: epochs between decays
    gamma: float | None = None  # step: factor per step (default 0.1); exponential: factor per epoch (0.9)
    plateau_patience: int = 3  # plateau: epochs without val_loss improvement before a decay
    plateau_factor: float = 0.1  # plateau: factor per decay
    min_lr: float = 0.0  # floor for cosine and plateau
    cycle_epochs: float = 2.0  # cyclic: epochs per half cycle (lower to upper lr)
    base_lr_ratio: float = 0.1  # cyclic: lower lr = lr * ratio
    pct_start: float = 0.3  # onecycle: share of the run spent warming up to lr
    scheduler_interval: str = "auto"  # auto (the scheduler's own) | batch | epoch; forcing the wrong one
    #                                   reproduces the studies' stuck runs
    warmup_epochs: int = 0  # linear warmup from lr/10 for none/step/exponential/cosine/plateau
    schedule_for: int = 0  # the epochs step_size, gamma, cycle_epochs and warmup_epochs are written for (0: epochs);
    #                        a run of fewer epochs lays them over its own (laid_over): a budgeted search's short rung
    # ---- loop
    epochs: int = 10  # maximum epochs
    batch_size: int = 128  # training batch size
    seed: int = 0  # seeds weights, shuffling, augmentation and dropout
    label_smoothing: float = 0.0  # cross-entropy label smoothing
    grad_clip: float = 0.0  # max global gradient norm (0 = off)
    early_stop_patience: int = 0  # stop after this many epochs without improvement (0 = off)
    early_stop_min_delta: float = 0.0  # smallest change that counts as improvement
    early_stop_metric: str = "val_loss"  # val_loss (lower is better) or val_acc (higher is better)
    stuck_epochs: int = 3  # `stuck` after this many epochs at chance loss and accuracy (0 = off)
    best_metric: str = "val_acc"  # which epoch is the best one (val_acc highest, val_loss lowest): its weights are
    #                               kept and tested; a sweep sets it to its own metric
    restore_best: bool = True  # end with the weights of the best epoch
    # ---- device
    device: str = "auto"  # auto (cuda if present, else cpu) | cpu | cuda | cuda:N | mps
    precision: str = "auto"  # auto (measured here: tuner.train.fastpath; else device.py's rule) | fp32 | bf16 | fp16
    channels_last: str = "auto"  # auto (measured here, for convolutional models) | on | off
    compile: bool | None = None  # torch.compile the model: None where measured to pay for its compile time
    eval_batch_size: int = 1024  # batch size for validation/test passes

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from plain values (strings from the command line, numpy scalars from Ray), checking each."""
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key == "model_args" or key.startswith(MODEL_ARG_PREFIX):
                _add_model_args(kwargs, key, value)
                continue
            if key not in known:
                raise UserError(f"unknown setting {key!r}{_did_you_mean(key, known)}")
            kwargs[key] = coerce(key, value, field_types()[key])
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        return TrainConfig.from_dict({**self.to_dict(), **changes})

    def scheduled(self) -> TrainConfig:
        """The settings the learning-rate schedule runs with: those written for `schedule_for` epochs laid over
        `epochs` when the run is shorter (so its last rate is the full schedule's), else these."""
        changed = laid_over(self.to_dict(), self.epochs, self.schedule_for) if self.schedule_for else {}
        return self.replace(**changed) if changed else self


MODEL_ARG_PREFIX = "model."  # `model.depth` in a space, `fixed` or --set reaches a model factory as depth=...
PERTURBABLE = ("lr", "momentum", "weight_decay")  # what a population-based scheduler may change mid-run


def is_setting(key: str) -> bool:
    """A key a space, `fixed` or --set may name: a TrainConfig field, or a model factory's `model.KEY`."""
    return key in field_names() or is_model_arg(key)


def is_model_arg(key: str) -> bool:
    return key.startswith(MODEL_ARG_PREFIX) and key.removeprefix(MODEL_ARG_PREFIX).isidentifier()


def _add_model_args(kwargs: dict[str, Any], key: str, value: Any) -> None:
    args = kwargs.setdefault("model_args", {})
    if key == "model_args":
        if not isinstance(value, dict):
            raise UserError(f"setting 'model_args' expects a dict of keyword arguments, got {value!r}")
        args.update({k: model_arg_value(v) for k, v in value.items()})
    elif not is_model_arg(key):
        raise UserError(f"setting {key!r}: a model factory's argument is model.NAME with NAME a Python identifier")
    else:
        args[key.removeprefix(MODEL_ARG_PREFIX)] = model_arg_value(value)


def model_arg_value(value: Any) -> Any:
    """numpy scalars (from Ray) as Python numbers; command-line text as the Python literal it spells, if any."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    if isinstance(value, str):
        try:
            return ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            return value
    return value


def _did_you_mean(key: str, known: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def field_names() -> list[str]:
    return [f.name for f in fields(TrainConfig)]


@functools.cache
def field_types() -> dict[str, Any]:
    return typing.get_type_hints(TrainConfig)


def coerce(key: str, value: Any, annotation: Any) -> Any:
    """Convert a value to a field's type; strings are parsed (`512,256`, `none`, `true`, `1e-3`)."""
    optional = _is_optional(annotation)
    base = _strip_optional(annotation)
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null") and optional):
        if optional:
            return None
        raise UserError(f"setting {key!r} cannot be None")
    try:
        if base is bool:
            return _to_bool(value)
        if base is int:
            return _to_int(value)
        if base is float:
            return _to_float(value)
        if base is str:
            if not isinstance(value, str):
                raise ValueError
            return value
        if typing.get_origin(base) is tuple:
            return _to_shape(value)
    except (ValueError, TypeError, SyntaxError):
        raise UserError(f"setting {key!r} expects {_type_name(annotation)}, got {value!r}") from None
    raise TypeError(f"unsupported annotation {annotation} for {key}")


def _is_optional(annotation: Any) -> bool:
    return isinstance(annotation, types.UnionType) and type(None) in typing.get_args(annotation)


def _strip_optional(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0]
    return annotation


def _type_name(annotation: Any) -> str:
    base = _strip_optional(annotation)
    name = "sizes like 512,256" if typing.get_origin(base) is tuple else getattr(base, "__name__", str(base))
    return f"{name} or none" if _is_optional(annotation) else name


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError
    if isinstance(value, (bool, int)) or hasattr(value, "item"):
        number = value.item() if hasattr(value, "item") else value
        if number in (0, 1):
            return bool(number)
    raise ValueError


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, str):
        value = ast.literal_eval(value.strip())
    number = value.item() if hasattr(value, "item") else value
    if isinstance(number, float) and number.is_integer():
        return int(number)
    if isinstance(number, int):
        return number
    raise ValueError


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError
    number = float(value.item() if hasattr(value, "item") else value)
    if math.isnan(number):
        raise ValueError
    return number


def _to_shape(value: Any) -> tuple[int, ...]:
    if isinstance(value, str):
        text = value.strip().strip("()[]")
        value = [v for v in text.replace("x", ",").replace(" ", ",").split(",") if v]
    if isinstance(value, (int,)) or hasattr(value, "item"):
        value = [value]
    sizes = tuple(_to_int(v) for v in value)
    if any(s <= 0 for s in sizes):
        raise ValueError
    return sizes


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """`["lr=0.01", "model=cnn"]` -> {"lr": "0.01", "model": "cnn"}; values stay strings for coerce()."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set expects key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def laid_over(values: dict[str, Any], epochs: int, full_epochs: int) -> dict[str, Any]:
    """The settings that make a schedule written for `full_epochs` run its whole course in `epochs`, so that its last
    rate is the full schedule's: cosine and onecycle follow `epochs` by themselves; step_size, cycle_epochs and
    warmup_epochs (counted in epochs) are scaled by epochs / full_epochs, and gamma so that the decays that fit
    reach the same end (an exponential schedule's gamma ** (full_epochs / epochs); a step schedule's gamma **
    (full steps / steps)). Plateau follows the validation loss and is left as it is. `values` holds the
    configuration's settings (TrainConfig's defaults for those it lacks); only the changed ones are returned."""
    if epochs >= full_epochs:
        return {}
    defaults, ratio = TrainConfig(), epochs / full_epochs
    scheduler = values.get("scheduler", defaults.scheduler)
    gamma = values.get("gamma")
    changed: dict[str, Any] = {}
    warmup = int(values.get("warmup_epochs", defaults.warmup_epochs) or 0)
    if warmup:
        changed["warmup_epochs"] = min(round(warmup * ratio), epochs - 1)
    if scheduler == "step":
        step_size = int(values.get("step_size", defaults.step_size))
        short = max(1, round(step_size * ratio))
        full_steps, steps = (full_epochs - warmup) // step_size, (epochs - changed.get("warmup_epochs", 0)) // short
        changed["step_size"] = short if full_steps else epochs + 1  # the full schedule never steps: nor does this
        if full_steps and steps and full_steps != steps:
            changed["gamma"] = (0.1 if gamma is None else float(gamma)) ** (full_steps / steps)
    elif scheduler == "cyclic":
        changed["cycle_epochs"] = values.get("cycle_epochs", defaults.cycle_epochs) * ratio
    elif scheduler == "exponential":
        changed["gamma"] = (0.9 if gamma is None else float(gamma)) ** (1 / ratio)
    return changed

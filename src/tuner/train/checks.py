"""What a configuration must satisfy before it trains: every check that needs no data (validate), and the model,
optimizer and schedule built on PyTorch's meta device for the data's image shape (check_buildable)."""

from __future__ import annotations

import torch

from tuner import select
from tuner.errors import UserError
from tuner.train import augment as augment_lib
from tuner.train import datasets
from tuner.train import factories, models, optim, usercode
from tuner.train.config import TrainConfig
from tuner.train.memory import Memory, check_fits


def validate(cfg: TrainConfig) -> None:
    """Every check of a configuration that needs no data (names exist, numbers in range, settings that go
    together); raises UserError naming the setting. Checks that need the image shape: check_buildable."""
    datasets.parse_spec(cfg.data)
    if usercode.is_reference(cfg.model):
        factories.check_name(cfg.model)
    elif cfg.model_args:
        raise UserError(f"model.{next(iter(cfg.model_args))} is a model factory's argument; the built-in model "
                        f"{cfg.model!r} takes TrainConfig fields (width, depth, ...)")
    elif cfg.model not in models.MODELS:
        raise UserError(f"unknown model {cfg.model!r}; choose one of: {', '.join(sorted(models.MODELS))}")
    kind = optim.scheduler_kind(cfg.scheduler)
    augment_lib.get(cfg.augment)
    if cfg.optimizer not in optim.OPTIMIZERS:
        raise UserError(f"unknown optimizer {cfg.optimizer!r}; choose one of: {', '.join(sorted(optim.OPTIMIZERS))}")
    positive = {"lr": cfg.lr, "epochs": cfg.epochs, "batch_size": cfg.batch_size,
                "eval_batch_size": cfg.eval_batch_size, "step_size": cfg.step_size, "cycle_epochs": cfg.cycle_epochs}
    for key, value in positive.items():
        if not value > 0:
            raise UserError(f"setting {key!r} must be > 0, got {value}")
    non_negative = {"weight_decay": cfg.weight_decay, "momentum": cfg.momentum, "grad_clip": cfg.grad_clip,
                    "label_smoothing": cfg.label_smoothing, "warmup_epochs": cfg.warmup_epochs,
                    "early_stop_patience": cfg.early_stop_patience, "stuck_epochs": cfg.stuck_epochs,
                    "subset": cfg.subset, "min_lr": cfg.min_lr, "early_stop_min_delta": cfg.early_stop_min_delta}
    for key, value in non_negative.items():
        if value < 0:
            raise UserError(f"setting {key!r} must be >= 0, got {value}")
    fractions = {"val_fraction": (cfg.val_fraction, 0, 1), "pct_start": (cfg.pct_start, 0, 1),
                 "base_lr_ratio": (cfg.base_lr_ratio, 0, 1), "plateau_factor": (cfg.plateau_factor, 0, 1)}
    for key, (value, low, high) in fractions.items():
        if not low < value < high:
            raise UserError(f"setting {key!r} must be between {low} and {high} (exclusive), got {value}")
    for key in ("dropout", "dropout2d"):
        value = getattr(cfg, key)
        if value is not None and not 0 <= value < 1:
            raise UserError(f"setting {key!r} must be in [0, 1), got {value}")
    for key in ("beta1", "beta2"):
        if not 0 <= getattr(cfg, key) < 1:
            raise UserError(f"setting {key!r} must be in [0, 1), got {getattr(cfg, key)}")
    for key in ("width", "depth", "mlp_dim", "token_dim", "heads", "patch"):
        value = getattr(cfg, key)
        if value is not None and value < 1:
            raise UserError(f"setting {key!r} must be >= 1, got {value}")
    for key in ("hidden", "channels"):
        sizes = getattr(cfg, key) or ()
        if any(size < 1 for size in sizes):
            raise UserError(f"setting {key!r}: every size must be >= 1, got {tuple(sizes)}")
    if cfg.label_smoothing >= 1:
        raise UserError(f"setting 'label_smoothing' must be below 1, got {cfg.label_smoothing}")
    if cfg.gamma is not None and not 0 < cfg.gamma <= 1:
        raise UserError(f"setting 'gamma' must be in (0, 1], got {cfg.gamma}")
    for key in ("early_stop_metric", "best_metric"):
        if getattr(cfg, key) not in select.SELECTION_METRICS:
            raise UserError(f"{key} must be one of {', '.join(select.SELECTION_METRICS)}, got {getattr(cfg, key)!r}")
    if cfg.precision not in ("auto", "fp32", "bf16", "fp16"):
        raise UserError(f"precision must be auto, fp32, bf16 or fp16, got {cfg.precision!r}")
    if cfg.channels_last not in ("auto", "on", "off"):
        raise UserError(f"channels_last must be auto, on or off, got {cfg.channels_last!r}")
    if cfg.scheduler_interval not in ("auto", "batch", "epoch"):
        raise UserError(f"scheduler_interval must be auto, batch or epoch, got {cfg.scheduler_interval!r}")
    if cfg.normalize not in ("train", "half", "none"):
        raise UserError(f"normalize must be train, half or none, got {cfg.normalize!r}")
    if cfg.nesterov and (cfg.optimizer != "sgd" or cfg.momentum <= 0):
        raise UserError("nesterov=true needs optimizer sgd with momentum > 0")
    if cfg.warmup_epochs and not kind.accepts_warmup:
        raise UserError(f"scheduler {cfg.scheduler!r} has its own warm-up; set warmup_epochs=0 "
                        f"(onecycle: tune pct_start; cyclic: base_lr_ratio)")
    if kind.reads_val_loss and cfg.scheduler_interval == "batch":
        raise UserError(f"scheduler {cfg.scheduler!r} reads the validation loss and can only step per epoch")


MODEL_FIELDS = ("model", "model_args", "hidden", "channels", "width", "depth", "mlp_dim", "token_dim", "heads", "patch", "dropout",
                "dropout2d", "batch_norm")


def check_buildable(cfg: TrainConfig, image_shape: tuple[int, int, int], num_classes: int,
                    built: dict[str, int] | None = None, memory: Memory | None = None) -> None:
    """validate(), then build the model on the meta device (no memory, no arithmetic) and run one batch
    through it, then its optimizer and schedule: what fit() would build, minus the data; with `memory` (the trial's,
    tuner.train.memory), its parameters, gradients and optimizer state must fit in it. `built` remembers the model
    settings already built (and their parameter counts), so a grid of learning rates builds its model once."""
    validate(cfg)
    key = repr([getattr(cfg, name) for name in MODEL_FIELDS] + [image_shape, num_classes])
    if built is None or key not in built:
        with torch.device("meta"):
            try:
                model = models.build(cfg, image_shape, num_classes)
            except BUILD_ERRORS as exc:
                raise UserError(f"model {cfg.model!r} cannot be built with "
                                f"{_model_settings(cfg)}: {type(exc).__name__}: {_first_line(exc)}") from None
            try:
                out = model(torch.zeros(2, *image_shape))
            except Exception as exc:  # a user's forward() can raise anything; on the meta device it means: cannot run
                raise UserError(f"model {cfg.model!r} cannot take {'x'.join(map(str, image_shape))} images: "
                                f"{_first_line(exc)}") from None
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, num_classes):
                got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise UserError(f"model {cfg.model!r} returns {got} for a batch of 2 images; a classifier of "
                                f"{num_classes} classes must return (2, {num_classes})")
        num_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        if built is not None:
            built[key] = num_params
    else:
        num_params = built[key]
    try:
        optimizer = optim.build_optimizer([torch.nn.Parameter(torch.zeros(1))], cfg)
        optim.Schedule(optimizer, cfg, steps_per_epoch=1)
    except BUILD_ERRORS as exc:
        raise UserError(f"optimizer {cfg.optimizer!r} with scheduler {cfg.scheduler!r} cannot be built: "
                        f"{_first_line(exc)}") from None
    check_fits(cfg, num_params, memory)


BUILD_ERRORS = (RuntimeError, ValueError, ZeroDivisionError, IndexError, TypeError, AssertionError)  # what
#   PyTorch raises for sizes it cannot build; a UserError names the setting


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0]


def _model_settings(cfg: TrainConfig) -> str:
    values = {name: getattr(cfg, name) for name in MODEL_FIELDS[1:] if getattr(cfg, name) is not None}
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "its default sizes"


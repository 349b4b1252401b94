"""Models from anywhere: a configuration's `model` that is a reference rather than a name in MODELS.

    "package.module:function"   factory(image_shape, num_classes, **model_args) -> nn.Module
    "tuner_sweep_file:function" the same, defined in the sweep file (tuner.train.usercode)
    "torchvision:NAME"          a classifier builder of torchvision.models, num_classes set, the first layer adapted to
                                the data (adaptations() says what changed); weights only from a local file
                                (`model.weights`: a state dict saved from the same builder), never a download
    "timm:NAME"                 timm.create_model(NAME, num_classes=..., in_chans=...) when timm is installed

The model's own hyperparameters are TrainConfig.model_args (`model.depth` in a space or `fixed`), passed as keyword
arguments. A factory that raises is a UserError naming the model and its arguments.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tuner.errors import UserError
from tuner.train import usercode

ImageShape = tuple[int, int, int]
SMALL_IMAGE = 64  # at most this many pixels a side: a torchvision ResNet's 7x7/2 stem and max pool are replaced
WEIGHTS_ARG = "weights"  # model.weights: a local state dict for a torchvision or timm model


def check_name(name: str) -> None:
    """The reference can be resolved here (no model built): a UserError otherwise."""
    library, _, arch = name.partition(":")
    if library == "torchvision":
        _torchvision_builder(arch)
    elif library == "timm":
        _timm().is_model(arch) or _unknown_timm(arch)
    else:
        usercode.resolve(name, "model")


def build(name: str, model_args: dict[str, Any], image_shape: ImageShape, num_classes: int) -> nn.Module:
    model, _ = build_with_changes(name, model_args, image_shape, num_classes)
    return model


def adaptations(name: str, model_args: dict[str, Any], image_shape: ImageShape, num_classes: int) -> list[str]:
    """What tuner changed in a library model to fit the data (built on the meta device): for --dry-run and
    spec.json."""
    with torch.device("meta"):
        return build_with_changes(name, model_args, image_shape, num_classes, load_weights=False)[1]


def build_with_changes(name: str, model_args: dict[str, Any], image_shape: ImageShape, num_classes: int,
                       load_weights: bool = True) -> tuple[nn.Module, list[str]]:
    library, _, arch = name.partition(":")
    args = dict(model_args)
    weights = args.pop(WEIGHTS_ARG, None) if library in usercode.LIBRARIES else None
    if weights is not None:
        _check_weights_file(name, weights)
    load_weights = load_weights and weights is not None and torch.empty(0).device.type != "meta"
    if library == "torchvision":
        model, changes = _torchvision(arch, args, image_shape, num_classes, weights, load_weights)
    elif library == "timm":
        model, changes = _call(name, lambda: _timm().create_model(arch, pretrained=False, num_classes=num_classes,
                                                                  in_chans=image_shape[0], **args), args), []
        if load_weights:
            _load(model, weights, name)
    else:
        factory = usercode.resolve(name, "model")
        model, changes = _call(name, lambda: factory(tuple(image_shape), num_classes, **args), args), []
    if not isinstance(model, nn.Module):
        raise UserError(f"model {name!r}{_args_text(args)} returned a {type(model).__name__}, not a torch nn.Module")
    return model, changes


def _call(name: str, make: Any, args: dict[str, Any]) -> Any:
    try:
        return make()
    except UserError as exc:
        raise UserError(f"model {name!r}{_args_text(args)}: {exc}") from None
    except Exception as exc:
        raise UserError(f"model {name!r}{_args_text(args)} raised {type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}") from None


def _args_text(args: dict[str, Any]) -> str:
    return f"({', '.join(f'{k}={v!r}' for k, v in sorted(args.items()))})" if args else ""


# ---------------------------------------------------------------- torchvision


def _torchvision_builder(arch: str) -> Any:
    import torchvision.models as tvm

    names = tvm.list_models(module=tvm)  # the ImageNet classifiers (not detection, segmentation, video)
    if arch not in names:
        import difflib

        close = difflib.get_close_matches(arch, names, n=1)
        raise UserError(f"torchvision has no classifier {arch!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                        + "; see torchvision.models.list_models(module=torchvision.models)")
    return tvm.get_model_builder(arch)


def _torchvision(arch: str, args: dict[str, Any], shape: ImageShape, num_classes: int, weights: str | None,
                 load_weights: bool) -> tuple[nn.Module, list[str]]:
    builder = _torchvision_builder(arch)
    name = f"torchvision:{arch}"
    changes: list[str] = []
    c, h, w = shape
    if "image_size" in inspect.signature(builder).parameters or arch.startswith("vit_"):
        if h != w:
            raise UserError(f"model {name!r} takes square images, the data's are {h}x{w}")
        if h != 224 and "image_size" not in args:
            args = {**args, "image_size": h}
            changes.append(f"image_size={h} (the builder's default is 224)")
    if weights is None:
        model = _call(name, lambda: builder(weights=None, num_classes=num_classes, **args), args)
    else:  # the saved state dict has the builder's own head: load it, then replace the head
        model = _call(name, lambda: builder(weights=None, **args), args)
        if load_weights:
            _load(model, weights, name)
        changes.append(f"weights from {weights}")
        changes += _replace_head(model, num_classes)
    changes += _adapt_stem(model, arch, shape)
    return model, changes


def _replace_head(model: nn.Module, num_classes: int) -> list[str]:
    """The last Linear layer (the classifier) gets num_classes outputs."""
    path, last = next(((p, m) for p, m in reversed(list(model.named_modules())) if isinstance(m, nn.Linear)),
                      (None, None))
    if last is None or last.out_features == num_classes:
        return []
    _set(model, path, nn.Linear(last.in_features, num_classes, bias=last.bias is not None))
    return [f"{path}: {last.out_features} -> {num_classes} outputs (new, untrained)"]


def _adapt_stem(model: nn.Module, arch: str, shape: ImageShape) -> list[str]:
    """The first convolution takes the data's channels; a ResNet-style 7x7/2 stem and its max pool are replaced by a
    3x3/1 convolution for small images (as for CIFAR), which would otherwise be 8x8 after the stem."""
    c, h, w = shape
    path, conv = next(((p, m) for p, m in model.named_modules() if isinstance(m, nn.Conv2d)), (None, None))
    if conv is None:
        return []
    changes = []
    small = max(h, w) <= SMALL_IMAGE and conv.kernel_size == (7, 7) and conv.stride == (2, 2) \
        and isinstance(getattr(model, "maxpool", None), nn.MaxPool2d)
    if small:
        new = nn.Conv2d(c, conv.out_channels, 3, stride=1, padding=1, bias=conv.bias is not None)
        _set(model, path, new)
        model.maxpool = nn.Identity()
        changes.append(f"{path}: 7x7 stride 2 -> 3x3 stride 1, maxpool removed ({h}x{w} images are small"
                       + (f"; {conv.in_channels} -> {c} input channels" if c != conv.in_channels else "") + ")")
    elif conv.in_channels != c:
        new = nn.Conv2d(c, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                        conv.groups if conv.groups == 1 else c, conv.bias is not None, conv.padding_mode)
        if conv.weight.device.type != "meta":  # keep what was learnt: the mean over the old input channels
            with torch.no_grad():
                new.weight.copy_(conv.weight.mean(1, keepdim=True).expand_as(new.weight))
        _set(model, path, new)
        changes.append(f"{path}: {conv.in_channels} -> {c} input channels")
    return changes


def _set(model: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, attr = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, attr, module)


def _check_weights_file(name: str, weights: Any) -> None:
    if not isinstance(weights, str) or not Path(weights).expanduser().is_file():
        raise UserError(f"model {name!r}: model.weights must be a local file holding a state dict, got {weights!r} "
                        "(tuner downloads no weights)")


def _load(model: nn.Module, weights: str, name: str) -> None:
    import pickle

    try:  # tensors only, as every checkpoint tuner reads: a weights file cannot run code
        state = torch.load(Path(weights).expanduser(), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError) as exc:
        raise UserError(f"model {name!r}: cannot load {weights} as a state dict: {str(exc).splitlines()[0]}") from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise UserError(f"model {name!r}: {weights} does not fit it: {str(exc).splitlines()[0]}") from None


# ---------------------------------------------------------------- timm


def _timm() -> Any:
    try:
        import timm
    except ImportError:
        raise UserError("timm models need timm: pip install -e \".[timm]\"") from None
    return timm


def _unknown_timm(arch: str) -> None:
    raise UserError(f"timm has no model {arch!r}; see timm.list_models()")

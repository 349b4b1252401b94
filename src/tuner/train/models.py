"""MODELS: every architecture of the source studies, one registry, config knobs for width/depth/dropout/BN.

Defaults reproduce the studies' architectures; knobs (TrainConfig.hidden, channels, width,
depth, mlp_dim, token_dim, heads, patch, dropout, dropout2d, batch_norm) change them:

- mlp       S0 784-512-512-10, dropout .2.  S1: hidden=128.  S4: hidden=128,64.
            S2: hidden=512,256 batch_norm=true dropout=.4 (on 3x32x32 input: 3072-512-256-10)
- cnn       S0 conv 32/64/128 (3x3, ReLU, 2x2 max pool), FC 256-128, dropout .5.
            S2: batch_norm=true dropout2d=.1 dropout=.4 hidden="" (no hidden FC: dropout, then the classifier)
- tinyvgg   S3: two blocks of conv-ReLU-conv-ReLU-maxpool, width = hidden units (default 128)
- resnet12  S3: four residual blocks of three 3x3 conv+BN, widths (w, 2w, 4w, 8w), default w=64
- gru       S3: image rows as a sequence, width = hidden size (64), depth = layers (2)
- vit       S3: patch 4, embedding 64, depth 8, 8 heads, MLP 512, dropout .1
- mixer     S3: patch 4, embedding 64, depth 6, token MLP 64, channel MLP 128, dropout .1
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from tuner.train import factories, usercode
from tuner.train.config import TrainConfig
from tuner.errors import UserError, unknown_name

ImageShape = tuple[int, int, int]
ModelFactory = Callable[[TrainConfig, ImageShape, int], nn.Module]
MODELS: dict[str, ModelFactory] = {}
CONV_MODELS: set[str] = set()  # models whose step is dominated by convolutions (precision/layout choice)


def register_model(convolutional: bool = False) -> Callable[[ModelFactory], ModelFactory]:
    def add(factory: ModelFactory) -> ModelFactory:
        MODELS[factory.__name__] = factory
        if convolutional:
            CONV_MODELS.add(factory.__name__)
        return factory
    return add


def build(cfg: TrainConfig, image_shape: ImageShape, num_classes: int) -> nn.Module:
    if usercode.is_reference(cfg.model):  # the user's own model, or a library's (tuner.train.factories)
        return factories.build(cfg.model, cfg.model_args, tuple(image_shape), num_classes)
    if cfg.model not in MODELS:
        raise unknown_name("model", cfg.model, MODELS)
    return MODELS[cfg.model](cfg, tuple(image_shape), num_classes)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _pick(value, default):
    return default if value is None else value


class Dropout(nn.Module):
    """nn.Dropout with a cheaper mask on CPU: four keep-decisions per 32-bit random draw.

    torch's CPU `bernoulli_` draws one Mersenne-Twister number per element and took a
    quarter of an MLP step here; the mask costs a third of that from random bytes.
    On CPU, p is rounded to a multiple of 1/256 (0.2 -> 0.1992); other devices, and p so close to 1 that
    the rounding would drop everything, use F.dropout.
    """

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.threshold = round(p * 256)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if x.device.type != "cpu" or self.threshold >= 256:  # p above 255.5/256 keeps nothing at 1/256 steps
            return F.dropout(x, self.p, True)
        n = x.numel()
        words = torch.randint(-2 ** 31, 2 ** 31, ((n + 3) // 4,), dtype=torch.int32)
        keep = words.view(torch.uint8)[:n].view(x.shape) >= self.threshold
        return x * keep * (256 / (256 - self.threshold))

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _dense_stack(sizes: list[int], dropout: float, batch_norm: bool) -> list[nn.Module]:
    """Linear -> [BN] -> ReLU -> [Dropout] for each consecutive pair in sizes."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(n_in, n_out)]
        if batch_norm:
            layers += [nn.BatchNorm1d(n_out)]
        layers += [nn.ReLU(inplace=True)]
        if dropout:
            layers += [Dropout(dropout)]
    return layers


@register_model()
def mlp(cfg: TrainConfig, shape: ImageShape, num_classes: int) -> nn.Module:
    hidden = list(_pick(cfg.hidden, (512, 512)))
    c, h, w = shape
    layers = _dense_stack([c * h * w] + hidden, _pick(cfg.dropout, 0.2), _pick(cfg.batch_norm, False))
    return nn.Sequential(nn.Flatten(), *layers, nn.Linear(([c * h * w] + hidden)[-1], num_classes))


@register_model(convolutional=True)
def cnn(cfg: TrainConfig, shape: ImageShape, num_classes: int) -> nn.Module:
    channels = list(_pick(cfg.channels, (32, 64, 128)))
    hidden = list(_pick(cfg.hidden, (256, 128)))
    if not channels:
        raise UserError("cnn needs at least one conv stage in channels")
    batch_norm, drop2d = _pick(cfg.batch_norm, False), _pick(cfg.dropout2d, 0.0)
    c, h, w = shape
    if h >> len(channels) < 1 or w >> len(channels) < 1:
        raise UserError(f"cnn with {len(channels)} pooling stages needs images of at least {2 ** len(channels)} px")
    layers: list[nn.Module] = []
    for n_in, n_out in zip([c] + channels, channels):
        layers += [nn.Conv2d(n_in, n_out, 3, padding=1, bias=not batch_norm)]
        layers += [nn.BatchNorm2d(n_out)] if batch_norm else []
        layers += [nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        layers += [nn.Dropout2d(drop2d)] if drop2d else []
    flat = channels[-1] * (h >> len(channels)) * (w >> len(channels))
    dropout = _pick(cfg.dropout, 0.5)
    # with hidden layers, dropout follows each one (S0); without, it sits before the classifier (S2)
    head = _dense_stack([flat] + hidden, dropout, batch_norm) if hidden else [Dropout(dropout)] if dropout else []
    return nn.Sequential(*layers, nn.Flatten(), *head, nn.Linear(([flat] + hidden)[-1], num_classes))


@register_model(convolutional=True)
def tinyvgg(cfg: TrainConfig, shape: ImageShape, num_classes: int) -> nn.Module:
    width = _pick(cfg.width, 128)
    c, h, w = shape

    def block(n_in: int) -> list[nn.Module]:
        return [nn.Conv2d(n_in, width, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2)]

    dropout = _pick(cfg.dropout, 0.0)
    head = [Dropout(dropout)] if dropout else []
    return nn.Sequential(*block(c), *block(width), nn.Flatten(), *head,
                         nn.Linear(width * (h // 4) * (w // 4), num_classes))


class ResidualBlock(nn.Module):
    """Three 3x3 conv+BN (leaky ReLU between), a 1x1 conv+BN shortcut, then ReLU and 2x2 max pool."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        conv = lambda a, b: [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b)]  # noqa: E731
        self.body = nn.Sequential(*conv(n_in, n_out), nn.LeakyReLU(0.1, inplace=True),
                                  *conv(n_out, n_out), nn.LeakyReLU(0.1, inplace=True), *conv(n_out, n_out))
        self.shortcut = nn.Sequential(nn.Conv2d(n_in, n_out, 1, bias=False), nn.BatchNorm2d(n_out))
        self.out = nn.Sequential(nn.LeakyReLU(0.1, inplace=True), nn.MaxPool2d(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x) + self.shortcut(x))


@register_model(convolutional=True)
def resnet12(cfg: TrainConfig, shape: ImageShape, num_classes: int) -> nn.Module:
    base = _pick(cfg.width, 64)
    channels = list(_pick(cfg.channels, (base, 2 * base, 4 * base, 8 * base)))
    blocks = [ResidualBlock(a, b) for a, b in zip([shape[0]] + channels, channels)]
    dropout = _pick(cfg.dropout, 0.0)
    head = [Dropout(dropout)] if dropout else []
    return nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), *head, nn.Linear(channels[-1], num_classes))


class RowGRU(nn.Module):
    """Reads an image top to bottom, one row (all channels) per time step; classifies the last state."""

    def __init__(self, shape: ImageShape, hidden: int, layers: int, dropout: float, num_classes: int):
        super().__init__()
        c, _, w = shape
        self.gru = nn.GRU(c * w, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.permute(0, 2, 1, 3).flatten(2)  # (B, H, C*W)
        out, _ = self.gru(rows)
        return self.head(out[:, -1])


@register_model()
def gru(cfg: TrainConfig, shape: ImageShape, num_classes: int) -> nn.Module:
    return RowGRU(shape, _pick(cfg.width, 64), _pick(cfg.depth, 2), _pick(cfg.dropout, 0.0), num_classes)


class PatchEmbed(nn.Module):
    def __init__(self, shape: ImageShape, patch: int, dim: int):
        super().__init__()
        c, h, w = shape
        if h % patch or w % patch:
            raise UserError(f"patch {patch} does not divide the {h}x{w} image")
        self.num_patches = (h // patch) * (w // patch)
        self.proj = nn.Conv2d(c, dim, patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, N, dim)


class ViT(nn.Module):
    """Pre-norm transformer encoder over patches with a class token and learned position embeddings."""

    def __init__(self, shape: ImageShape, patch: int, dim: int, depth: int, heads: int, mlp_dim: int,
                 dropout: float, num_classes: int):
        super().__init__()
        if dim % heads:
            raise UserError(f"vit embedding size {dim} must be divisible by heads {heads}")
        self.embed = PatchEmbed(shape, patch, dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, self.embed.num_patches + 1, dim) * 0.02)
        self.drop = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(dim, heads, mlp_dim, dropout, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(x)
        tokens = torch.cat([self.cls.expand(len(x), -1, -1), tokens], dim=1) + self.pos
        return self.head(self.norm(self.encoder(self.drop(tokens))[:, 0]))


@register_model()
def vit(cfg: TrainConfig, shape: ImageShape, num_classes: int) -> nn.Module:
    return ViT(shape, _pick(cfg.patch, 4), _pick(cfg.width, 64), _pick(cfg.depth, 8), _pick(cfg.heads, 8),
               _pick(cfg.mlp_dim, 512), _pick(cfg.dropout, 0.1), num_classes)


def _feed_forward(dim: int, hidden: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim),
                         nn.Dropout(dropout))


class MixerBlock(nn.Module):
    def __init__(self, tokens: int, dim: int, token_dim: int, channel_dim: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.token_mix = _feed_forward(tokens, token_dim, dropout)
        self.channel_mix = _feed_forward(dim, channel_dim, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.token_mix(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mix(self.norm2(x))


class Mixer(nn.Module):
    def __init__(self, shape: ImageShape, patch: int, dim: int, depth: int, token_dim: int, channel_dim: int,
                 dropout: float, num_classes: int):
        super().__init__()
        self.embed = PatchEmbed(shape, patch, dim)
        self.blocks = nn.Sequential(*[MixerBlock(self.embed.num_patches, dim, token_dim, channel_dim, dropout)
                                      for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.blocks(self.embed(x))).mean(dim=1))


@register_model()
def mixer(cfg: TrainConfig, shape: ImageShape, num_classes: int) -> nn.Module:
    return Mixer(shape, _pick(cfg.patch, 4), _pick(cfg.width, 64), _pick(cfg.depth, 6), _pick(cfg.token_dim, 64),
                 _pick(cfg.mlp_dim, 128), _pick(cfg.dropout, 0.1), num_classes)


def main(argv: list[str] | None = None) -> int:
    """python -m tuner.models [--shape CxHxW] [--set k=v ...]: every model with its parameter count."""
    import argparse

    from tuner.train.config import parse_assignments

    parser = argparse.ArgumentParser(
        prog="tuner models", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="List the models and their parameter counts for one input shape (python -m tuner.models is the "
                    "same).",
        epilog="examples:\n  tuner models                                   3x32x32 images (CIFAR-10)\n"
               "  tuner models --shape 1x28x28 --set hidden=512,512   MNIST, the README's 784-512-512-10 MLP")
    parser.add_argument("--shape", default="3x32x32", help="input image shape CxHxW (default 3x32x32)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="model knobs, e.g. width=32")
    args = parser.parse_args(argv)
    try:
        shape = tuple(int(v) for v in args.shape.split("x"))
    except ValueError:
        raise UserError(f"--shape must be CxHxW like 3x32x32, got {args.shape!r}") from None
    knobs = parse_assignments(args.set)
    given = ", ".join(f"{k}={v}" for k, v in knobs.items()) or "each model's defaults"
    print(f"parameters for {'x'.join(map(str, shape))} input images and 10 classes, {given} "
          "(the count depends on both: --shape 1x28x28 for MNIST, --set hidden=512,512 for the README's MLP)")
    for name in sorted(MODELS):
        model = build(TrainConfig.from_dict({**knobs, "model": name}), shape, 10)
        print(f"{name:<10} {count_parameters(model):>12,} parameters  ({'conv' if name in CONV_MODELS else 'dense'})")
    return 0


if __name__ == "__main__":
    import sys

    from tuner.errors import run_cli

    sys.exit(run_cli(main))

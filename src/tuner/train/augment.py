"""Batched augmentation on the training device, with an independent random draw per sample.

torchvision's v2 transforms draw once per call, so a whole batch tensor would share one
flip, one crop and one angle. Here every geometric change (flip, crop with padding,
rotation, translate/scale/shear) of a sample becomes one affine matrix, and the batch is
resampled once with `grid_sample`; colour jitter and cutout draw per sample too.
Images are floats in [0, 1], (B, C, H, W); padding and cutout fill with black (0), as
torchvision's `RandomCrop(padding=...)` does on PIL images.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from tuner.errors import unknown_name


@dataclass(frozen=True)
class Augment:
    flip: bool = False  # horizontal flip with probability 0.5
    crop_padding: int = 0  # pixels of zero padding, then a random crop back to the image size
    rotate_degrees: float = 0.0  # uniform angle in [-d, d]
    translate: float = 0.0  # fraction of the image size, uniform in [-t, t] per axis
    scale: tuple[float, float] = (1.0, 1.0)  # uniform zoom factor range
    shear_degrees: float = 0.0  # uniform x-shear angle in [-d, d]
    brightness: float = 0.0  # factor uniform in [1 - b, 1 + b]
    contrast: float = 0.0  # factor uniform in [1 - c, 1 + c], around each image's mean grey
    saturation: float = 0.0  # factor uniform in [1 - s, 1 + s], around each pixel's grey (RGB only)
    cutout: int = 0  # side in pixels of one zeroed square per image, centre uniform over the image

    @property
    def is_identity(self) -> bool:
        return self == Augment()

    @property
    def needs_interpolation(self) -> bool:
        return bool(self.rotate_degrees or self.translate or self.shear_degrees or self.scale != (1.0, 1.0))

    @property
    def is_geometric(self) -> bool:
        return self.flip or self.crop_padding > 0 or self.needs_interpolation

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.is_geometric:
            x = self._geometric(x, generator)
        if self.brightness or self.contrast or self.saturation:
            x = self._colour(x, generator)
        if self.cutout:
            x = self._cutout(x, generator)
        return x

    def _uniform(self, n: int, low: float, high: float, x: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
        return torch.rand(n, generator=g, device=x.device, dtype=torch.float32) * (high - low) + low

    def _geometric(self, x: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
        """Compose flip, rotation, shear, scale, translation and crop offset into one output->input map.

        In grid_sample's normalised units: input = Flip . Shear . Rotate / zoom . output + shift.
        """
        n, _, h, w = x.shape
        r = torch.rand(8, n, 1, 1, generator=g, device=x.device, dtype=torch.float32)
        a11 = a22 = torch.ones_like(r[0])
        a12 = a21 = torch.zeros_like(r[0])
        if self.rotate_degrees:
            angle = (r[0] * 2 - 1) * torch.pi * self.rotate_degrees / 180
            a11, a12, a21, a22 = torch.cos(angle), -torch.sin(angle), torch.sin(angle), torch.cos(angle)
        if self.scale != (1.0, 1.0):
            zoom = self.scale[0] + r[1] * (self.scale[1] - self.scale[0])
            a11, a12, a21, a22 = a11 / zoom, a12 / zoom, a21 / zoom, a22 / zoom
        if self.shear_degrees:
            shear = torch.tan((r[2] * 2 - 1) * torch.pi * self.shear_degrees / 180)
            a11, a12 = a11 + shear * a21, a12 + shear * a22
        if self.flip:
            sign = torch.where(r[3] < 0.5, -1.0, 1.0)
            a11, a12 = a11 * sign, a12 * sign
        tx = (r[4] * 2 - 1) * (2 * self.translate)
        ty = (r[5] * 2 - 1) * (2 * self.translate)
        if self.crop_padding:
            p = self.crop_padding
            tx = tx + (r[6] * (2 * p + 1)).floor().sub(p) * (2 / w)
            ty = ty + (r[7] * (2 * p + 1)).floor().sub(p) * (2 / h)
        ys, xs = _pixel_centres(h, w, x.device)
        grid = torch.stack([a11 * xs + a12 * ys + tx, a21 * xs + a22 * ys + ty], dim=-1).to(x.dtype)
        mode = "bilinear" if self.needs_interpolation else "nearest"
        return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)

    def _colour(self, x: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
        n = x.shape[0]
        view = (n, 1, 1, 1)
        if self.brightness:
            x = x * self._uniform(n, 1 - self.brightness, 1 + self.brightness, x, g).view(view).to(x.dtype)
        if self.contrast:
            factor = self._uniform(n, 1 - self.contrast, 1 + self.contrast, x, g).view(view).to(x.dtype)
            mean = _grey(x).mean(dim=(1, 2, 3), keepdim=True)
            x = (x - mean) * factor + mean
        if self.saturation and x.shape[1] == 3:
            factor = self._uniform(n, 1 - self.saturation, 1 + self.saturation, x, g).view(view).to(x.dtype)
            grey = _grey(x)
            x = (x - grey) * factor + grey
        return x.clamp(0, 1)

    def _cutout(self, x: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
        n, _, h, w = x.shape
        cy = torch.randint(0, h, (n, 1, 1), generator=g, device=x.device)
        cx = torch.randint(0, w, (n, 1, 1), generator=g, device=x.device)
        rows = torch.arange(h, device=x.device).view(1, h, 1)
        cols = torch.arange(w, device=x.device).view(1, 1, w)
        half = self.cutout / 2
        hole = ((rows - cy).abs() < half) & ((cols - cx).abs() < half)
        return x.masked_fill(hole.unsqueeze(1), 0)


def _pixel_centres(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel centres in grid_sample's normalised coordinates (align_corners=False), as (1, H, 1) and (1, 1, W)."""
    ys = (torch.arange(h, device=device, dtype=torch.float32) * 2 + 1) / h - 1
    xs = (torch.arange(w, device=device, dtype=torch.float32) * 2 + 1) / w - 1
    return ys.view(1, h, 1), xs.view(1, 1, w)


def _grey(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] != 3:
        return x
    weights = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)


AUGMENTS: dict[str, Augment] = {
    "none": Augment(),
    "flip": Augment(flip=True),
    "crop": Augment(crop_padding=4),
    "flip_crop": Augment(flip=True, crop_padding=4),
    "flip_crop_rotate": Augment(flip=True, crop_padding=4, rotate_degrees=15),
    "rotate_crop": Augment(crop_padding=2, rotate_degrees=10),  # digits: no flips
    "affine": Augment(translate=0.1, scale=(0.9, 1.1), shear_degrees=10, rotate_degrees=10),
    "jitter": Augment(brightness=0.2, contrast=0.2, saturation=0.2),
    "flip_crop_rotate_jitter": Augment(flip=True, crop_padding=4, rotate_degrees=15, brightness=0.2, contrast=0.2,
                                       saturation=0.2),
    "strong": Augment(flip=True, crop_padding=4, rotate_degrees=15, translate=0.05, scale=(0.9, 1.1),
                      shear_degrees=8, brightness=0.3, contrast=0.3, saturation=0.3, cutout=8),
}


def get(name: str) -> Augment:
    if name not in AUGMENTS:
        raise unknown_name("augmentation", name, AUGMENTS)
    return AUGMENTS[name]


def describe(name: str) -> str:
    aug = get(name)
    parts = [f"{f.name}={getattr(aug, f.name)}" for f in fields(aug) if getattr(aug, f.name) != f.default]
    return f"{name}: " + (", ".join(parts) if parts else "identity")


"""Bytes a trial keeps on disk, per shipped model (MODELS), at their default sizes: the one checkpoint (state.pt)
a running, interrupted or errored trial keeps, and the one an ended trial keeps (best-epoch weights only).

    python benchmarks/disk/checkpoint_bytes.py            # CIFAR-shaped 3x32x32 images, 10 classes, Adam

Each model trains one epoch on a small synthetic set (the state's size does not depend on the data's size).
"""

from __future__ import annotations

import io
import sys

import torch

from tuner import train
from tuner.train.models import MODELS


def size(obj: object) -> int:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.tell()


def measure(model: str, shape: str = "3x32x32") -> tuple[int, int, int, int]:
    states: list[dict] = []
    config = {"data": f"synthetic:{shape}", "model": model, "epochs": 2, "optimizer": "adam", "subset": 200,
              "batch_size": 50, "val_fraction": 0.25}
    result = train.fit(config, on_epoch=lambda record, state: states.append(state()))
    weights = size(result.model.state_dict())
    return result.num_params, weights, size(states[0]), size(states[-1])


def main() -> int:
    print(f"{'model':<10}{'params':>12}{'weights':>12}{'running':>12}{'ended':>12}   (bytes; torch {torch.__version__})")
    for name in sorted(MODELS):
        params, weights, running, ended = measure(name)
        print(f"{name:<10}{params:>12,}{weights:>12,}{running:>12,}{ended:>12,}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

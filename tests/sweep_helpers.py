"""Small real sweeps on synthetic data for the engine tests."""

import textwrap
from pathlib import Path

HEADER = "from ray import tune\nfrom tuner.spec import Sweep\n\n"
TINY = '{"hidden": (32,), "batch_size": 100}'


def write_sweep(folder: Path, body: str, name: str = "tiny.py") -> Path:
    path = folder / name
    path.write_text(HEADER + textwrap.dedent(body))
    return path

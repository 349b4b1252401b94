"""Does a model fit the memory its trial has? A lower bound, checked before Ray starts: every parameter's fp32
weight and gradient and its optimizer's state (measured on a small tensor for the configuration's optimizer), against
the trial's share of a GPU's memory or the RAM this machine has available. Activations and the resident data come
on top, so a configuration that fails here cannot run; one that passes may still be tight."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from tuner.errors import UserError
from tuner.train import optim
from tuner.train.config import TrainConfig

PROBE = 4096  # elements of the tensor an optimizer steps once to measure its state per parameter
WEIGHT_AND_GRAD = 8  # fp32 weight + fp32 gradient (autocast keeps fp32 weights), bytes per parameter


@dataclass(frozen=True)
class Memory:
    """The bytes a trial can have, and where they are (for the error line)."""

    size: int
    where: str


def trial_memory(gpu: float) -> Memory | None:
    """A trial's memory: `gpu` (its share) of this machine's first GPU, or this machine's available RAM for a CPU
    trial; None where it cannot be known here (GPU trials on a cluster whose driver has no GPU, no /proc/meminfo)."""
    if gpu > 0:
        if not torch.cuda.is_available():
            return None
        props = torch.cuda.get_device_properties(0)
        share = min(gpu, 1.0)
        return Memory(int(props.total_memory * share), f"of GPU memory a trial gets ({share:g} of {props.name}'s "
                                                        f"{gib(props.total_memory)})")
    available = _mem_available()
    return Memory(available, "of RAM available on this machine") if available else None


def state_bytes_per_parameter(cfg: TrainConfig) -> float:
    """Bytes of optimizer state per parameter for the configuration's optimizer (0 for plain SGD, 8 for Adam)."""
    param = torch.nn.Parameter(torch.zeros(PROBE))
    param.grad = torch.zeros(PROBE)
    optimizer = optim.build_optimizer([param], cfg)
    optimizer.step()
    tensors = [v for state in optimizer.state.values() for v in state.values() if isinstance(v, torch.Tensor)]
    return sum(t.numel() * t.element_size() for t in tensors if t.numel() == PROBE) / PROBE


def check_fits(cfg: TrainConfig, num_params: int, memory: Memory | None) -> None:
    """UserError when the parameters, their gradients and the optimizer state alone exceed `memory`."""
    if memory is None:
        return
    per_parameter = WEIGHT_AND_GRAD + state_bytes_per_parameter(cfg)
    needed = int(num_params * per_parameter)
    if needed > memory.size:
        raise UserError(f"model {cfg.model!r} has {num_params:,} parameters: their weights, gradients and "
                        f"{cfg.optimizer} state take at least {gib(needed)} ({per_parameter:g} bytes a parameter), "
                        f"more than the {gib(memory.size)} {memory.where}")


def gib(size: float) -> str:
    return f"{size / 2 ** 30:.1f} GiB"


def _mem_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None

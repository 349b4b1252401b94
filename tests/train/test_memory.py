"""A model's weights, gradients and optimizer state must fit the memory a trial has (tuner.train.memory): the bound
holds for every optimizer of the registry, measured against the state torch's optimizer really keeps."""

import pytest
import torch
from torch import nn

from tuner.errors import UserError
from tuner.train import optim
from tuner.train.config import TrainConfig
from tuner.train.memory import Memory, check_fits


def real_bytes(cfg: TrainConfig, model: nn.Module) -> int:
    """Weights, gradients and optimizer state of `model` after one real training step."""
    out = model(torch.randn(4, 6)).sum()
    out.backward()
    optimizer = optim.build_optimizer(model.parameters(), cfg)
    optimizer.step()
    params = list(model.parameters())
    state = [v for s in optimizer.state.values() for v in s.values() if isinstance(v, torch.Tensor) and v.dim()]
    return sum(2 * p.numel() * p.element_size() for p in params) + sum(v.numel() * v.element_size() for v in state)


@pytest.mark.parametrize("optimizer", sorted(optim.OPTIMIZERS))
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_the_bound_is_what_training_keeps_in_memory(optimizer, momentum):
    cfg = TrainConfig.from_dict({"optimizer": optimizer, "momentum": momentum})
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3))
    params = sum(p.numel() for p in model.parameters())
    needed = real_bytes(cfg, model)
    check_fits(cfg, params, Memory(needed, "here"))  # exactly enough
    with pytest.raises(UserError, match=f"has {params:,} parameters: their weights, gradients and {optimizer} state"):
        check_fits(cfg, params, Memory(needed - 1, "here"))

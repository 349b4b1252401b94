"""Your own model, swept by tuner: a small ResNet of this file's own, its depth and width searched with the optimizer,
learning rate and schedule, on MNIST within a 4-minute time budget.

    python -m tuner.sweep examples/own_model.py          # the command line
    python examples/own_model.py                          # the Python API: tuner.run(sweep), then the answer
    python -m tuner.sweep examples/own_model.py --dry-run # what would run, every configuration built first

The model is any function `factory(image_shape, num_classes, **model_args) -> nn.Module`; its keyword arguments are
searched or fixed as `model.NAME` (trials.csv: config/model.depth). Ray's workers get this file's functions with the
trials; --resume and `tuner rerun` find them in the run folder's copy of this file.
"""

from ray import tune
from torch import nn

from tuner import Sweep


class Block(nn.Module):
    """Two 3x3 convolutions with batch norm and a shortcut (1x1 where the width or the resolution changes)."""

    def __init__(self, n_in: int, n_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(n_in, n_out, 3, stride, 1, bias=False), nn.BatchNorm2d(n_out),
                                  nn.ReLU(inplace=True), nn.Conv2d(n_out, n_out, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(n_out))
        self.shortcut = nn.Identity() if n_in == n_out and stride == 1 else nn.Sequential(
            nn.Conv2d(n_in, n_out, 1, stride, bias=False), nn.BatchNorm2d(n_out))

    def forward(self, x):
        return (self.body(x) + self.shortcut(x)).relu()


def small_resnet(image_shape, num_classes, depth=1, width=16):
    """A stride-2 stem, then three stages of `depth` blocks at width, 2x width and 4x width (the last two halve the
    image again)."""
    channels = image_shape[0]
    layers = [nn.Conv2d(channels, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
    n_in = width
    for stage, n_out in enumerate((width, 2 * width, 4 * width)):
        for block in range(depth):
            layers.append(Block(n_in, n_out, 2 if stage and not block else 1))
            n_in = n_out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(n_in, num_classes))


sweep = Sweep(
    name="own_model",
    description="a small ResNet of its own: depth and width searched with optimizer, lr and schedule",
    data="mnist", model=small_resnet,
    fixed={"subset": 3000, "batch_size": 128, "momentum": 0.9},   # train+val on 3,000 images, test on all 10,000
    space={"model.depth": tune.choice([1, 2]), "model.width": tune.choice([8, 16]),
           "optimizer": tune.choice(["sgd", "adamw"]), "lr": tune.loguniform(1e-3, 1e-1),
           "scheduler": tune.choice(["cosine", "onecycle"])},
    start=[{"model.depth": 1, "model.width": 8, "optimizer": "adamw", "lr": 3e-3, "scheduler": "cosine"}],
    search="optuna", num_samples=12, max_epochs=3, time_budget_s=240, cpu=1,
)

if __name__ == "__main__":
    import tuner

    run = tuner.run(sweep)
    print(run.best)
    print(run.model())

"""S0 (studies/000_256847521f03bfe1.txt), MNIST augmentation experiment: Adam + StepLR with and without
rotation / horizontal flip / crop.

The study's protocol (section II.F.2 and III.A): the MLP of s0_mnist_grid.py (784-512-512-10, dropout .2,
batch 24, 20 epochs, Adam lr .001, StepLR), picked "because of its poor initial metric performance", trained
again with rotation, horizontal flipping and cropping.
What the study reported: without augmentation "88-91%", with augmentation "around 94%", test accuracy still
below train accuracy after 20 epochs (the text reads it as underfitting; "extending training could help").

Ambiguous, and what this file does:
- The augmentation parameters (angle, crop size or padding) are not given: tuner's `flip_crop_rotate`
  preset (horizontal flip p=.5, 4-pixel zero padding + random 28x28 crop, rotation uniform in +-15 degrees).
  Horizontal flips are wrong for digits (a flipped 2 is not a 2); the study used them, so they stay here;
  `--set augment=rotate_crop` is the digit-safe variant.
- StepLR settings as in s0_mnist_grid.py (step_size 10, gamma .1; not in the text).
Selection on a 10% validation split; the chosen configuration is tested once.

Budget: 2 settings x 3 seeds = 6 trials x 20 epochs = 120 trial-epochs (~10 min on 2 CPU cores).
    python -m tuner.sweep sweeps/seeds/s0_mnist_augment.py
"""

from ray import tune

from tuner import Sweep

sweep = Sweep(
    name="s0_mnist_augment",
    description="S0 MNIST MLP, Adam .001 + StepLR, batch 24, 20 ep: without vs with rotation/flip/crop",
    data="mnist",
    model="mlp",
    fixed={
        "hidden": (512, 512),
        "dropout": 0.2,
        "batch_size": 24,
        "normalize": "train",
        "val_fraction": 0.1,
        "optimizer": "adam",
        "lr": 0.001,
        "scheduler": "step",
        "step_size": 10,
        "gamma": 0.1,
    },
    space={"augment": tune.grid_search(["none", "flip_crop_rotate"])},
    search="grid",
    trial_scheduler="none",
    max_epochs=20,
    seeds=[0, 1, 2],
    cpu=1,
    gpu=0,
)

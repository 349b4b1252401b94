"""S0 (studies/000_256847521f03bfe1.txt), CIFAR-10 augmentation experiment: Adam + ReduceLROnPlateau with and
without rotation / horizontal flip / crop.

The study's protocol (section II.F.2 and III.B): the CNN of s0_cifar_grid.py (conv 32/64/128, FC 256-128,
dropout .5, batch 64, 30 epochs, Adam lr .001, ReduceLROnPlateau), retrained with rotation, horizontal flipping
and cropping.
What the study reported: without augmentation 47.32% test (train 45.65%); with augmentation "improved test
accuracy and reduced losses", no number given; "its impact on CIFAR-10 was less clear" (conclusion).

Ambiguous, and what this file does:
- Augmentation parameters are not given: tuner's `flip_crop_rotate` preset (flip p=.5, 4-pixel zero padding +
  random 32x32 crop, rotation uniform in +-15 degrees).
- ReduceLROnPlateau settings as in s0_cifar_grid.py (PyTorch defaults: factor .1, patience 10, on val loss).
Selection on a 10% validation split; the chosen configuration is tested once.

Compute: 2 settings x 3 seeds = 6 trials x 30 epochs = 180 trial-epochs (GPU: minutes; 2-core CPU: ~1 h).
    python -m tuner.sweep sweeps/seeds/s0_cifar_augment.py
REDUCED budget for a CPU, as run for analysis/s0 (not the study's protocol: one seed, 10 epochs, 9,000 train /
1,000 validation images, the whole test set, Plateau patience 3):
    python -m tuner.sweep sweeps/seeds/s0_cifar_augment.py --set seeds=0 --max-epochs 10 --set fixed.subset=10000 \
        --set plateau_patience=3
"""

from ray import tune

from tuner import Sweep

sweep = Sweep(
    name="s0_cifar_augment",
    description="S0 CIFAR-10 CNN, Adam .001 + Plateau, batch 64, 30 ep: without vs with rotation/flip/crop",
    data="cifar10",
    model="cnn",
    fixed={
        "channels": (32, 64, 128),
        "hidden": (256, 128),
        "dropout": 0.5,
        "batch_size": 64,
        "normalize": "train",
        "val_fraction": 0.1,
        "optimizer": "adam",
        "lr": 0.001,
        "scheduler": "plateau",
        "plateau_factor": 0.1,
        "plateau_patience": 10,
    },
    space={"augment": tune.grid_search(["none", "flip_crop_rotate"])},
    search="grid",
    trial_scheduler="none",
    max_epochs=30,
    seeds=[0, 1, 2],
    cpu=2,
    gpu=0.25,
)

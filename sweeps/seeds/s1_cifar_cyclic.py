"""S1 (studies/001_c83afc7c7a4f4a41.txt), CIFAR-10: the study's second CyclicLR attempt, 20 epochs between
lr .015 and .02.

The study's protocol: after the stuck 5-epoch runs (s1_cifar.py), "took up to 20 epochs instead, and increased
the base_lr to 0.015 and max_lr from 0.01 to 0.02". Its LR log rises .016, .017, ... .020 over epochs 1-5 and
falls back to .015 by epoch 10: a triangular cycle with 5 epochs per half cycle, stepped once per epoch.
What the study reported: loss 2.3035 and training accuracy 9.88% in all 20 epochs.
Here: lr .02 (the peak) with base_lr_ratio .75 (.015 / .02) and cycle_epochs 5, stepped per batch (same
per-epoch envelope; see s1_cifar.py on why S1's runs were stuck). The optimizer is not named: each of S1's
three CIFAR optimizers gets a row (AdamW with PyTorch's weight decay .01). Same CNN as s1_cifar.py (no
dropout, batch 64 assumed). Rows are compared on a 10% validation split; STUCK marks runs at ln 10.

Compute: 3 optimizers x 1 seed = 3 trials x 20 epochs = 60 trial-epochs.
    python -m tuner.sweep sweeps/seeds/s1_cifar_cyclic.py
REDUCED budget for a CPU, as run for analysis/s1 (not the protocol: 9,000 train / 1,000 validation images, the
whole test set):
    python -m tuner.sweep sweeps/seeds/s1_cifar_cyclic.py --set fixed.subset=10000
"""

from ray import tune

from tuner import Sweep

sweep = Sweep(
    name="s1_cifar_cyclic",
    description="S1 CIFAR-10 CNN: CyclicLR .015-.02, 5-epoch half cycles, 20 epochs, AdamW/Adagrad/Adamax",
    data="cifar10",
    model="cnn",
    fixed={
        "channels": (32, 64, 128),
        "hidden": (256, 128),
        "dropout": 0.0,
        "batch_size": 64,
        "augment": "none",
        "normalize": "train",
        "val_fraction": 0.1,
        "scheduler": "cyclic",
        "lr": 0.02,  # CyclicLR max_lr
        "base_lr_ratio": 0.75,  # base_lr .015
        "cycle_epochs": 5.0,
    },
    space={"optimizer+weight_decay": tune.grid_search([("adamw", 0.01), ("adagrad", 0.0), ("adamax", 0.0)])},
    search="grid",
    trial_scheduler="none",
    max_epochs=20,
    seeds=[0],
    cpu=2,
    gpu=0.25,
)

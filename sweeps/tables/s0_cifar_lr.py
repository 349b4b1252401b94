"""Recorded table: S0's CIFAR-10 CNN (conv 32/64/128 + 2x2 max pool, FC 256-128, dropout .5) under SGD +
momentum .9 and Adam, each at six half-decade learning rates from 3e-4 to .1, with and without flip + crop
augmentation, cosine schedule, batch 128, 2 seeds, no early stopping.

A dense grid recorded once so that searches can be replayed against its learning curves
(`python -m tuner.replay benchmarks/tables/s0_cifar_lr.tar.gz`).

As written the file is the full budget (all 45,000 training images, 30 epochs; a GPU records it in well under an
hour). The shipped table was recorded on 2 CPU cores at a reduced budget, stated in its name and spec.json:
9,000 training and 1,000 validation images (fixed.subset 10,000), 12 epochs with the cosine schedule laid out
over 12, the whole 10,000-image test set for the packed test accuracies: 2 x 6 x 2 x 2 = 48 trials x 12 epochs =
576 trial-epochs, ~80 min:
    python -m tuner.sweep sweeps/tables/s0_cifar_lr.py --set fixed.subset=10000 --max-epochs 12 \
        --results runs/tables/s0_cifar_lr --no-report
    python -m tuner.tables pack runs/tables/s0_cifar_lr benchmarks/tables/s0_cifar_lr.tar.gz

Its budgeted versions (`python -m tuner.replay benchmarks/tables/s0_cifar_lr.tar.gz --budgets
benchmarks/tables/s0_cifar_lr_budgets`, docs/search.md): the same file at 1 and 3 epochs, each trial's cosine schedule
laid over its own epochs (the rungs of search="budgeted" below 12 epochs); 4 and 51 min on 2 CPU cores shared with
other jobs (the training path the machine measured fastest, where the full table predates it: the replay compares
trials of one budget with each other only):
    for E in 1 3; do
        python -m tuner.sweep sweeps/tables/s0_cifar_lr.py --set fixed.subset=10000 --max-epochs $E \
            --results runs/tables/s0_cifar_lr_e$E --no-report
        python -m tuner.tables pack runs/tables/s0_cifar_lr_e$E benchmarks/tables/s0_cifar_lr_budgets/s0_cifar_lr_e$E.tar.gz \
            --no-test
    done
"""

from ray import tune

from tuner import Sweep

LEARNING_RATES = [3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]

sweep = Sweep(
    name="s0_cifar_lr",
    description="Table: S0 CIFAR-10 CNN, SGD + momentum .9 / Adam x 6 lr (3e-4..0.1) x augment none / flip_crop, "
                "cosine, batch 128, 2 seeds",
    data="cifar10",
    model="cnn",
    fixed={
        "channels": (32, 64, 128),
        "hidden": (256, 128),
        "dropout": 0.5,
        "batch_size": 128,
        "scheduler": "cosine",
        "val_fraction": 0.1,
    },
    space={
        "optimizer+momentum": tune.grid_search([("sgd", 0.9), ("adam", 0.0)]),
        "lr": tune.grid_search(LEARNING_RATES),
        "augment": tune.grid_search(["none", "flip_crop"]),
    },
    search="grid",
    trial_scheduler="none",
    max_epochs=30,
    seeds=[0, 1],
    cpu=1,
    gpu=0,
    checkpoint_keep=1,
)

"""Recorded table: S4's MNIST MLP (784-128-64-10) under SGD, SGD + momentum .9 and Adam, each at nine
half-decade learning rates from 1e-4 to 1, 25 epochs, 3 seeds, no early stopping.

A dense grid recorded once so that searches can be replayed against its learning curves
(`python -m tuner.replay benchmarks/tables/s4_mnist_lr.tar.gz`): what would TPE + ASHA have found here, and
at what cost? The setting is S4's (sweeps/seeds/s4_mnist_grid.py): no dropout, inputs Normalize(.5, .5),
batch 64, no schedule, no augmentation, a 10% stratified validation split.

Budget: 3 optimizer rows x 9 learning rates x 3 seeds = 81 trials x 25 epochs = 2,025 trial-epochs at most
(diverged and stuck trials end early); ~35 min on 2 CPU cores. Recorded, then packed (test accuracy of every
trial's best-epoch weights, for the benchmark's ground truth only):
    python -m tuner.sweep sweeps/tables/s4_mnist_lr.py --results runs/tables/s4_mnist_lr --no-report
    python -m tuner.tables pack runs/tables/s4_mnist_lr benchmarks/tables/s4_mnist_lr.tar.gz

Its budgeted versions (`python -m tuner.replay benchmarks/tables/s4_mnist_lr.tar.gz --budgets
benchmarks/tables/s4_mnist_lr_budgets`, docs/search.md): the same file at 1, 3 and 9 epochs (no schedule here, so
nothing is laid over them); 5, 17 and 36 min on 2 CPU cores shared with other jobs:
    for E in 1 3 9; do
        python -m tuner.sweep sweeps/tables/s4_mnist_lr.py --max-epochs $E --results runs/tables/s4_mnist_lr_e$E \
            --no-report
        python -m tuner.tables pack runs/tables/s4_mnist_lr_e$E benchmarks/tables/s4_mnist_lr_budgets/s4_mnist_lr_e$E.tar.gz
    done
"""

from ray import tune

from tuner import Sweep

LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0]

sweep = Sweep(
    name="s4_mnist_lr",
    description="Table: S4 MNIST MLP 784-128-64-10, SGD / SGD + momentum .9 / Adam x 9 lr (1e-4..1), 25 ep, 3 seeds",
    data="mnist",
    model="mlp",
    fixed={
        "hidden": (128, 64),
        "dropout": 0.0,
        "normalize": "half",
        "batch_size": 64,
        "augment": "none",
        "val_fraction": 0.1,
        "scheduler": "none",
    },
    space={
        "optimizer+momentum": tune.grid_search([("sgd", 0.0), ("sgd", 0.9), ("adam", 0.0)]),
        "lr": tune.grid_search(LEARNING_RATES),
    },
    search="grid",
    trial_scheduler="none",
    max_epochs=25,
    seeds=[0, 1, 2],
    cpu=1,
    gpu=0,
    checkpoint_keep=1,
)

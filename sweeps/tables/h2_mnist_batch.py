"""Recorded table, held out: recorded after tuner's search defaults were chosen, to check them on a space they were
not chosen on. A wider MNIST MLP (784-512-256-10, dropout .3) under SGD + momentum .9, Adamax and Adagrad, each at
five half-decade learning rates from 1e-3 to .1, at batch 64 or 256, cosine schedule, 10 epochs, 2 seeds, no early
stopping.

A dense grid recorded once so that searches can be replayed against its learning curves
(`python -m tuner.replay benchmarks/tables/h2_mnist_batch.tar.gz`).

Budget: 3 optimizers x 5 learning rates x 2 batch sizes x 2 seeds = 60 trials x 10 epochs = 600 trial-epochs at most
(891 s on the 2-core AMD EPYC while replays ran beside it); recorded, then packed:
    python -m tuner.sweep sweeps/tables/h2_mnist_batch.py --results runs/tables/h2_mnist_batch --no-report
    python -m tuner.tables pack runs/tables/h2_mnist_batch benchmarks/tables/h2_mnist_batch.tar.gz

Its budgeted versions (`--budgets benchmarks/tables/h2_mnist_batch_budgets`): the same file at 1 and 3 epochs,
each trial's cosine schedule laid over its own epochs (94 s and 287 s):
    for E in 1 3; do
        python -m tuner.sweep sweeps/tables/h2_mnist_batch.py --max-epochs $E \
            --results runs/tables/h2_mnist_batch_e$E --no-report
        python -m tuner.tables pack runs/tables/h2_mnist_batch_e$E \
            benchmarks/tables/h2_mnist_batch_budgets/h2_mnist_batch_e$E.tar.gz --no-test
    done
"""

from ray import tune

from tuner import Sweep

LEARNING_RATES = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1]

sweep = Sweep(
    name="h2_mnist_batch",
    description="Table (held out): MNIST MLP 784-512-256-10 dropout .3, SGD+m.9 / Adamax / Adagrad x 5 lr "
                "(1e-3..0.1) x batch 64 / 256, cosine, 10 ep, 2 seeds",
    data="mnist",
    model="mlp",
    fixed={
        "hidden": (512, 256),
        "dropout": 0.3,
        "scheduler": "cosine",
        "augment": "none",
        "normalize": "train",
        "val_fraction": 0.1,
    },
    space={
        "optimizer+momentum": tune.grid_search([("sgd", 0.9), ("adamax", 0.0), ("adagrad", 0.0)]),
        "batch_size": tune.grid_search([64, 256]),
        "lr": tune.grid_search(LEARNING_RATES),
    },
    search="grid",
    trial_scheduler="none",
    max_epochs=10,
    seeds=[0, 1],
    cpu=1,
    gpu=0,
    checkpoint_keep=1,
)

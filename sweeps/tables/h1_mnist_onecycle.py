"""Recorded table, held out: recorded after tuner's search defaults were chosen, to check them on a space they were
not chosen on. An MNIST MLP (784-256-10, dropout .2) under SGD + momentum .9, Adam and AdamW (weight decay .01),
each at seven half-decade learning rates from 1e-4 to .1, with a one-cycle or a cosine schedule, batch 128, 10 epochs,
2 seeds, no early stopping.

A dense grid recorded once so that searches can be replayed against its learning curves
(`python -m tuner.replay benchmarks/tables/h1_mnist_onecycle.tar.gz`).

Budget: 3 optimizers x 7 learning rates x 2 schedules x 2 seeds = 84 trials x 10 epochs = 840 trial-epochs at most
(767 s on the 2-core AMD EPYC while replays ran beside it); recorded, then packed:
    python -m tuner.sweep sweeps/tables/h1_mnist_onecycle.py --results runs/tables/h1_mnist_onecycle --no-report
    python -m tuner.tables pack runs/tables/h1_mnist_onecycle benchmarks/tables/h1_mnist_onecycle.tar.gz

Its budgeted versions (`--budgets benchmarks/tables/h1_mnist_onecycle_budgets`): the same file at 1 and 3 epochs,
each trial's schedule laid over its own epochs (58 s and 171 s):
    for E in 1 3; do
        python -m tuner.sweep sweeps/tables/h1_mnist_onecycle.py --max-epochs $E \
            --results runs/tables/h1_mnist_onecycle_e$E --no-report
        python -m tuner.tables pack runs/tables/h1_mnist_onecycle_e$E \
            benchmarks/tables/h1_mnist_onecycle_budgets/h1_mnist_onecycle_e$E.tar.gz --no-test
    done
"""

from ray import tune

from tuner import Sweep

LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]

sweep = Sweep(
    name="h1_mnist_onecycle",
    description="Table (held out): MNIST MLP 784-256-10 dropout .2, SGD+m.9 / Adam / AdamW x onecycle / cosine "
                "x 7 lr (1e-4..0.1), batch 128, 10 ep, 2 seeds",
    data="mnist",
    model="mlp",
    fixed={
        "hidden": (256,),
        "dropout": 0.2,
        "batch_size": 128,
        "augment": "none",
        "normalize": "train",
        "val_fraction": 0.1,
    },
    space={
        "optimizer+momentum+weight_decay": tune.grid_search([("sgd", 0.9, 0.0), ("adam", 0.0, 0.0),
                                                             ("adamw", 0.0, 0.01)]),
        "scheduler": tune.grid_search(["onecycle", "cosine"]),
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

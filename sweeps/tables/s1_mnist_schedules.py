"""Recorded table: S0's three optimizers (SGD, Adam, RMSprop) x S1's learning-rate schedules (StepLR every 5
epochs x .1, ExponentialLR .9, ReduceLROnPlateau .1 after 2 flat epochs, none) x eight half-decade learning
rates from 1e-4 to .3, on S1's MNIST MLP (784-128-10), 15 epochs, 2 seeds, no early stopping.

A dense grid recorded once so that searches can be replayed against its learning curves
(`python -m tuner.replay benchmarks/tables/s1_mnist_schedules.tar.gz`). The setting is S1's
(sweeps/seeds/s1_mnist_schedulers.py): no dropout, per-channel normalisation, batch 64, no augmentation, a 10%
stratified validation split; the schedules' settings are the ones read off S1's logs.

Budget: 3 optimizers x 4 schedules x 8 learning rates x 2 seeds = 192 trials x 15 epochs = 2,880 trial-epochs at
most (diverged and stuck trials end early); ~45 min on 2 CPU cores. Recorded, then packed:
    python -m tuner.sweep sweeps/tables/s1_mnist_schedules.py --results runs/tables/s1_mnist_schedules --no-report
    python -m tuner.tables pack runs/tables/s1_mnist_schedules benchmarks/tables/s1_mnist_schedules.tar.gz

Its budgeted versions (`python -m tuner.replay benchmarks/tables/s1_mnist_schedules.tar.gz --budgets
benchmarks/tables/s1_mnist_schedules_budgets`, docs/search.md): the same file at 1 and 3 epochs with the schedules
written for 15 laid over them (`schedule_for=15`: StepLR every epoch, its gamma and ExponentialLR's raised so that
they end at the 15-epoch schedule's last rate; trials.csv keeps the grid's values); 23 and 47 min on 2 CPU cores
shared with other jobs:
    for E in 1 3; do
        python -m tuner.sweep sweeps/tables/s1_mnist_schedules.py --max-epochs $E --set fixed.schedule_for=15 \
            --results runs/tables/s1_mnist_schedules_e$E --no-report
        python -m tuner.tables pack runs/tables/s1_mnist_schedules_e$E \
            benchmarks/tables/s1_mnist_schedules_budgets/s1_mnist_schedules_e$E.tar.gz --no-test
    done
"""

from ray import tune

from tuner import Sweep

LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]

sweep = Sweep(
    name="s1_mnist_schedules",
    description="Table: S1 MNIST MLP 784-128-10, SGD / Adam / RMSprop x step / exponential / plateau / none "
                "x 8 lr (1e-4..0.3), 15 ep, 2 seeds",
    data="mnist",
    model="mlp",
    fixed={
        "hidden": (128,),
        "dropout": 0.0,
        "batch_size": 64,
        "augment": "none",
        "normalize": "train",
        "val_fraction": 0.1,
        "step_size": 5,
        "plateau_factor": 0.1,
        "plateau_patience": 2,
    },
    space={
        "optimizer": tune.grid_search(["sgd", "adam", "rmsprop"]),
        # gamma: StepLR's factor per step, ExponentialLR's factor per epoch; plateau uses plateau_factor
        "scheduler+gamma": tune.grid_search([("step", 0.1), ("exponential", 0.9), ("plateau", None), ("none", None)]),
        "lr": tune.grid_search(LEARNING_RATES),
    },
    search="grid",
    trial_scheduler="none",
    max_epochs=15,
    seeds=[0, 1],
    cpu=1,
    gpu=0,
    checkpoint_keep=1,
)

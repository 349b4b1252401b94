"""S4 (studies/004_5473f4728b379365.txt), MNIST, searched: S4's three optimizers for the 784-128-64-10 MLP with the
learning rate (which S4's write-up never states) searched by TPE and weak trials stopped by ASHA.

Fixed as in S4 (see s4_mnist_grid.py): MLP 784-128-64-10, no dropout, Normalize((.5,), (.5,)), batch 64
(assumed), no schedule, up to 25 epochs. Space:
    optimizer  SGD | SGD + momentum .9 | Adam    (S4's three; momentum only for SGD)
    lr         SGD and SGD + momentum: log-uniform 1e-3 .. 3e-1;  Adam: log-uniform 1e-4 .. 1e-2
S4's test accuracies (best / last of 25 epochs): SGD 97.18 / 97.18%, SGD + momentum 97.95 / 97.61%,
Adam 97.80 / 97.51%. Selection here on a 10% validation split; the chosen configuration is tested once.

Budget: 16 trials on seed 0, ASHA grace 2 epochs, rungs 2, 6, 18 of 25: about 16 x (2 + 4/3 + 12/9 + 7/27) ~ 80
trial-epochs (80-110), then the best 3 rerun on seeds 1 and 2 (3 x 2 x 25 = 150): ~230-260 trial-epochs. That
is about the grid's 225: S4's grid is only three points, so the search buys a tuned learning rate per
optimizer, not a saving. ~10 min on 2 CPU cores.
    python -m tuner.sweep sweeps/seeds/s4_mnist_tpe.py
"""

from tuner import Sweep


def space(trial):
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam"])
    if optimizer == "sgd":
        trial.suggest_categorical("momentum", [0.0, 0.9])
        trial.suggest_float("lr", 1e-3, 3e-1, log=True)
    else:
        trial.suggest_float("lr", 1e-4, 1e-2, log=True)


sweep = Sweep(
    name="s4_mnist_tpe",
    description="S4 MNIST MLP 784-128-64-10, inputs (x-.5)/.5: SGD / SGD + momentum / Adam x log lr, TPE + ASHA, 25 ep",
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
    space=space,
    search="optuna",
    trial_scheduler="asha",
    grace_period=2,
    reduction_factor=3,
    num_samples=16,
    max_epochs=25,
    seeds=[0, 1, 2],
    confirm_top=3,
    cpu=1,
    gpu=0,
)

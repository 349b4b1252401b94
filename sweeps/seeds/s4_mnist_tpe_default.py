"""S4 (studies/004_5473f4728b379365.txt), MNIST, searched with tuner's defaults (docs/search.md): the same space
as s4_mnist_tpe.py (S4's three optimizers, the learning rate searched by TPE), but no early stopping: every trial
trains its 25 epochs, as replays of the recorded S4 table chose (benchmarks/tables/s4_mnist_lr).

Budget: 8 trials x 25 epochs on seed 0 (200 trial-epochs), then the best 3 rerun on seeds 1 and 2 (150): 350
trial-epochs against the grid's 225 (3 points x 3 seeds). About 12 minutes on 2 CPU cores.
    python -m tuner.sweep sweeps/seeds/s4_mnist_tpe_default.py
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
    name="s4_mnist_tpe_default",
    description="S4 MNIST MLP 784-128-64-10, inputs (x-.5)/.5: SGD / SGD + momentum / Adam x log lr, tuner default: TPE, no stopping, 25 ep",
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
    trial_scheduler="none",
    num_samples=8,
    max_epochs=25,
    seeds=[0, 1, 2],
    confirm_top=3,
    cpu=1,
    gpu=0,
)

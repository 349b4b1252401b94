"""S0 (studies/000_256847521f03bfe1.txt), MNIST half, searched with tuner's defaults (docs/search.md): the space
of s0_mnist_tpe.py (optimizer x log-uniform lr x StepLR/Plateau/Exponential, the same model and loop), TPE with
no early stopping: every trial trains its 20 epochs.

Budget: 9 trials on seed 0, 180 trial-epochs: the grid's cost on one seed (its 9 runs x 20 epochs), so the two
compare at equal compute. Run on seed 0 like the grid in analysis/s0 (about 25 minutes on 2 CPU cores):
    python -m tuner.sweep sweeps/seeds/s0_mnist_tpe_default.py --set seeds=0
"""

from tuner import Sweep

GAMMA = {"step": 0.1, "exponential": 0.9}  # StepLR factor per step, ExponentialLR factor per epoch


def space(trial):
    trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"])
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    scheduler = trial.suggest_categorical("scheduler", ["step", "plateau", "exponential"])
    return {"gamma": GAMMA[scheduler]} if scheduler in GAMMA else None


sweep = Sweep(
    name="s0_mnist_tpe_default",
    description="S0 MNIST MLP 784-512-512-10: optimizer x log lr x StepLR/Plateau/Exponential, tuner default, batch 24",
    data="mnist",
    model="mlp",
    fixed={
        "hidden": (512, 512),
        "dropout": 0.2,
        "batch_size": 24,
        "augment": "none",
        "normalize": "train",
        "val_fraction": 0.1,
        "step_size": 10,
        "plateau_factor": 0.1,
        "plateau_patience": 10,
    },
    space=space,
    search="optuna",
    trial_scheduler="none",
    num_samples=9,
    max_epochs=20,
    seeds=[0, 1, 2],
    confirm_top=3,
    cpu=1,
    gpu=0,
)

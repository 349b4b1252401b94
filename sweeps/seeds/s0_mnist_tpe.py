"""S0 (studies/000_256847521f03bfe1.txt), MNIST half, searched instead of gridded: TPE proposes, ASHA stops.

The TPE+ASHA counterpart of s0_mnist_grid.py: the same model and loop (MLP 784-512-512-10, dropout .2,
batch 24, up to 20 epochs, no augmentation) and the same space, with the learning rate made continuous:
    optimizer  SGD | Adam | RMSprop                  (the study's three)
    lr         log-uniform 1e-4 .. 1e-1              (a decade either side of the study's .001 and .01)
    scheduler  StepLR | ReduceLROnPlateau | ExponentialLR, each with s0_mnist_grid.py's settings:
               StepLR step_size 10, gamma .1; Plateau factor .1, patience 10; Exponential gamma .9
               (none of these are in the study's text; see s0_mnist_grid.py)
The study's own rows (test accuracy at epoch 20): SGD+Plateau 97.22%, SGD+Step 97.49%, RMSprop+Exponential
92.65%, Adam+Exponential 65.25%. Selection here is on a 10% validation split; the chosen configuration is
tested once.

Budget: 24 TPE trials on seed 0; ASHA (grace 2 epochs, keep 1/3 at rungs 2, 6, 18) runs about
24 x (2 + 4/3 + 12/9 + 2/27) ~ 115 trial-epochs (asynchronous promotion makes it 115-160), then the best 3
configurations rerun in full on seeds 1 and 2 (3 x 2 x 20 = 120): ~235-280 trial-epochs in all, against the
grid's 540 (180 per seed). About 15-25 min on 2 CPU cores.
    python -m tuner.sweep sweeps/seeds/s0_mnist_tpe.py
"""

from tuner import Sweep

GAMMA = {"step": 0.1, "exponential": 0.9}  # StepLR factor per step, ExponentialLR factor per epoch


def space(trial):
    trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"])
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    scheduler = trial.suggest_categorical("scheduler", ["step", "plateau", "exponential"])
    return {"gamma": GAMMA[scheduler]} if scheduler in GAMMA else None


sweep = Sweep(
    name="s0_mnist_tpe",
    description="S0 MNIST MLP 784-512-512-10: optimizer x log lr x StepLR/Plateau/Exponential, TPE + ASHA, batch 24",
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
    trial_scheduler="asha",
    grace_period=2,
    reduction_factor=3,
    num_samples=24,
    max_epochs=20,
    seeds=[0, 1, 2],
    confirm_top=3,
    cpu=1,
    gpu=0,
)

"""S1 (studies/001_c83afc7c7a4f4a41.txt), MNIST, searched: optimizer x lr x schedule on the 784-128-10 MLP with
TPE proposing and ASHA stopping, in place of S1's two hand-run tables (s1_mnist_optimizers.py, 5 epochs, and
s1_mnist_schedulers.py, SGD .01 for 15 epochs).

Space (S1's choices, the lr made continuous):
    optimizer  SGD | Adam | RMSprop
    lr         log-uniform 1e-4 .. 1e-1     (S1: SGD .01; Adam and RMSprop at PyTorch defaults .001 / .01)
    scheduler  none | StepLR (step_size 5, gamma .1) | ExponentialLR (gamma .9) | ReduceLROnPlateau (factor .1,
               patience 2): the settings read off S1's logs, see s1_mnist_schedulers.py
Fixed as in those files: no dropout, batch 64 (assumed), no augmentation, up to 15 epochs.
S1's numbers (training accuracy): SGD 92.49% / Adam 98.36% after 5 epochs; SGD+StepLR 93.08% after 15.
Selection on a 10% validation split; the chosen configuration is tested once.

Budget: 24 trials on seed 0, ASHA grace 1 epoch, rungs 1, 3, 9: about 24 x (1 + 2/3 + 6/9 + 6/27) ~ 60
trial-epochs (60-90 with asynchronous promotion), then the best 3 rerun on seeds 1 and 2 (3 x 2 x 15 = 90):
~150-180 trial-epochs, against 225 for the two grids (45 + 180). ~10 min on 2 CPU cores.
    python -m tuner.sweep sweeps/seeds/s1_mnist_tpe.py
"""

from tuner import Sweep

GAMMA = {"step": 0.1, "exponential": 0.9}


def space(trial):
    trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"])
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    scheduler = trial.suggest_categorical("scheduler", ["none", "step", "exponential", "plateau"])
    return {"gamma": GAMMA[scheduler]} if scheduler in GAMMA else None


sweep = Sweep(
    name="s1_mnist_tpe",
    description="S1 MNIST MLP 784-128-10: SGD/Adam/RMSprop x log lr x none/Step/Exponential/Plateau, TPE + ASHA",
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
    space=space,
    search="optuna",
    trial_scheduler="asha",
    grace_period=1,
    reduction_factor=3,
    num_samples=24,
    max_epochs=15,
    seeds=[0, 1, 2],
    confirm_top=3,
    cpu=1,
    gpu=0,
)

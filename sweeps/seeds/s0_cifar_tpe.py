"""S0 (studies/000_256847521f03bfe1.txt), CIFAR-10 half, searched instead of gridded: TPE proposes, ASHA stops.

The TPE+ASHA counterpart of s0_cifar_grid.py: the same model and loop (CNN conv 32/64/128 + 2x2 pools,
FC 256-128, dropout .5, batch 64, up to 30 epochs, no augmentation) and the same space, lr made continuous:
    optimizer  SGD | Adam | RMSprop
    lr         log-uniform 1e-4 .. 1e-1              (a decade either side of the study's .001 and .01)
    scheduler  StepLR | ReduceLROnPlateau | ExponentialLR, with s0_cifar_grid.py's settings
               (StepLR step_size 10, gamma .1; Plateau factor .1, patience 10; Exponential gamma .9;
               not in the study's text)
The study's rows (test accuracy at epoch 30): RMSprop+Plateau 78.25%, SGD+Plateau 72.54%, SGD+Step 56.04%,
Adam+Plateau 47.32%, Adam+Step/Exponential ~10%. Selection here is on a 10% validation split; the chosen
configuration is tested once.

Compute: 20 TPE trials on seed 0; ASHA (grace 3 epochs, keep 1/3 at rungs 3, 9, 27) runs about
20 x (3 + 6/3 + 18/9 + 3/27) ~ 140 trial-epochs (up to ~200 with asynchronous promotion), then the best 3
configurations rerun in full on seeds 1 and 2 (3 x 2 x 30 = 180): ~320-380 trial-epochs, against the grid's
810 (270 per seed). GPU: four trials share one (gpu=0.25); on a 2-core CPU ~15-25 s an epoch: ~2 h.
    python -m tuner.sweep sweeps/seeds/s0_cifar_tpe.py
REDUCED budget for a CPU, as run for analysis/s0 (not the study's protocol: 12 trials of at most 10 epochs, the
best 3 rerun on seeds 1 and 2, 9,000 train / 1,000 validation images, the whole test set; StepLR every 4 epochs,
Plateau patience 3):
    python -m tuner.sweep sweeps/seeds/s0_cifar_tpe.py --num-samples 12 --max-epochs 10 --set seeds=0,1,2 \
        --set fixed.subset=10000 --set step_size=4 --set plateau_patience=3
"""

from tuner import Sweep

GAMMA = {"step": 0.1, "exponential": 0.9}  # StepLR factor per step, ExponentialLR factor per epoch


def space(trial):
    trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"])
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    scheduler = trial.suggest_categorical("scheduler", ["step", "plateau", "exponential"])
    return {"gamma": GAMMA[scheduler]} if scheduler in GAMMA else None


sweep = Sweep(
    name="s0_cifar_tpe",
    description="S0 CIFAR-10 CNN 32/64/128 + FC 256-128: optimizer x log lr x StepLR/Plateau/Exponential, TPE + ASHA",
    data="cifar10",
    model="cnn",
    fixed={
        "channels": (32, 64, 128),
        "hidden": (256, 128),
        "dropout": 0.5,
        "batch_size": 64,
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
    grace_period=3,
    reduction_factor=3,
    num_samples=20,
    max_epochs=30,
    seeds=[0, 1, 2],
    confirm_top=3,
    cpu=2,
    gpu=0.25,
)

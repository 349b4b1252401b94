"""S1 (studies/001_c83afc7c7a4f4a41.txt), CIFAR-10, searched: S1's CIFAR optimizers x lr x schedulers on the CNN
(conv 32/64/128 + FC 256-128, no dropout), TPE proposing and ASHA stopping, 5 epochs as in S1.

Space (s1_cifar.py's rows, lr made continuous):
    optimizer  AdamW (weight decay .01, PyTorch's default) | Adagrad | Adamax
    lr         log-uniform 1e-4 .. 1e-1     (S1: defaults .001 / .01 / .002 unscheduled, .01 with a schedule)
    scheduler  none | CyclicLR (base = lr/10, 5 epochs up: S1's) | CosineAnnealingLR | OneCycleLR (30% warm-up)
S1's numbers (training accuracy, epoch 5): AdamW 82.30%, Adamax 46.56%, Adagrad 35.42%; every scheduled run
stuck at loss 2.3035 (see s1_cifar.py). Selection on a 10% validation split; the chosen config is tested once.
Batch 64 and no augmentation are assumptions (S1 does not say).

Compute: 16 trials on seed 0, ASHA grace 1 epoch, rungs 1 and 3 of 5: about 16 x (1 + 2/3 + 2/9) ~ 30
trial-epochs (30-45), then the best 3 rerun on seeds 1 and 2 (3 x 2 x 5 = 30): ~60-75 trial-epochs against the
grid's 180 (60 per seed). GPU minutes; ~25 min on a 2-core CPU.
    python -m tuner.sweep sweeps/seeds/s1_cifar_tpe.py
REDUCED budget for a CPU, as run for analysis/s1 (not the protocol: 9,000 train / 1,000 validation images, the
whole test set):
    python -m tuner.sweep sweeps/seeds/s1_cifar_tpe.py --set fixed.subset=10000
"""

from tuner import Sweep

WEIGHT_DECAY = {"adamw": 0.01}  # PyTorch's AdamW default; Adagrad and Adamax default to 0


def space(trial):
    optimizer = trial.suggest_categorical("optimizer", ["adamw", "adagrad", "adamax"])
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    trial.suggest_categorical("scheduler", ["none", "cyclic", "cosine", "onecycle"])
    return {"weight_decay": WEIGHT_DECAY.get(optimizer, 0.0)}


sweep = Sweep(
    name="s1_cifar_tpe",
    description="S1 CIFAR-10 CNN: AdamW/Adagrad/Adamax x log lr x none/Cyclic/Cosine/OneCycle, 5 ep, TPE + ASHA",
    data="cifar10",
    model="cnn",
    fixed={
        "channels": (32, 64, 128),
        "hidden": (256, 128),
        "dropout": 0.0,
        "batch_size": 64,
        "augment": "none",
        "normalize": "train",
        "val_fraction": 0.1,
        "cycle_epochs": 5.0,
        "base_lr_ratio": 0.1,
        "pct_start": 0.3,
    },
    space=space,
    search="optuna",
    trial_scheduler="asha",
    grace_period=1,
    reduction_factor=3,
    num_samples=16,
    max_epochs=5,
    seeds=[0, 1, 2],
    confirm_top=3,
    cpu=2,
    gpu=0.25,
)

"""S2 (studies/002_bffc64ee784633b5.txt), CIFAR-10, searched: what S2 tuned by hand ("hyper parameters were
tuned by hand after each training/validation cycle"), given to TPE with ASHA stopping the weak early.

Fixed as in S2 (see s2_cifar_grid.py): 40k/10k train/validation split (val_fraction .2), train-split
normalisation, batch 64, ReduceLROnPlateau factor .1 patience 3 on the validation loss, batch norm on, up to 40
epochs, no augmentation. Each model keeps its own optimizer family, as in S2; their settings are searched
around S2's final values (a conditional space, hence a define-by-run function):
    model      MLP 3072-512-256-10                      | CNN 32/64/128 convs, no hidden FC
    optimizer  Adam                                     | SGD, momentum .9
    lr         log-uniform 1e-4 .. 1e-2  (S2: 1e-3)     | log-uniform 1e-3 .. 1e-1  (S2: 1e-2)
    wd         log-uniform 1e-7 .. 1e-4  (S2: 1e-6)     | log-uniform 1e-4 .. 1e-2  (S2: 1e-3)
    dropout    uniform 0 .. .6           (S2: .4)       | uniform 0 .. .6           (S2: .4)
    dropout2d  -                                        | uniform 0 .. .3           (S2: .1)
S2's result (validation = test): MLP ~58%, CNN ~81%. TPE spends its trials where validation accuracy is
higher (the CNN); `python -m tuner.analysis RUN --compare model` shows the best of each.

Compute: 32 trials on seed 0, ASHA grace 4 epochs, rungs 4, 12, 36 of 40: about
32 x (4 + 8/3 + 24/9 + 4/27) ~ 300 trial-epochs (300-400 with asynchronous promotion), then the best 3 rerun
on seeds 1 and 2 (3 x 2 x 40 = 240): ~550-650 trial-epochs, for a 6-dimensional search where the grid file
runs S2's 2 hand-picked rows (240). GPU: four trials share one (gpu=0.25); 2-core CPU: many hours.
    python -m tuner.sweep sweeps/seeds/s2_cifar_tpe.py
REDUCED budget for a CPU, as run for analysis/s2 (not the protocol: 16 trials of at most 15 epochs, no confirm
seeds, 8,000 train / 2,000 validation images, the whole test set):
    python -m tuner.sweep sweeps/seeds/s2_cifar_tpe.py --num-samples 16 --max-epochs 15 --set seeds=0 --set fixed.subset=10000
"""

from tuner import Sweep


def space(trial):
    model = trial.suggest_categorical("model", ["mlp", "cnn"])
    if model == "mlp":
        trial.suggest_float("lr", 1e-4, 1e-2, log=True)
        trial.suggest_float("weight_decay", 1e-7, 1e-4, log=True)
        trial.suggest_float("dropout", 0.0, 0.6)
        return {"optimizer": "adam", "hidden": (512, 256)}
    trial.suggest_float("lr", 1e-3, 1e-1, log=True)
    trial.suggest_float("weight_decay", 1e-4, 1e-2, log=True)
    trial.suggest_float("dropout", 0.0, 0.6)
    trial.suggest_float("dropout2d", 0.0, 0.3)
    return {"optimizer": "sgd", "momentum": 0.9, "hidden": ()}


sweep = Sweep(
    name="s2_cifar_tpe",
    description="S2 CIFAR-10: MLP (Adam) or CNN (SGD m .9) x lr x weight decay x dropout, TPE + ASHA, "
                "Plateau .1/3, 40 ep",
    data="cifar10",
    model="mlp",
    fixed={
        "val_fraction": 0.2,
        "normalize": "train",
        "augment": "none",
        "channels": (32, 64, 128),
        "batch_norm": True,
        "batch_size": 64,
        "scheduler": "plateau",
        "plateau_factor": 0.1,
        "plateau_patience": 3,
    },
    space=space,
    search="optuna",
    trial_scheduler="asha",
    grace_period=4,
    reduction_factor=3,
    num_samples=32,
    max_epochs=40,
    seeds=[0, 1, 2],
    confirm_top=3,
    cpu=2,
    gpu=0.25,
)

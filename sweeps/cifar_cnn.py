"""CIFAR-10, the study CNN (conv 32/64/128 + 2x2 max pool, FC 256-128; S0/S2): optimizer x learning rate x
schedule x batch size x dropout x augmentation (+ batch norm). tuner's TPE proposes (docs/search.md), every trial
trains to the end, and the best three are confirmed on two more seeds before the chosen one is tested once.

Sized for a GPU: four trials share each GPU (gpu=0.25), 64 trials of 30 epochs.
    python -m tuner.sweep sweeps/cifar_cnn.py --address auto            # on a Ray cluster (see README)
On a CPU-only machine it runs the trials on CPU; give it a time budget, which it plans for (docs/budget.md):
    python -m tuner.sweep sweeps/cifar_cnn.py --time-budget 240         # the best model four minutes buy
    python -m tuner.sweep sweeps/cifar_cnn.py --smoke                   # 2 trials x 1 epoch, a check
"""

from tuner import Sweep


def space(trial):
    """Optuna's define-by-run space (README: conditional spaces): momentum only for SGD and RMSprop, which use it;
    Adam and AdamW ignore it. (Katib's export draws it on every trial: python -m tuner.export says so.)"""
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam", "adamw", "rmsprop"])
    trial.suggest_float("lr", 1e-4, 3e-1, log=True)
    if optimizer in ("sgd", "rmsprop"):
        trial.suggest_categorical("momentum", [0.0, 0.9])
    trial.suggest_categorical("scheduler", ["cosine", "onecycle", "step", "plateau", "exponential"])
    trial.suggest_categorical("batch_size", [64, 128, 256])
    trial.suggest_float("dropout", 0.0, 0.6)
    trial.suggest_categorical("augment", ["none", "flip_crop", "flip_crop_rotate", "strong"])
    trial.suggest_categorical("batch_norm", [False, True])


sweep = Sweep(
    description="CIFAR-10 study CNN: optimizer x lr x schedule x batch x dropout x augmentation, tuner's TPE",
    data="cifar10",
    model="cnn",
    fixed={"channels": (32, 64, 128), "hidden": (256, 128), "weight_decay": 5e-4},
    space=space,
    # Known to work: run first, and under a tight time budget the only ones run (docs/budget.md). OneCycle
    # with batch norm trains this CNN in few epochs; SGD + momentum led the recorded CIFAR table
    # (benchmarks/tables/s0_cifar_lr) at 12 epochs.
    start=[
        {"optimizer": "adam", "lr": 2e-3, "scheduler": "onecycle", "batch_size": 128,
         "dropout": 0.1, "augment": "none", "batch_norm": True},
        {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "scheduler": "onecycle", "batch_size": 128,
         "dropout": 0.2, "augment": "flip_crop", "batch_norm": True},
    ],
    search="optuna",
    trial_scheduler="none",
    num_samples=64,
    max_epochs=30,
    seeds=[0, 1, 2],
    confirm_top=3,
    cpu=2,
    gpu=0.25,
)

"""MNIST, the 784-512-512-10 MLP of study S0 (dropout .2): which optimizer, learning rate, schedule, batch
size and augmentation? TPE proposes, ASHA stops the weak early; the chosen configuration is tested once.

    python -m tuner.sweep sweeps/mnist_mlp.py            # about 8 minutes on 2 CPU cores
"""

from ray import tune

from tuner.spec import Sweep

sweep = Sweep(
    description="MNIST MLP 784-512-512-10: optimizer x lr x schedule x batch size x augmentation, TPE + ASHA",
    data="mnist",
    model="mlp",
    fixed={"hidden": (512, 512), "dropout": 0.2},
    space={
        "optimizer": tune.choice(["sgd", "adam", "adamw", "rmsprop"]),
        "lr": tune.loguniform(1e-4, 3e-1),
        "momentum": tune.choice([0.0, 0.9]),
        "scheduler": tune.choice(["cosine", "onecycle", "step", "none"]),
        "batch_size": tune.choice([64, 128, 256]),
        "augment": tune.choice(["none", "rotate_crop"]),  # small rotations and shifts; digits are not flipped
    },
    search="optuna",
    trial_scheduler="asha",
    grace_period=2,
    reduction_factor=3,
    num_samples=30,
    max_epochs=15,
)

"""CIFAR-10, the study CNN (conv 32/64/128 + 2x2 max pool, FC 256-128; S0/S2): optimizer x learning rate x
schedule x batch size x dropout x augmentation (+ batch norm), TPE proposes and ASHA stops the weak early.

Sized for a GPU: four trials share each GPU (gpu=0.25), 64 trials of up to 30 epochs.
    python -m tuner.sweep sweeps/cifar_cnn.py --address auto            # on a Ray cluster (see README)
On a CPU-only machine it runs the trials on CPU; make it smaller:
    python -m tuner.sweep sweeps/cifar_cnn.py --smoke                   # 2 trials x 1 epoch, a check
    python -m tuner.sweep sweeps/cifar_cnn.py --num-samples 8 --max-epochs 5
"""

from ray import tune

from tuner.spec import Sweep

sweep = Sweep(
    description="CIFAR-10 study CNN: optimizer x lr x schedule x batch x dropout x augmentation, TPE + ASHA",
    data="cifar10",
    model="cnn",
    fixed={"channels": (32, 64, 128), "hidden": (256, 128), "weight_decay": 5e-4},
    space={
        "optimizer": tune.choice(["sgd", "adam", "adamw", "rmsprop"]),
        "lr": tune.loguniform(1e-4, 3e-1),
        "momentum": tune.choice([0.0, 0.9]),
        "scheduler": tune.choice(["cosine", "onecycle", "step", "plateau", "exponential"]),
        "batch_size": tune.choice([64, 128, 256]),
        "dropout": tune.uniform(0.0, 0.6),
        "augment": tune.choice(["none", "flip_crop", "flip_crop_rotate", "strong"]),
        "batch_norm": tune.choice([False, True]),
    },
    search="optuna",
    trial_scheduler="asha",
    grace_period=3,
    reduction_factor=3,
    num_samples=64,
    max_epochs=30,
    cpu=2,
    gpu=0.25,
)

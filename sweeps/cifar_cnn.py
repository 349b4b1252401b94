"""CIFAR-10, the study CNN (conv 32/64/128 + 2x2 max pool, FC 256-128; S0/S2): optimizer x learning rate x
schedule x batch size x dropout x augmentation (+ batch norm). tuner's TPE proposes (docs/search.md), every trial
trains to the end, and the best three are confirmed on two more seeds before the chosen one is tested once.

Sized for a GPU: four trials share each GPU (gpu=0.25), 64 trials of 30 epochs.
    python -m tuner.sweep sweeps/cifar_cnn.py --address auto            # on a Ray cluster (see README)
On a CPU-only machine it runs the trials on CPU; give it a time budget, which it plans for (docs/budget.md):
    python -m tuner.sweep sweeps/cifar_cnn.py --time-budget 240         # the best model four minutes buy
    python -m tuner.sweep sweeps/cifar_cnn.py --smoke                   # 2 trials x 1 epoch, a check
"""

from ray import tune

from tuner import Sweep

sweep = Sweep(
    description="CIFAR-10 study CNN: optimizer x lr x schedule x batch x dropout x augmentation, tuner's TPE",
    data="cifar10",
    model="cnn",
    fixed={"channels": (32, 64, 128), "hidden": (256, 128), "weight_decay": 5e-4},
    space={
        "optimizer": tune.choice(["sgd", "adam", "adamw", "rmsprop"]),
        "lr": tune.loguniform(1e-4, 3e-1),
        "momentum": tune.choice([0.0, 0.9]),  # Adam/AdamW ignore it; kept a dict space for Katib's export, which
        #                                     has no conditional parameters (sweeps/mnist_mlp.py: the conditional form)
        "scheduler": tune.choice(["cosine", "onecycle", "step", "plateau", "exponential"]),
        "batch_size": tune.choice([64, 128, 256]),
        "dropout": tune.uniform(0.0, 0.6),
        "augment": tune.choice(["none", "flip_crop", "flip_crop_rotate", "strong"]),
        "batch_norm": tune.choice([False, True]),
    },
    # Known to work: run first, and under a tight time budget the only ones run (docs/budget.md). OneCycle
    # with batch norm trains this CNN in few epochs; SGD + momentum led the recorded CIFAR table
    # (benchmarks/tables/s0_cifar_lr) at 12 epochs.
    start=[
        {"optimizer": "adam", "lr": 2e-3, "momentum": 0.0, "scheduler": "onecycle", "batch_size": 128,
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

"""Promotion by continuation against promotion from scratch (docs/search.md, "Promotion: from scratch or
continued"): a budgeted search (rungs 1, 3, 9 epochs) over S1's MNIST MLP (784-128-10, batch 64) with its
optimizers, learning rates and schedules, 18 configurations, one seed (no confirm phase). search_options cannot
be set on the command line: the promotion comes from $PROMOTION (scratch when unset; the run folder's spec.json
records it).

    for S in 0 1 2; do for P in scratch continue; do
        PROMOTION=$P python -m tuner.sweep benchmarks/search/promotion_mnist.py --seed $S \\
            --results runs/promotion/$P-$S --no-report --no-dashboard
    done; done
    # and continuation spending what it saves on more configurations: --num-samples 24, PROMOTION=continue
"""

import os

from ray import tune

from tuner import Sweep

sweep = Sweep(
    name="promotion_mnist",
    description="Budgeted search, S1 MNIST MLP 784-128-10: optimizer x lr x schedule, rungs 1, 3, 9",
    data="mnist",
    model="mlp",
    fixed={"hidden": (128,), "dropout": 0.0, "batch_size": 64, "augment": "none", "step_size": 3},
    space={
        "optimizer": tune.choice(["sgd", "adam", "rmsprop"]),
        "lr": tune.loguniform(1e-4, 3e-1),
        "momentum": tune.choice([0.0, 0.9]),
        "scheduler+gamma": tune.choice([("step", 0.1), ("exponential", 0.7), ("cosine", None), ("none", None)]),
    },
    search="budgeted",
    search_options={"promotion": os.environ.get("PROMOTION", "scratch")},
    trial_scheduler="none",
    grace_period=1,
    reduction_factor=3,
    num_samples=18,
    max_epochs=9,
    seeds=[0],
)

"""S2 (studies/002_bffc64ee784633b5.txt), CIFAR-10: the hand-tuned MLP and CNN, each with its own optimizer,
trained side by side under one protocol.

The study's protocol:
    data       50,000 training images split 40,000 train / 10,000 validation (val_fraction .2), normalised by
               the 40k split's per-channel mean/std (normalize="train"); the test set is used once at the end
    MLP        3072-512-256-10: Linear, BatchNorm1d, ReLU, Dropout .4 per hidden layer
               Adam lr 1e-3, betas (.9, .999), eps 1e-8, weight decay 1e-6
    CNN        3 x [Conv 3x3 (32, 64, 128), BatchNorm2d, ReLU, Dropout2d .1, MaxPool 2x2], Flatten, Dropout .4,
               Linear 2048-10 (no hidden FC layer)
               SGD lr .01, momentum .9, weight decay 1e-3
    both       ReduceLROnPlateau(mode min, factor .1, patience 3) on the validation loss, stepped per epoch;
               batch 64 (625 batches of the 40k split), 40 epochs, cross entropy, no augmentation
What the study reported (validation; "the test loss and accuracy are identical to the validation"):
    MLP  loss ~1.2, accuracy ~58%  (overfits)
    CNN  loss ~0.56, accuracy ~81%
The two models are one table, so they are one paired grid: model, head and optimizer settings go together.
tuner ranks them on the same 20% validation split and tests only the chosen one; `--compare model` in
`python -m tuner.analysis` shows the best of each.

Differences from the study's code that do not change the function: tuner's cnn puts Dropout2d after the max
pool (channel dropout commutes with max pooling), and its convolutions before batch norm have no bias (BN
removes it anyway), so the CNN has 224 fewer parameters (113,962; the MLP has 1,708,810 as in S2).
S2 reports the final (epoch-40) model; tuner keeps the best-validation-accuracy epoch's weights (restore_best;
--set restore_best=false for the last epoch).

Compute: 2 rows x 3 seeds = 6 trials x 40 epochs = 240 trial-epochs (GPU: minutes; 2-core CPU: the MLP
~2-5 s an epoch, the CNN with BN ~15-25 s: ~45-60 min).
    python -m tuner.sweep sweeps/seeds/s2_cifar_grid.py
REDUCED budget for a CPU, as run for analysis/s2 (not the protocol: 15 epochs, 8,000 train / 2,000 validation
images, the whole test set):
    python -m tuner.sweep sweeps/seeds/s2_cifar_grid.py --max-epochs 15 --set fixed.subset=10000
"""

from ray import tune

from tuner import Sweep

ROWS = [
    # model, hidden FC sizes, channel dropout, optimizer, lr, momentum, weight decay
    ("mlp", (512, 256), None, "adam", 1e-3, 0.0, 1e-6),
    ("cnn", (), 0.1, "sgd", 1e-2, 0.9, 1e-3),
]

sweep = Sweep(
    name="s2_cifar_grid",
    description="S2 CIFAR-10: MLP 3072-512-256-10 (BN, drop .4, Adam 1e-3) vs CNN 32/64/128 (BN, Dropout2d .1, "
                "drop .4, SGD .01 m .9); Plateau .1/3, batch 64, 40 ep, 40k/10k split",
    data="cifar10",
    model="mlp",
    fixed={
        "val_fraction": 0.2,
        "normalize": "train",
        "augment": "none",
        "channels": (32, 64, 128),
        "batch_norm": True,
        "dropout": 0.4,
        "beta1": 0.9,
        "beta2": 0.999,
        "batch_size": 64,
        "scheduler": "plateau",
        "plateau_factor": 0.1,
        "plateau_patience": 3,
    },
    space={"model+hidden+dropout2d+optimizer+lr+momentum+weight_decay": tune.grid_search(ROWS)},
    search="grid",
    trial_scheduler="none",
    max_epochs=40,
    seeds=[0, 1, 2],
    cpu=2,
    gpu=0.25,
)

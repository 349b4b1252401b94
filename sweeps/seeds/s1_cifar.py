"""S1 (studies/001_c83afc7c7a4f4a41.txt), CIFAR-10: AdamW / Adagrad / Adamax, then CyclicLR / CosineAnnealingLR /
OneCycleLR, on the CNN conv 32/64/128 + FC 256-128, 5 epochs.

The study's protocol, with settings read off its printed logs:
    CNN: three 3x3 conv layers 32 -> 64 -> 128 with ReLU, max pool after each, FC 256 and 128, 10 outputs
    (no dropout or batch norm mentioned); 5 epochs
    optimizers, no schedule, PyTorch's default settings (no lr printed):
        AdamW lr .001 (weight decay .01) | Adagrad lr .01 | Adamax lr .002
    schedulers, at a peak/initial lr of .01 (optimizer not named):
        CyclicLR   base_lr .001, max_lr .01, rising over 5 epochs (LR .0028, .0046, .0064, .0082, .0100)
        CosineAnnealingLR  lr .01, T_max 10 epochs (LR .009755 after epoch 1, .005000 after epoch 5)
        OneCycleLR no settings shown; here max lr .01, PyTorch defaults (30% warm-up, start at lr/25)
What the study reported (TRAINING accuracy, epoch 5; no validation or test numbers):
    AdamW 82.30%   Adamax 46.56%   Adagrad 35.42%
    CyclicLR, CosineAnnealingLR, OneCycleLR: loss 2.3035 and accuracy 9.88% in every epoch ("stuck");
    also CyclicLR base .015 / max .02 for 20 epochs: the same (s1_cifar_cyclic.py).
Here every row is ranked on a 10% validation split and the chosen one is tested once; a run whose training
loss stays at ln 10 = 2.3026 for 3 epochs ends as STUCK.

The study's stuck runs: their printed learning rates are exactly what these schedulers give when stepped once
per EPOCH with step_size_up=5 / T_max=10, so S1 stepped them per epoch. tuner steps cyclic and onecycle after
every batch (cosine per epoch), with the same per-epoch envelope: cycle_epochs=5 makes the cyclic lr climb from
.001 to .01 over 5 epochs. Per-epoch stepping alone does not freeze a network, though: a loss constant to four
decimals under three different schedules points at a network that never trained or died in its first steps
(an adaptive optimizer at lr .01 on this CNN without batch norm can kill every ReLU). If these rows end
STUCK here too, with per-batch stepping, the schedule interval was not the cause. To force S1's per-epoch
stepping: --set scheduler_interval=epoch (then cyclic climbs per epoch over cycle_epochs x batches-per-epoch
steps, i.e. barely moves -- not S1's curve).

Where the text is silent, and what this file does:
- Which optimizer ran the scheduler experiments: not said. Every scheduler runs with each of the three
  optimizers (9 rows), at the lr .01 the logs show, plus the 3 no-schedule rows at PyTorch's default lrs.
- Cosine T_max: S1 used 10 with 5 epochs (half a cosine, ending at .005); tuner's cosine always spans the run
  (T_max = epochs), so it ends near 0. Not encodable: tuner has no T_max knob.
- Batch size: not stated; 64. Dropout: none stated; 0. Normalisation: not described; train-split mean/std.
- S1 lists colour jitter, horizontal flip and random crop for CIFAR but shows no run with them: no augmentation.

Compute: 12 rows x 3 seeds = 36 trials x 5 epochs = 180 trial-epochs (60 per seed). GPU: minutes; on this
2-core CPU ~15-25 s an epoch: ~1 h.
    python -m tuner.sweep sweeps/seeds/s1_cifar.py
REDUCED budget for a CPU, as run for analysis/s1 (not the study's protocol: 9,000 train / 1,000 validation
images, the whole test set; 180 short trial-epochs, ~12 min):
    python -m tuner.sweep sweeps/seeds/s1_cifar.py --set fixed.subset=10000
"""

from ray import tune

from tuner import Sweep

OPTIMIZERS = [  # (optimizer, its PyTorch default lr, its PyTorch default weight decay)
    ("adamw", 0.001, 0.01),
    ("adagrad", 0.01, 0.0),
    ("adamax", 0.002, 0.0),
]
SCHEDULED_LR = 0.01  # the initial/peak lr in S1's scheduler logs

ROWS = (
    [(opt, lr, wd, "none") for opt, lr, wd in OPTIMIZERS]  # S1's optimizer table
    + [(opt, SCHEDULED_LR, wd, sched) for sched in ("cyclic", "cosine", "onecycle") for opt, _, wd in OPTIMIZERS]
)

sweep = Sweep(
    name="s1_cifar",
    description="S1 CIFAR-10 CNN: AdamW/Adagrad/Adamax at default lr, and x Cyclic/Cosine/OneCycle at lr .01, 5 ep",
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
        "cycle_epochs": 5.0,  # CyclicLR: .001 -> .01 over 5 epochs (S1's step_size_up=5, stepped per epoch)
        "base_lr_ratio": 0.1,  # CyclicLR base_lr .001 = .1 x max_lr .01
        "pct_start": 0.3,  # OneCycleLR: PyTorch's default warm-up share
    },
    space={"optimizer+lr+weight_decay+scheduler": tune.grid_search(ROWS)},
    search="grid",
    trial_scheduler="none",
    max_epochs=5,
    seeds=[0, 1, 2],
    cpu=2,
    gpu=0.25,
)

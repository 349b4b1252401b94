"""S3 (studies/003_7dfc1158c92d5085.txt), CIFAR-10, searched: S3's five architectures and their grids as one
conditional space, TPE proposing and ASHA stopping the weak early, augmentation searched alongside.

Fixed as in S3 (see s3_cifar_grid.py): 20% validation split, train-set normalisation, Adam lr 1e-3, no
schedule, up to 100 epochs, early stopping after 5 epochs without a lower validation loss.
Space (each model's knobs only when that model is drawn; S3's grid values, as stepped integer ranges because
Optuna forbids one name having different category lists in different branches -- 96 and 384 come in between):
    model      tinyvgg | resnet12 | gru | vit | mixer
    tinyvgg    width 32 .. 128 step 32
    resnet12   width 32 .. 128 step 32
    gru        hidden 32 .. 128 step 32, layers 1 .. 4
    vit        embed 32 .. 128 step 32, depth 4 | 6 | 8, MLP dim 128 .. 512 step 128 (patch 4, 8 heads, dropout .1)
    mixer      embed 64 | 128, depth 4 | 6 | 8, token dim 64 | 128, channel dim 64 | 128 (patch 4, dropout .1)
    batch      32 | 64 | 128
    augment    none | flip_crop_rotate_jitter (crop, flip, rotation, colour jitter; S3 searched on none only)
S3's test accuracies at its grid's choices (normalised / augmented): ResNet-12 84.57 / 89.81%, TinyVGG 75.82 /
81.09%, MLP-Mixer 71.73 / 72.81%, GRU 68.44 / 71.47%, ViT 67.06 / 75.09%.

Compute: 60 trials on seed 0, ASHA grace 5 epochs, keep 1/3 at rungs 5, 15, 45 of 100: about
60 x (5 + 10/3 + 30/9 + 55/27) ~ 820 trial-epochs at most (early stopping trims it), then the best 3 rerun on
seeds 1 and 2 (3 x 2 x at most 100; ~40 with early stopping): ~1,000-1,400 trial-epochs, against the grid's
41,400 at most (~10,000 expected). GPU: two trials share one (gpu=0.5); a few GPU-hours.
    python -m tuner.sweep sweeps/seeds/s3_cifar_tpe.py
REDUCED budget for a CPU, as run for analysis/s3 (not the protocol: at most 16 trials of at most 8 epochs
within 15 minutes, ASHA grace 2, no confirm seeds, 4,000 train / 1,000 validation images, the whole test set):
    python -m tuner.sweep sweeps/seeds/s3_cifar_tpe.py --num-samples 16 --max-epochs 8 --set seeds=0 \
        --set fixed.subset=5000 --set grace_period=2 --time-budget 900
"""

from tuner import Sweep


def space(trial):
    # Optuna lets one name take different integer ranges in different branches, but not different category
    # lists; so the per-model sizes are stepped integer ranges spanning S3's grid values (a few midpoints added).
    model = trial.suggest_categorical("model", ["tinyvgg", "resnet12", "gru", "vit", "mixer"])
    if model in ("tinyvgg", "resnet12"):
        trial.suggest_int("width", 32, 128, step=32)  # S3: 32, 64, 128 (+ 96)
    elif model == "gru":
        trial.suggest_int("width", 32, 128, step=32)  # hidden size; S3: 32, 64, 128 (+ 96)
        trial.suggest_int("depth", 1, 4)  # layers; S3: 1, 2, 3, 4
    elif model == "vit":
        trial.suggest_int("width", 32, 128, step=32)  # embedding, a multiple of the 8 heads; S3: 32, 64, 128 (+ 96)
        trial.suggest_int("depth", 4, 8, step=2)  # S3: 4, 6, 8
        trial.suggest_int("mlp_dim", 128, 512, step=128)  # S3: 128, 256, 512 (+ 384)
    else:  # mixer
        trial.suggest_int("width", 64, 128, step=64)  # S3: 64, 128
        trial.suggest_int("depth", 4, 8, step=2)  # S3: 4, 6, 8
        trial.suggest_categorical("token_dim", [64, 128])  # S3: 64, 128
        trial.suggest_int("mlp_dim", 64, 128, step=64)  # channel-mixing size; S3: 64, 128
    trial.suggest_categorical("batch_size", [32, 64, 128])
    trial.suggest_categorical("augment", ["none", "flip_crop_rotate_jitter"])


sweep = Sweep(
    name="s3_cifar_tpe",
    description="S3 CIFAR-10: TinyVGG / ResNet-12 / GRU / ViT / MLP-Mixer with their knobs x batch x augmentation, "
                "TPE + ASHA, Adam 1e-3, early stop 5",
    data="cifar10",
    model="tinyvgg",
    fixed={
        "val_fraction": 0.2,
        "normalize": "train",
        "optimizer": "adam",
        "lr": 1e-3,
        "scheduler": "none",
        "early_stop_patience": 5,
        "early_stop_metric": "val_loss",
        "heads": 8,
        "patch": 4,
    },
    space=space,
    search="optuna",
    trial_scheduler="asha",
    grace_period=5,
    reduction_factor=3,
    num_samples=60,
    max_epochs=100,
    seeds=[0, 1, 2],
    confirm_top=3,
    cpu=2,
    gpu=0.5,
)

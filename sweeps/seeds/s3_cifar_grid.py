"""S3 (studies/003_7dfc1158c92d5085.txt), CIFAR-10: five architectures, each with its own hyperparameter grid,
trained with and without data augmentation; Adam 1e-3, up to 100 epochs, early stopping.

The study's protocol (section 4.3, its pseudo-code, and each model's grid in 4.4):
    data       20% of the training set held out for validation (val_fraction .2); normalised with the
               training set's mean/std; test set only for the final tables
    training   Adam lr 1e-3, cross entropy, no lr schedule, up to 100 epochs, early stopping when the loss has
               not improved for 5 epochs (early_stop_patience 5, on the validation loss); a configuration's
               score is its best validation accuracy over the epochs (so is tuner's)
    grids      TinyVGG    hidden units (width) [32, 64, 128] x batch [32, 64, 128]                       9
               ResNet-12  hidden units (width) [32, 64, 128] x batch [32, 64, 128]                       9
               GRU        hidden size [32, 64, 128] x layers [1, 2, 3, 4] x batch [32, 64, 128]          36
               ViT        embed [32, 64, 128] x depth [4, 6, 8] x MLP dim [128, 256, 512] x batch         81
                          [32, 64, 128]; patch 4, 8 heads, dropout .1 fixed
               MLP-Mixer  embed [64, 128] x depth [4, 6, 8] x token dim [64, 128] x channel dim           72
                          [64, 128] x batch [32, 64, 128]; patch 4, dropout .1 fixed
                                                                                               207 rows
    augmentation  random crop, horizontal flip, rotation, colour jitter on the training images only:
               tuner's `flip_crop_rotate_jitter` (flip p .5, 4-px pad + crop, +-15 degrees, brightness /
               contrast / saturation +-20%); S3 gives no magnitudes and also jitters hue, which tuner cannot
What the study reported (test accuracy; chosen hyperparameters in brackets):
                  normalised only   augmented
    TinyVGG       75.82%            81.09%     (128 units, batch 128; early stop at 9 / 33 epochs)
    ResNet-12     84.57%            89.81%     (128 units, batch 64; 12 / 24)
    GRU           68.44%            71.47%     (64 hidden, "8 layers", batch 32; 16 / 33)
    ViT           67.06%            75.09%     (embed 64, depth 8, MLP 512, batch 32; 22 / 45)
    MLP-Mixer     71.73%            72.81%     (embed 64, depth 6, token 64, channel 128, batch 32; 16 / 35)

Ambiguous or self-contradictory, and what this file does:
- S3 searched its grids on the normalised data only and reused the winners for the augmented runs. Here
  augmentation is one more grid axis, so each model's grid runs both ways (414 trials); --set augment=none
  runs S3's search exactly (207), and s3_cifar_chosen.py reruns S3's chosen rows both ways (its Tables 1-2).
- GRU: the chosen "8 layers" is not in the grid it lists ([1, 2, 3, 4]); the grid is encoded as listed,
  s3_cifar_chosen.py runs both depth 4 and depth 8.
- "Hidden units" of TinyVGG / ResNet-12: taken as the conv width (ResNet-12 stages w, 2w, 4w, 8w; at w=128
  that is 32M parameters, at 32 it is 2M). GRU: the image's rows are the sequence (32 steps of 3x32 values).
- Which loss early stopping watches: the validation loss (it guards against overfitting, as the text says).
- tuner restores the best-validation-accuracy epoch's weights before the test; S3 does not say.

Compute: 414 trials of at most 100 epochs: an upper bound of 41,400 trial-epochs. With early stopping at the
epochs S3 reports (~10-20 normalised, ~25-45 augmented) expect ~207 x 15 + 207 x 35 ~ 10,000 trial-epochs.
On a GPU (gpu=0.5: two trials share one) at 2-6 s an epoch, about 5-10 GPU-hours; not for a CPU (TinyVGG alone is
~160 s an epoch on this 2-core machine, ResNet-12 ~5 min).
    python -m tuner.sweep sweeps/seeds/s3_cifar_grid.py
    python -m tuner.sweep sweeps/seeds/s3_cifar_grid.py --set augment=none      # S3's own search: 207 trials
REDUCED budget (not the protocol: S3's search only, at most 20 epochs, 8,000 train / 2,000 validation images;
still many hours on a CPU, not run here):
    python -m tuner.sweep sweeps/seeds/s3_cifar_grid.py --set augment=none --max-epochs 20 --set fixed.subset=10000
"""

from itertools import product

from ray import tune

from tuner import Sweep

BATCH = [32, 64, 128]
# one row per configuration: (model, width, depth, mlp_dim, token_dim, batch_size); None = not a knob of that model
ROWS = (
    [("tinyvgg", w, None, None, None, b) for w, b in product([32, 64, 128], BATCH)]
    + [("resnet12", w, None, None, None, b) for w, b in product([32, 64, 128], BATCH)]
    + [("gru", w, d, None, None, b) for w, d, b in product([32, 64, 128], [1, 2, 3, 4], BATCH)]
    + [("vit", w, d, m, None, b) for w, d, m, b in product([32, 64, 128], [4, 6, 8], [128, 256, 512], BATCH)]
    + [("mixer", w, d, c, t, b) for w, d, t, c, b in product([64, 128], [4, 6, 8], [64, 128], [64, 128], BATCH)]
)

sweep = Sweep(
    name="s3_cifar_grid",
    description="S3 CIFAR-10: TinyVGG / ResNet-12 / GRU / ViT / MLP-Mixer grids x augmentation, Adam 1e-3, "
                "<=100 ep, early stop 5",
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
        "heads": 8,  # vit
        "patch": 4,  # vit, mixer
        # dropout: each model's own default (vit and mixer .1 as S3 fixed them; tinyvgg, resnet12, gru none)
    },
    space={
        "model+width+depth+mlp_dim+token_dim+batch_size": tune.grid_search(ROWS),
        "augment": tune.grid_search(["none", "flip_crop_rotate_jitter"]),
    },
    search="grid",
    trial_scheduler="none",
    max_epochs=100,
    seeds=[0],
    cpu=2,
    gpu=0.5,
)

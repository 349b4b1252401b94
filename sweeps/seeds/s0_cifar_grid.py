"""S0 (studies/000_256847521f03bfe1.txt), CIFAR-10 half: the CNN's 3 optimizers x 3 learning-rate schedulers grid.

The study's protocol (its Fig. 5, "Experiment Configurations"):
    CNN conv 32/64/128 (3x3, ReLU, 2x2 max pool each), flatten, FC 256-128 with dropout .5, 10 outputs
    batch 64 (the text says batch 128 gave lower accuracy), 30 epochs (20 were tried first)
    SGD lr .01 | Adam lr .001 | RMSprop lr .001   x   StepLR | ReduceLROnPlateau | ExponentialLR   = 9 runs
    no augmentation in these 9 runs (rotation/flip/crop was a separate experiment: s0_cifar_augment.py)

What the study reported (test accuracy after the 30th epoch; no validation split, test read every epoch).
Only ReduceLROnPlateau rows were tabulated ("all optimizers performed best with ReduceLROnPlateau"):
    SGD     + ReduceLROnPlateau   72.54%  (train 75.15%; the prose says 66.84% train)
    Adam    + ReduceLROnPlateau   47.32%  (train 45.65%)
    RMSprop + ReduceLROnPlateau   78.25%  (train 92.19%)
    SGD     + StepLR              56.04%  (the "random validation" paragraph)
    Adam    + StepLR / ExponentialLR  "only reach around 10%" (chance: tuner labels such runs STUCK)
Here rows are compared on a 10% stratified validation split (val_fraction .1; S0 has none) and the chosen one
is tested once.

Where the text is silent or ambiguous, and what this file does (the same choices as s0_mnist_grid.py):
- Scheduler settings are not given. PyTorch defaults where they exist: StepLR gamma .1, ReduceLROnPlateau
  factor .1, patience 10 (on the validation loss). Where none exists: StepLR step_size 10 (decays after epochs
  10 and 20 of 30), ExponentialLR gamma .9 (lr x 0.047 by epoch 30).
- Where the dropout .5 sits ("FC layers (256, 128) with dropout (50%)"): after each hidden FC layer (tuner's cnn).
- Normalisation: per-channel mean/std of the training split.

Compute: 9 configurations x 3 seeds = 27 trials x 30 epochs = 810 trial-epochs (270 per seed). Sized for a GPU
(gpu=0.25: four trials share one); a trial falls back to the CPU where there is none. On this 2-core CPU one
CNN epoch (703 steps of 64, bf16) takes ~15-25 s with both cores, one trial at a time: ~4-6 h for the full grid.
    python -m tuner.sweep sweeps/seeds/s0_cifar_grid.py
REDUCED budget for a CPU, as run for analysis/s0 (not the study's protocol: one seed, 10 epochs, 9,000 train /
1,000 validation images, the whole test set; StepLR every 4 epochs and Plateau patience 3 so that both act
within 10 epochs; 90 trial-epochs, ~8 min):
    python -m tuner.sweep sweeps/seeds/s0_cifar_grid.py --set seeds=0 --max-epochs 10 --set fixed.subset=10000 \
        --set step_size=4 --set plateau_patience=3
"""

from ray import tune

from tuner import Sweep

sweep = Sweep(
    name="s0_cifar_grid",
    description="S0 CIFAR-10 CNN 32/64/128 + FC 256-128: SGD/Adam/RMSprop x StepLR/Plateau/Exponential grid, "
                "batch 64, 30 ep",
    data="cifar10",
    model="cnn",
    fixed={
        "channels": (32, 64, 128),
        "hidden": (256, 128),
        "dropout": 0.5,
        "batch_size": 64,
        "augment": "none",
        "normalize": "train",
        "val_fraction": 0.1,
        "step_size": 10,  # StepLR: epochs between decays (not in the text; PyTorch has no default)
        "plateau_factor": 0.1,  # ReduceLROnPlateau: PyTorch defaults (not in the text)
        "plateau_patience": 10,
    },
    space={
        "optimizer+lr": tune.grid_search([("sgd", 0.01), ("adam", 0.001), ("rmsprop", 0.001)]),
        # gamma: StepLR's factor per step, ExponentialLR's factor per epoch; plateau uses plateau_factor
        "scheduler+gamma": tune.grid_search([("step", 0.1), ("plateau", None), ("exponential", 0.9)]),
    },
    search="grid",
    trial_scheduler="none",
    max_epochs=30,
    seeds=[0, 1, 2],
    cpu=2,
    gpu=0.25,
)

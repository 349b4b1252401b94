"""S1 (studies/001_c83afc7c7a4f4a41.txt), MNIST optimizers: SGD vs Adam vs RMSprop on a 784-128-10 MLP, 5 epochs.

The study's protocol (section "Optimization Methods"):
    MLP 784-128-10 (one hidden layer of 128, ReLU; no dropout mentioned), cross entropy
    5 epochs with each optimizer, no learning-rate schedule
What the study reported (TRAINING accuracy per epoch; S1 shows no validation or test number for these runs):
    SGD      80.56% -> 92.49% (epoch 1 -> 5), loss .8732 -> .2658
    Adam     91.88% -> 98.36%, loss .2941 -> .0508
    RMSprop  "almost the same result as Adam" (no log shown)
Here the rows are compared on validation accuracy (10% stratified split, tuner's default) and the chosen one
is tested once.

Not in the text, and what this file does:
- Learning rates are not stated. SGD .01: the StepLR log of the same SGD setup prints LR 0.010000 and its first
  epochs match this SGD log (80.76% vs 80.56%). Adam and RMSprop: PyTorch's defaults, .001 and .01 (S1 shows no
  sign of having changed them; RMSprop at .001 is the other plausible reading: edit the tuple).
- Batch size is not stated: 64 (SGD at lr .01 without momentum reaching 80% train accuracy in epoch 1 fits
  ~900 steps an epoch; S1's CIFAR half and most tutorials use 64).
- No dropout (the text lists none; tuner's mlp default of .2 is S0's), no augmentation: S1 shows its MNIST
  augmentations (flip, rotation 60-90 degrees, affine) applied to one image, not in these training runs.
- Normalisation is not described: per-channel mean/std of the training split (if S1 fed ToTensor's
  [0, 1] pixels, which its slow SGD start may hint at: --set normalize=none).

Budget: 3 optimizers x 3 seeds = 9 trials x 5 epochs = 45 trial-epochs (a 100k-parameter MLP: ~3 min on 2 CPU cores).
    python -m tuner.sweep sweeps/seeds/s1_mnist_optimizers.py
"""

from ray import tune

from tuner import Sweep

sweep = Sweep(
    name="s1_mnist_optimizers",
    description="S1 MNIST MLP 784-128-10: SGD .01 / Adam .001 / RMSprop .01, no schedule, 5 epochs",
    data="mnist",
    model="mlp",
    fixed={
        "hidden": (128,),
        "dropout": 0.0,
        "batch_size": 64,
        "augment": "none",
        "normalize": "train",
        "val_fraction": 0.1,
        "scheduler": "none",
    },
    space={"optimizer+lr": tune.grid_search([("sgd", 0.01), ("adam", 0.001), ("rmsprop", 0.01)])},
    search="grid",
    trial_scheduler="none",
    max_epochs=5,
    seeds=[0, 1, 2],
    cpu=1,
    gpu=0,
)

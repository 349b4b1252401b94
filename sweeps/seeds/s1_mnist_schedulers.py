"""S1 (studies/001_c83afc7c7a4f4a41.txt), MNIST learning-rate schedulers: StepLR vs ExponentialLR vs
ReduceLROnPlateau for SGD lr .01 on the 784-128-10 MLP, 15 epochs each.

The study's protocol (section "Learning Rate Methods"), with settings read off its printed logs:
    SGD lr .01 (LR 0.010000 in epoch 1), 15 epochs per scheduler, MLP 784-128-10
    StepLR            step_size 5, gamma .1    (LR .01 -> .001 -> .0001 -> .00001 after epochs 5, 10, 15)
    ExponentialLR     gamma .9                 (LR .00001 -> .000009 -> .000008 -> .000007 ...)
    ReduceLROnPlateau factor .1, patience 2    (LR .000002 for three epochs, then "0.000000" from epoch 4 on)
What the study reported (training accuracy, last epoch): StepLR 93.08%, ExponentialLR 93.09%, Plateau 93.09%;
it concluded that StepLR suits MNIST and that Exponential and Plateau "prevented additional learning".

Self-contradictory in the text, and what this file does: the three schedulers were NOT three runs. The logs
chain: ExponentialLR starts where StepLR ended (loss .2458, LR .00001 x .9) and Plateau where ExponentialLR
ended (loss .2457, LR .000002) -- one model and one optimizer kept training through all three, so the
Exponential and Plateau rows measure a run whose learning rate was already ~1e-5. Here every scheduler starts
from fresh weights at lr .01 with its own settings, which is the comparison the study meant to make, and a
constant-lr row ("none") is added as the control the study lacked (not one of its rows).
Also not in the text: batch size (64, as s1_mnist_optimizers.py), what Plateau monitors (here the validation
loss; S1's training loss is the other reading), no dropout, per-channel mean/std normalisation
(--set normalize=none for raw [0, 1] pixels).

Budget: 4 schedules x 3 seeds = 12 trials x 15 epochs = 180 trial-epochs (~8 min on 2 CPU cores).
    python -m tuner.sweep sweeps/seeds/s1_mnist_schedulers.py
"""

from ray import tune

from tuner import Sweep

sweep = Sweep(
    name="s1_mnist_schedulers",
    description="S1 MNIST MLP 784-128-10, SGD .01: StepLR(5, .1) / Exponential(.9) / Plateau(.1, 2) / none, 15 ep",
    data="mnist",
    model="mlp",
    fixed={
        "hidden": (128,),
        "dropout": 0.0,
        "batch_size": 64,
        "augment": "none",
        "normalize": "train",
        "val_fraction": 0.1,
        "optimizer": "sgd",
        "lr": 0.01,
        "step_size": 5,  # StepLR: decays after epochs 5, 10, 15 (read off S1's LR column)
        "plateau_factor": 0.1,  # ReduceLROnPlateau: .000002 -> .0000002 after 3 flat epochs -> patience 2
        "plateau_patience": 2,
    },
    space={
        # gamma: StepLR's factor per step, ExponentialLR's factor per epoch (.00001 -> .000009: .9)
        "scheduler+gamma": tune.grid_search([("step", 0.1), ("exponential", 0.9), ("plateau", None), ("none", None)]),
    },
    search="grid",
    trial_scheduler="none",
    max_epochs=15,
    seeds=[0, 1, 2],
    cpu=1,
    gpu=0,
)

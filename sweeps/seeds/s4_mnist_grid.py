"""S4 (studies/004_5473f4728b379365.txt), MNIST: one MLP 784-128-64-10 trained with SGD, SGD + momentum and Adam,
25 epochs each.

The study's protocol:
    MLP 784-128-64-10, ReLU, no dropout, cross entropy
    inputs scaled to [0, 1], then Normalize((0.5,), (0.5,)) -> [-1, 1]   (normalize="half")
    SGD | SGD + momentum | Adam, 25 epochs each (the fewest at which all three pass 97% test accuracy)
    no learning-rate schedule, no augmentation; all 60,000 training images, no validation split
What the study reported (TEST accuracy, read after every epoch; its "best" column is a test-set maximum):
    optimizer        first epoch >97%   best     last (25)   last train loss   last test loss
    SGD              22                 97.18%   97.18%      .0746             .0941
    SGD + momentum    8                 97.95%   97.61%      .0147             .0792
    Adam              5                 97.80%   97.51%      .0195             .1175
Here the rows are compared on a 10% stratified validation split (tuner never selects on test; S4 has no
validation split), with three seeds each; the chosen configuration is tested once.

Not in the text, and what this file does -- the values live in S4's config.py, which the write-up does not
reproduce ("can be found in 'config.py'"):
- Learning rates, momentum and batch size are not stated. Chosen: SGD lr .01; SGD + momentum lr .01, momentum
  .9; Adam lr .001 (PyTorch's default); train batch 64. These fit the logs' pace only roughly (plain SGD still
  climbing at epoch 25, momentum ~3x faster, Adam past 97% at epoch 5); edit the tuples to try others, or use
  s4_mnist_tpe.py, which searches the learning rate.
- Self-contradictory: Adam's best is 97.80% in the summary table but 97.83% at epoch 19 in the log above it.

Budget: 3 rows x 3 seeds = 9 trials x 25 epochs = 225 trial-epochs (a 109k-parameter MLP; ~10 min on 2 CPU cores).
    python -m tuner.sweep sweeps/seeds/s4_mnist_grid.py
"""

from ray import tune

from tuner import Sweep

sweep = Sweep(
    name="s4_mnist_grid",
    description="S4 MNIST MLP 784-128-64-10, inputs (x-.5)/.5: SGD .01 / SGD .01 + momentum .9 / Adam .001, 25 ep",
    data="mnist",
    model="mlp",
    fixed={
        "hidden": (128, 64),
        "dropout": 0.0,
        "normalize": "half",
        "batch_size": 64,
        "augment": "none",
        "val_fraction": 0.1,
        "scheduler": "none",
    },
    space={
        "optimizer+lr+momentum": tune.grid_search([("sgd", 0.01, 0.0), ("sgd", 0.01, 0.9), ("adam", 0.001, 0.0)]),
    },
    search="grid",
    trial_scheduler="none",
    max_epochs=25,
    seeds=[0, 1, 2],
    cpu=1,
    gpu=0,
)

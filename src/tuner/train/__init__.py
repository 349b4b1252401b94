"""The training core: one configuration trained in plain PyTorch, no Ray.

    config     TrainConfig: every setting of one training run
    data       data sets as uint8 arrays, decoded once and cached (datasets: the loaders)
    models     MODELS, the architectures;   optim: OPTIMIZERS, SCHEDULERS;   augment: AUGMENTS
    checks     validate() and check_buildable() (the model built on the meta device)
    device     device, precision, memory layout; the data resident on the device
    loop       fit() and Run: the epoch loop;   evaluation: accuracy, loss, confusion; a trained state rebuilt
    probe      one epoch timed before a sweep starts

`from tuner import train; train.fit(...)` works as before: the names below are looked up in their modules on
first use, so importing `tuner.train.config` or `tuner.train.data` does not import torch.
"""

from __future__ import annotations

from tuner import _lazy

_WHERE = {
    "TrainConfig": "config",
    "validate": "checks", "check_buildable": "checks", "MODEL_FIELDS": "checks",
    "resolve_device": "device", "resolve_precision": "device", "use_channels_last": "device",
    "DeviceData": "device", "Normalizer": "device", "prepare_splits": "device",
    "evaluate": "evaluation", "evaluate_split": "evaluation", "load_model": "evaluation", "Evaluation": "evaluation",
    "fit": "loop", "Run": "loop", "FitResult": "loop", "Tracker": "loop",
}
__all__ = sorted(_WHERE)

__getattr__, __dir__ = _lazy.exports(__name__, _WHERE)

"""Per-optimizer learning-rate ranges on the S4 table (python -m tuner.replay ... --strategies grid --define-file THIS):
SGD's useful rates sit a decade or two above Adam's, so one shared range wastes samples on both."""


def per_optimizer(trial):
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam"])
    if optimizer == "sgd":
        trial.suggest_categorical("momentum", [0.0, 0.9])
        trial.suggest_float("lr", 1e-3, 1.0, log=True)
    else:
        trial.suggest_float("lr", 1e-4, 1e-2, log=True)


STRATEGIES = {
    "flat": {"base": "tuner-default"},
    "conditional": {"base": "tuner-default", "space": per_optimizer},
    "asha-flat": {"base": "tuner-asha"},
    "asha-conditional": {"base": "tuner-asha", "space": per_optimizer},
}

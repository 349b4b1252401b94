import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from tuner import train
from tuner.errors import UserError
from tuner.train import datasets
from tuner.train.config import TrainConfig
from tuner.train.evaluation import load_file

FAST = {"data": "synthetic", "model": "mlp", "hidden": "64", "batch_size": 64, "epochs": 3}


def test_fit_learns_and_reports_every_epoch():
    records = []
    result = train.fit({**FAST, "lr": 3e-3}, on_epoch=lambda rec, state: records.append(rec))
    assert [r["epoch"] for r in records] == [1, 2, 3] and result.status == "completed"
    assert set(records[0]) >= {"lr", "train_loss", "train_acc", "val_loss", "val_acc", "epoch_time_s", "status"}
    assert result.best["val_acc"] > 0.7 and result.best["val_acc"] == max(r["val_acc"] for r in records)
    assert records[-1]["train_loss"] < records[0]["train_loss"]
    # every report names latency_ms (Ray Tune rejects a result without an objective's metric): NaN until the run has
    # ended, then the trained model's batch-1 inference time
    assert all(math.isnan(r["latency_ms"]) for r in records[:-1]) and 0 < records[-1]["latency_ms"] < 1000


def _final_weights(cfg, resume=None, stop_after=None):
    states = {}

    def keep(record, state):
        if record["epoch"] == stop_after:
            states["saved"] = state()

    result = train.fit(cfg, on_epoch=keep, resume=resume)
    return result, states.get("saved")


@pytest.mark.parametrize("model,extra", [
    ("mlp", {"augment": "flip_crop_rotate", "scheduler": "plateau", "optimizer": "sgd", "momentum": 0.9}),
    ("cnn", {"data": "synthetic:3x16x16", "channels": "8,16", "hidden": "32", "augment": "strong",
             "scheduler": "onecycle", "optimizer": "adamw", "batch_norm": True, "dropout2d": 0.1}),
])
def test_resume_is_bit_for_bit(tmp_path, model, extra):
    cfg = {**FAST, "model": model, "epochs": 4, "restore_best": False, "stuck_epochs": 0, **extra}
    full, saved = _final_weights(cfg, stop_after=2)
    torch.save(saved, tmp_path / "state.pt")  # through a file, as a checkpoint would go
    torch.manual_seed(12345)  # the resumed run must not depend on the process's RNG
    resumed, _ = _final_weights(cfg, resume=load_file(tmp_path / "state.pt"))
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]
    for key, value in full.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert [r["val_loss"] for r in full.history] == [r["val_loss"] for r in resumed.history]


def test_divergence_stops_the_run():
    result = train.fit({**FAST, "optimizer": "sgd", "lr": 1e8, "epochs": 5, "scheduler": "none"})
    assert result.status == "diverged" and len(result.history) == 1


def test_chance_level_loss_is_labelled_stuck():
    result = train.fit({**FAST, "optimizer": "sgd", "lr": 1e-9, "epochs": 10, "stuck_epochs": 2})
    assert result.status == "stuck" and len(result.history) == 2
    assert result.history[-1]["train_loss"] > 0.99 * math.log(10)


def test_a_slow_start_at_chance_loss_whose_accuracy_climbs_is_not_stuck():
    result = train.fit({**FAST, "hidden": "256", "optimizer": "sgd", "lr": 0.01, "scheduler": "none",
                        "epochs": 2, "stuck_epochs": 1})
    first = result.history[0]
    assert first["train_loss"] > 0.99 * math.log(10) and first["val_acc"] >= 0.15
    assert result.status == "completed" and len(result.history) == 2


def test_a_frozen_model_at_chance_loss_is_stuck_once_its_accuracy_stops_rising():
    result = train.fit({**FAST, "hidden": "512", "optimizer": "sgd", "lr": 0.05, "scheduler": "exponential",
                        "gamma": 0.6, "scheduler_interval": "batch", "epochs": 10, "stuck_epochs": 3})
    assert result.status == "stuck" and len(result.history) == 4
    assert len({record["val_acc"] for record in result.history}) == 1
    assert all(record["train_loss"] > 0.99 * math.log(10) for record in result.history)


def test_early_stopping_uses_patience_and_min_delta():
    result = train.fit({**FAST, "epochs": 6, "early_stop_patience": 2, "early_stop_metric": "val_acc",
                        "early_stop_min_delta": 1.0})
    assert result.status == "early_stopped" and len(result.history) == 3


@pytest.mark.parametrize("kind,mean,std", [("half", 0.5, 0.5), ("none", 0.0, 1.0)])
def test_fixed_normalisations(kind, mean, std):
    result = train.fit({**FAST, "epochs": 1, "normalize": kind})
    assert result.normalizer.mean == [mean] and result.normalizer.std == [std]
    assert train.fit({**FAST, "epochs": 1}).normalizer.mean[0] == pytest.approx(0.5, abs=0.1)


def test_label_smoothing_and_grad_clip_run():
    result = train.fit({**FAST, "epochs": 1, "label_smoothing": 0.1, "grad_clip": 0.5, "warmup_epochs": 1})
    assert result.status == "completed" and math.isfinite(result.history[0]["train_loss"])


def test_evaluate_returns_consistent_metrics():
    dataset = datasets.load("synthetic")
    result = train.fit({**FAST, "epochs": 2}, dataset)
    test = train.evaluate_split(result.model, result.normalizer, result.config, dataset.x_test, dataset.y_test, 10)
    confusion = np.array(test.confusion)
    assert confusion.sum() == len(dataset.y_test) and confusion.shape == (10, 10)
    assert test.acc == pytest.approx(np.trace(confusion) / confusion.sum())
    assert test.predictions.shape == dataset.y_test.shape
    assert test.acc == pytest.approx(float((test.predictions == dataset.y_test).mean()))
    assert len(test.per_class_acc) == 10 and 0 < test.loss < 3
    model, normalizer, cfg = train.load_model(result.state, dataset.image_shape, weights="best_model")
    again = train.evaluate_split(model, normalizer, cfg, dataset.x_test, dataset.y_test, 10)
    assert again.acc == test.acc


def test_config_rejects_unknown_keys_and_bad_values():
    with pytest.raises(UserError, match="did you mean 'lr'"):
        TrainConfig.from_dict({"lr_": 0.1})
    with pytest.raises(UserError, match="'epochs' expects int"):
        TrainConfig.from_dict({"epochs": "ten"})
    cfg = TrainConfig.from_dict({"hidden": "512,256", "dropout": "none", "nesterov": "true", "lr": np.float64(0.1),
                                 "epochs": np.int64(3)})
    assert cfg.hidden == (512, 256) and cfg.dropout is None and cfg.nesterov is True and type(cfg.epochs) is int
    for bad in ({"lr": -1}, {"val_fraction": 1.5}, {"dropout": 1.0}, {"precision": "fp8"}, {"data": "mnst"}):
        with pytest.raises(UserError):
            train.validate(TrainConfig.from_dict(bad))


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "tuner.train", *args], capture_output=True, text=True, timeout=300)


def test_cli_prints_key_value_epochs_and_bad_input_exits_2():
    ok = _cli("--set", "data=synthetic", "--set", "hidden=32", "--set", "epochs=2", "--test")
    assert ok.returncode == 0, ok.stderr
    assert "epoch 2/2" in ok.stdout and "val_acc=0." in ok.stdout and "test_acc=0." in ok.stdout
    assert "parameters" in ok.stdout
    bad = _cli("--set", "data=synthetic", "--set", "optimiser=sgd")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == ["error: unknown setting 'optimiser' "
                                                                       "(did you mean 'optimizer'?)"]

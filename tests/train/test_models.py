import pytest
import torch

from tuner.train import models
from tuner.train.config import TrainConfig
from tuner.errors import UserError

SMALL = {"tinyvgg": {"width": 8}, "resnet12": {"width": 4}, "vit": {"width": 16, "depth": 2, "heads": 2,
                                                                   "mlp_dim": 32}, "mixer": {"depth": 2, "width": 16}}


@pytest.mark.parametrize("name", sorted(models.MODELS))
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_every_model_maps_images_to_logits_and_learns(name, shape):
    if shape == (1, 28, 28) and name in ("vit", "mixer"):
        shape = (1, 32, 32)  # patch 4 must divide the side
    torch.manual_seed(0)
    cfg = TrainConfig.from_dict({"model": name, **SMALL.get(name, {})})
    model = models.build(cfg, shape, 10)
    x, y = torch.randn(6, *shape), torch.randint(0, 10, (6,))
    out = model(x)
    assert out.shape == (6, 10) and torch.isfinite(out).all()
    loss = torch.nn.functional.cross_entropy(out, y)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert models.count_parameters(model) > 0


def test_study_architectures_have_the_study_sizes():
    mlp = models.build(TrainConfig(model="mlp"), (1, 28, 28), 10)
    assert models.count_parameters(mlp) == 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10
    s4 = models.build(TrainConfig.from_dict({"model": "mlp", "hidden": "128,64"}), (1, 28, 28), 10)
    assert models.count_parameters(s4) == 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
    s2 = models.build(TrainConfig.from_dict({"model": "mlp", "hidden": "512,256", "batch_norm": True,
                                             "dropout": 0.4}), (3, 32, 32), 10)
    assert [m.out_features for m in s2 if isinstance(m, torch.nn.Linear)] == [512, 256, 10]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in s2) == 2
    cnn = models.build(TrainConfig(model="cnn"), (3, 32, 32), 10)
    convs = [m.out_channels for m in cnn if isinstance(m, torch.nn.Conv2d)]
    fcs = [m.out_features for m in cnn if isinstance(m, torch.nn.Linear)]
    assert convs == [32, 64, 128] and fcs == [256, 128, 10]
    cnn_bn = models.build(TrainConfig.from_dict({"model": "cnn", "batch_norm": True, "dropout2d": 0.1}),
                          (3, 32, 32), 10)
    assert sum(isinstance(m, torch.nn.Dropout2d) for m in cnn_bn) == 3
    s2_cnn = models.build(TrainConfig.from_dict({"model": "cnn", "batch_norm": True, "dropout2d": 0.1, "dropout": 0.4,
                                                 "hidden": ""}), (3, 32, 32), 10)
    assert [type(m).__name__ for m in s2_cnn][-3:] == ["Flatten", "Dropout", "Linear"]
    assert s2_cnn[-1].in_features == 128 * 4 * 4


def test_cpu_dropout_drops_the_asked_share_and_rescales():
    torch.manual_seed(0)
    drop = models.Dropout(0.2).train()
    out = drop(torch.ones(200_000))
    assert abs(float((out == 0).float().mean()) - 0.2) < 0.005
    assert abs(float(out.mean()) - 1.0) < 0.01
    assert torch.equal(drop.eval()(torch.ones(5)), torch.ones(5))


@pytest.mark.parametrize("p", [0.998, 0.999])
def test_cpu_dropout_close_to_one_still_drops_the_asked_share(p):
    """p above 255.5/256 rounds to dropping everything at 1/256 steps (it divided by zero in every trial)."""
    torch.manual_seed(0)
    out = models.Dropout(p).train()(torch.ones(1_000_000))
    assert torch.isfinite(out).all() and abs(float((out == 0).float().mean()) - p) < 1 / 256  # its rounding step


def test_unknown_model_and_bad_knobs_are_user_errors():
    with pytest.raises(UserError, match="resnet12"):
        models.build(TrainConfig(model="resnet50"), (3, 32, 32), 10)
    with pytest.raises(UserError, match="divisible"):
        models.build(TrainConfig.from_dict({"model": "vit", "width": 30, "heads": 4}), (3, 32, 32), 10)


def test_the_model_list_says_which_input_its_counts_are_for(capsys):
    assert models.main(["--shape", "1x28x28", "--set", "hidden=512,512"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert "1x28x28" in printed[0] and "hidden=512,512" in printed[0] and "10 classes" in printed[0]
    assert any(line.split()[:2] == ["mlp", "669,706"] for line in printed)  # the README's MNIST MLP

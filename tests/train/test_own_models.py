"""Models and data from anywhere, in the training core (no Ray): "package.module:function" factories with their own
keyword arguments, torchvision's classifiers fitted to small or grayscale images, data functions and Datasets."""

import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from tuner.errors import UserError
from tuner.train import datasets, factories, models
from tuner.train.checks import check_buildable
from tuner.train.config import TrainConfig
from tuner.train.datasources import to_dataset
from tuner.train.loop import fit


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A package of the user's own, importable here: mymodels.nets:net(image_shape, num_classes, width=4)."""
    folder = tmp_path / "pkgs" / "mymodels"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "nets.py").write_text(textwrap.dedent("""
        import numpy as np
        from torch import nn


        def net(image_shape, num_classes, width=4):
            c, h, w = image_shape
            return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, width), nn.ReLU(), nn.Linear(width, num_classes))


        def data():
            rng = np.random.default_rng(0)
            x = rng.integers(0, 256, (60, 8, 8, 3), dtype=np.uint8)          # N x H x W x C
            return x[:40], np.arange(40) % 3, x[40:], np.arange(20) % 3, ["a", "b", "c"]
    """))
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    return "mymodels.nets"


def test_a_package_function_is_a_model_factory_with_its_own_keywords_and_trains(package):
    cfg = TrainConfig.from_dict({"model": f"{package}:net", "model.width": "6", "epochs": 1, "batch_size": 100,
                                 "data": "synthetic:1x8x8"})
    assert cfg.model_args == {"width": 6}  # command-line text read as the literal it spells
    model = models.build(cfg, (1, 8, 8), 10)
    assert model[1].out_features == 6
    result = fit(cfg, datasets.load("synthetic:1x8x8"))
    assert result.status == "completed" and len(result.history) == 1
    assert TrainConfig.from_dict(result.state["config"]).model_args == {"width": 6}  # a checkpoint rebuilds it


def test_torchvision_resnet18_fits_small_rgb_and_one_channel_images():
    for shape in ((3, 32, 32), (1, 28, 28)):
        model = factories.build("torchvision:resnet18", {}, shape, 10)
        assert model(torch.zeros(2, *shape)).shape == (2, 10)
        assert model.conv1.in_channels == shape[0] and model.conv1.stride == (1, 1)
        assert isinstance(model.maxpool, nn.Identity)
        changes = factories.adaptations("torchvision:resnet18", {}, shape, 10)
        assert len(changes) == 1 and "conv1: 7x7 stride 2 -> 3x3 stride 1" in changes[0]
        assert ("3 -> 1 input channels" in changes[0]) == (shape[0] == 1)
    big = factories.adaptations("torchvision:mobilenet_v3_small", {}, (1, 96, 96), 5)
    assert big == ["features.0.0: 3 -> 1 input channels"]  # other stems: only the channels change


def test_torchvision_weights_come_from_a_local_file_only(tmp_path):
    original = factories.build("torchvision:resnet18", {}, (3, 224, 224), 1000)
    torch.save(original.state_dict(), tmp_path / "r18.pt")
    model = factories.build("torchvision:resnet18", {"weights": str(tmp_path / "r18.pt")}, (3, 64, 64), 7)
    assert torch.equal(model.layer1[0].conv1.weight, original.layer1[0].conv1.weight)
    assert model.fc.out_features == 7
    with pytest.raises(UserError, match="local file"):
        factories.build("torchvision:resnet18", {"weights": "DEFAULT"}, (3, 64, 64), 7)


def test_a_timm_model_takes_the_data_channels_and_classes():
    pytest.importorskip("timm", reason="timm is an optional extra: pip install -e '.[timm]'")
    model = factories.build("timm:resnet18", {}, (1, 28, 28), 10)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10) and model.conv1.in_channels == 1
    with pytest.raises(UserError, match="timm has no model 'resnet19'"):
        factories.check_name("timm:resnet19")


@pytest.mark.parametrize("config, message", [
    ({"model": "torchvision:resnet1"}, "did you mean 'resnet18'"),
    ({"model": "nosuch.module:net"}, "cannot import 'nosuch.module'"),
    ({"model": "mlp", "model.depth": 2}, "built-in model 'mlp' takes TrainConfig fields"),
    ({"model": "torchvision:resnet18", "model.bogus": 1}, "unexpected keyword argument 'bogus'"),
])
def test_models_that_cannot_be_built_are_named(config, message):
    with pytest.raises(UserError, match=message):
        check_buildable(TrainConfig.from_dict(config), (3, 32, 32), 10)


def test_a_data_function_returns_arrays_in_any_layout(package):
    data = datasets.load(f"{package}:data")
    assert data.x_train.shape == (40, 3, 8, 8) and data.x_train.dtype == np.uint8
    assert data.classes == ["a", "b", "c"] and data.num_classes == 3
    floats = to_dataset("f", (torch.rand(10, 1, 4, 4), torch.arange(10) % 2, torch.rand(4, 4, 4), [0, 1, 0, 1]))
    assert floats.x_test.shape == (4, 1, 4, 4) and floats.classes == ["0", "1"]


def test_a_dataset_of_pil_images_is_decoded_once_with_its_classes():
    from PIL import Image

    class Shapes(torch.utils.data.Dataset):
        classes = ["dark", "light"]

        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

        def __getitem__(self, i):
            return Image.new("RGB", (6, 5), (200 * (i % 2),) * 3), i % 2

    data = to_dataset("shapes", (Shapes(8), Shapes(4)))
    assert data.x_train.shape == (8, 3, 5, 6) and data.classes == ["dark", "light"]
    assert data.x_train[1].min() == 200 and data.y_train.tolist() == [0, 1] * 4


def test_a_torchvision_data_set_is_read_from_the_data_folder(shared_data):
    data = datasets.load("torchvision:MNIST", shared_data)
    assert data.x_train.shape == (60000, 1, 28, 28) and data.num_classes == 10 and len(data.y_test) == 10000
    with pytest.raises(UserError, match="not found under data root"):
        datasets.load("torchvision:CIFAR100", shared_data)


def _images(n, shape=(1, 4, 4)):
    return np.zeros((n, *shape), np.uint8)


@pytest.mark.parametrize("value, message", [
    ((_images(4), [0, 1, 2, 1], _images(2), [0, 1], ["a", "b"]), "train label 2 is out of range for 2 classes"),
    ((_images(4), [1, 1, 1, 1], _images(2), [1, 1]), "one class only"),
    ((_images(4), [0, 1, 0, 1], _images(2, (1, 5, 5)), [0, 1]), "train images are 1x4x4 but test images 1x5x5"),
    ((_images(4), [0, 1, 0], _images(2), [0, 1]), "4 train images but 3 labels"),
    ((np.full((4, 1, 4, 4), 2.5), [0, 1, 0, 1], _images(2), [0, 1]), "floats outside [0, 1]"),
    (((_images(2), [0, 1]), torch.utils.data.StackDataset(torch.utils.data.ConcatDataset(
        [[torch.zeros(1, 4, 4)], [torch.zeros(1, 5, 5)]]), [0, 1])),
     "test image 1 is 1x5x5 but earlier images are 1x4x4"),
    ("not data", "returned a str"),
])
def test_bad_data_is_named(value, message):
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        to_dataset("mine", value)

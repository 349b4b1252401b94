"""Issue 19: image folders tuner used to load wrongly or silently (one class, mixed grayscale and colour, an empty
class folder, images added after the first load, a decompression bomb), and where their cache goes."""

import numpy as np
import pytest
from PIL import Image

from tuner.errors import UserError
from tuner.train import datasets


def _image(path, mode="RGB", value=200, size=8):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (size, size), value if mode == "L" else (value, 0, 0)).save(path)


def _tree(root, classes=("cat", "dog"), per_class=5, mode="RGB"):
    for cls in classes:
        for i in range(per_class):
            _image(root / cls / f"{i}.png", mode)
    return root


def test_one_class_is_refused(tmp_path):
    root = _tree(tmp_path / "one", classes=("cat",))
    with pytest.raises(UserError, match=r"one class \('cat'\).*at least 2 classes"):
        datasets.load(f"imagefolder:{root}", tmp_path)


def test_an_empty_class_folder_is_refused_by_name(tmp_path):
    root = _tree(tmp_path / "tree")
    (root / "bird").mkdir()
    with pytest.raises(UserError, match=r"class folder .*bird holds no images"):
        datasets.load(f"imagefolder:{root}", tmp_path)


@pytest.mark.parametrize("layout", ["flat", "splits"])
def test_an_empty_class_folder_in_a_tar_archive_is_refused_by_name(tmp_path, layout):
    import tarfile

    root = _tree(tmp_path / "tree" / ("train" if layout == "splits" else ""))
    if layout == "splits":
        _tree(tmp_path / "tree" / "test")
    (root / "bird").mkdir()
    with tarfile.open(tmp_path / "tree.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "tree", arcname=".")
    with pytest.raises(UserError, match=r"class folder .*bird holds no images"):
        datasets.load(f"imagefolder:{tmp_path / 'tree.tar.gz'}", tmp_path)


def test_mixed_grayscale_and_colour_images_all_load_as_colour(tmp_path):
    root = _tree(tmp_path / "mixed", classes=("gray",), mode="L")  # grayscale first: it used to set the mode
    _tree(root, classes=("red",))
    loaded = datasets.load(f"imagefolder:{root}", tmp_path)
    assert loaded.image_shape == (3, 8, 8)
    x = np.concatenate([loaded.x_train, loaded.x_test])
    y = np.concatenate([loaded.y_train, loaded.y_test])
    red, gray = x[y == loaded.classes.index("red")], x[y == loaded.classes.index("gray")]
    assert (red[:, 0] == 200).all() and (red[:, 1:] == 0).all()  # colour kept, not averaged to one channel
    assert (gray == 200).all()  # a grayscale image is its value on every channel


def test_images_added_to_a_class_folder_are_seen_on_the_next_load(tmp_path):
    root = _tree(tmp_path / "tree")
    first = datasets.load(f"imagefolder:{root}", tmp_path)
    for i in range(5, 10):
        _image(root / "cat" / f"{i}.png")  # the top folder's mtime does not change
    again = datasets.load(f"imagefolder:{root}", tmp_path)
    assert len(again.y_train) + len(again.y_test) == len(first.y_train) + len(first.y_test) + 5


def test_the_cache_goes_to_tuners_cache_folder_never_beside_the_images(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TUNER_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    data_root = tmp_path / "data"
    root = _tree(data_root / "pets")
    before = sorted(p for p in data_root.rglob("*"))
    datasets.load(f"imagefolder:{root}", data_root)
    assert sorted(p for p in data_root.rglob("*")) == before  # nothing written into $TUNER_DATA or the images
    cached = list((tmp_path / "home" / ".cache" / "tuner").rglob("*.npz"))
    assert len(cached) == 1
    message = capsys.readouterr().err
    assert str(root) in message and str(cached[0]) in message


def test_an_image_over_pils_decompression_bomb_limit_is_one_error(tmp_path, monkeypatch):
    root = _tree(tmp_path / "tree")
    _image(root / "dog" / "huge.png", size=64)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL refuses above twice this: 64x64 = 4096 pixels
    with pytest.raises(UserError, match=r"dog/huge.png .*decompression"):
        datasets.load(f"imagefolder:{root}", tmp_path)

import tarfile
import time

import numpy as np
import pytest
from PIL import Image

from tuner.train import data, datasets
from tuner.errors import UserError


def test_mnist_loads_offline_and_caches(shared_data):
    first = datasets.load("mnist", shared_data, verbose=False)
    assert first.x_train.shape == (60000, 1, 28, 28) and first.x_train.dtype == np.uint8
    assert first.x_test.shape == (10000, 1, 28, 28) and first.y_train.dtype == np.int64
    started = time.perf_counter()
    again = datasets.load("mnist", shared_data)
    assert time.perf_counter() - started < 2
    assert np.array_equal(first.x_train, again.x_train) and np.array_equal(first.y_test, again.y_test)
    mean, std = data.channel_stats(first.x_train)
    assert mean[0] == pytest.approx(0.1307, abs=1e-3) and std[0] == pytest.approx(0.3081, abs=1e-3)


def test_stratified_split_is_seeded_and_keeps_class_shares():
    labels = np.repeat(np.arange(5), [100, 200, 300, 400, 500])
    train, val = data.stratified_split(labels, 0.1, seed=3)
    again_train, again_val = data.stratified_split(labels, 0.1, seed=3)
    _, other_val = data.stratified_split(labels, 0.1, seed=4)
    assert np.array_equal(val, again_val) and np.array_equal(train, again_train)
    assert not np.array_equal(val, other_val)
    assert np.array_equal(np.bincount(labels[val]), [10, 20, 30, 40, 50])
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == len(labels)


def _write_tree(root, split_dirs=True, size=8):
    rng = np.random.default_rng(0)
    for split in (["train", "test"] if split_dirs else [""]):
        for cls in ("cat", "dog"):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(6):
                Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(folder / f"{i}.png")


def test_imagefolder_from_directory_and_tarball(tmp_path):
    _write_tree(tmp_path / "tree")
    folder = datasets.load(f"imagefolder:{tmp_path / 'tree'}", tmp_path)
    assert folder.classes == ["cat", "dog"] and folder.x_train.shape == (12, 3, 8, 8) and len(folder.y_test) == 12
    with tarfile.open(tmp_path / "tree.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "tree", arcname=".")
    packed = datasets.load(f"imagefolder:{tmp_path / 'tree.tar.gz'}@4", tmp_path)
    assert packed.x_train.shape == (12, 3, 4, 4) and packed.classes == ["cat", "dog"]


def test_imagefolder_without_test_split_holds_out_a_stratified_fifth(tmp_path):
    _write_tree(tmp_path / "flat", split_dirs=False)
    flat = datasets.load(f"imagefolder:{tmp_path / 'flat'}", tmp_path)
    assert len(flat.y_test) == 2 and sorted(flat.y_test.tolist()) == [0, 1]


def test_missing_data_names_the_root(tmp_path, monkeypatch):
    def offline(tv_class, root):
        raise OSError("no network")

    monkeypatch.setattr(datasets, "download", offline)
    for spec in ("mnist", "fashion_mnist", "cifar10"):
        with pytest.raises(UserError, match=str(tmp_path)) as err:
            datasets.load(spec, tmp_path)
        assert "TUNER_DATA" in str(err.value)


def test_bad_specs_are_user_errors(tmp_path):
    for spec in ("nosuch", "imagefolder:", f"imagefolder:{tmp_path / 'absent'}", "synthetic:3by32"):
        with pytest.raises(UserError):
            datasets.load(spec, tmp_path)


def test_summary_shows_counts_mean_std_and_shape():
    text = data.summary(datasets.load("synthetic:3x16x16"), 0.2, 0)
    assert "3x16x16" in text and "train 1600 / val 400 / test 500" in text and "mean" in text and "std" in text
    assert "class9" in text

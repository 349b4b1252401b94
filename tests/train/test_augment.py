import pytest
import torch

from tuner.train.augment import AUGMENTS, Augment, get
from tuner.errors import UserError


@pytest.mark.parametrize("name", sorted(AUGMENTS))
def test_presets_keep_shape_dtype_and_range(name):
    x = torch.rand(16, 3, 32, 32)
    out = AUGMENTS[name](x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= 0 and out.max() <= 1 and torch.isfinite(out).all()


def test_each_sample_gets_its_own_draw():
    """Identical inputs must come out different: one draw per sample, not one per batch."""
    image = torch.rand(1, 3, 32, 32)
    batch = image.expand(64, -1, -1, -1).contiguous()
    for name in ("flip_crop", "flip_crop_rotate", "affine", "jitter", "strong"):
        out = AUGMENTS[name](batch, torch.Generator().manual_seed(1))
        distinct = {tuple(o.flatten()[::97].tolist()) for o in out}
        assert len(distinct) > 8, name


def test_flip_is_a_mirror_and_happens_about_half_the_time():
    x = torch.rand(400, 1, 8, 8)
    out = Augment(flip=True)(x, torch.Generator().manual_seed(0))
    flipped = torch.tensor([torch.equal(o, i.flip(-1)) for o, i in zip(out, x)])
    kept = torch.tensor([torch.equal(o, i) for o, i in zip(out, x)])
    assert (flipped | kept).all()
    assert 150 < int(flipped.sum()) < 250


def test_crop_is_an_exact_integer_shift_with_black_padding():
    x = torch.rand(32, 3, 16, 16)
    out = Augment(crop_padding=3)(x, torch.Generator().manual_seed(2))
    for o, i in zip(out, x):
        matches = []
        for dy in range(-3, 4):
            for dx in range(-3, 4):
                ref = torch.zeros_like(i)
                ref[:, max(-dy, 0):16 + min(-dy, 0), max(-dx, 0):16 + min(-dx, 0)] = \
                    i[:, max(dy, 0):16 + min(dy, 0), max(dx, 0):16 + min(dx, 0)]
                matches.append(torch.equal(ref, o))
        assert any(matches)


def test_same_generator_seed_same_result_and_cutout_zeroes_a_square():
    x = torch.rand(8, 3, 32, 32)
    a = AUGMENTS["strong"](x, torch.Generator().manual_seed(5))
    b = AUGMENTS["strong"](x, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    holes = Augment(cutout=8)(torch.ones(8, 1, 32, 32), torch.Generator().manual_seed(0))
    zeros = (holes == 0).flatten(1).sum(1)
    assert (zeros > 0).all() and (zeros <= 64).all()


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(UserError, match="flip_crop"):
        get("flipcrop")

"""Loss terms: the misclassification-focused LSGAN and the pseudo-real patches."""

from __future__ import annotations

import pytest
import torch

from napari_maxrf_sr.core.losses import (
    best_guide_channels,
    discriminator_loss,
    generator_adversarial_loss,
    masked_lsq,
    matched_pseudo_real_patches,
    misclassified,
    pseudo_real_patches,
    scan_crop_patches,
)


def test_misclassified_masks():
    s = torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0])
    assert misclassified(s, 1.0).tolist() == [True, True, True, False, False]
    assert misclassified(s, -1.0).tolist() == [False, False, True, True, True]


def test_generator_loss_uses_only_patches_below_one():
    s = torch.tensor([0.0, 0.5, 1.5, 3.0])
    # (0 - 1)^2 and (0.5 - 1)^2 averaged; 1.5 and 3.0 are already "real".
    assert float(generator_adversarial_loss(s)) == pytest.approx((1.0 + 0.25) / 2)


def test_discriminator_terms():
    real = torch.tensor([2.0, 0.0])  # only 0.0 is misclassified: (0 - 1)^2
    fake = torch.tensor([-3.0, 1.0, 0.0])  # 1.0 and 0.0: (2^2 + 1^2) / 2
    d_fake, d_real = discriminator_loss(real, fake)
    assert float(d_fake) == pytest.approx(2.5)
    assert float(d_real) == pytest.approx(1.0)


def test_empty_set_contributes_zero_and_keeps_gradients():
    s = torch.tensor([2.0, 3.0], requires_grad=True)
    loss = masked_lsq(s, 1.0)
    assert float(loss) == 0.0
    loss.backward()
    assert torch.equal(s.grad, torch.zeros(2))


def test_best_guide_channel_is_most_correlated():
    gen = torch.Generator().manual_seed(0)
    rgb = torch.rand(3, 16, 16, generator=gen)
    y = torch.stack([rgb[2] * 3 + 1, rgb[0], 1 - rgb[1]])
    ch, sign = best_guide_channels(y, rgb)
    assert ch[:2].tolist() == [2, 0]
    ch_abs, sign_abs = best_guide_channels(y, rgb, use_abs=True)
    assert ch_abs[2] == 1 and sign_abs[2] == -1


def test_pseudo_real_patch_mixes_xrf_and_photo():
    y_up = torch.full((2, 3, 4, 4), 0.2)
    rgb = torch.full((2, 3, 4, 4), 0.8)
    channels = torch.tensor([0, 2])
    guide = torch.tensor([1, 1, 2])
    sign = torch.ones(3)
    out = pseudo_real_patches(y_up, rgb, channels, guide, sign, 0.25, (0.1, 0.9))
    assert out.shape == (2, 1, 4, 4)
    assert torch.allclose(out, torch.full_like(out, 0.25 * 0.2 + 0.75 * 0.8))


def test_matched_pseudo_real_patches_have_the_scan_block_means_and_photo_detail():
    """The photo channel is fitted to the element map and the mix agrees with the scan."""
    gen = torch.Generator().manual_seed(0)
    n, b, s, p = 6, 3, 4, 4
    photo = 0.1 + 0.8 * torch.rand(n, 3, s * p, s * p, generator=gen)
    # Map 1 follows photo channel 2 (scaled down, as maps are), map 0 its negative.
    truth = torch.zeros(n, b, s * p, s * p)
    truth[:, 1] = 0.1 + 0.3 * photo[:, 2]
    truth[:, 0] = 0.5 - 0.3 * photo[:, 2]
    scan = torch.nn.functional.avg_pool2d(truth, s)
    y_up = torch.nn.functional.interpolate(scan, scale_factor=s, mode="bilinear")
    channels = torch.tensor([1, 0, 1, 0, 1, 0])
    guide = torch.tensor([2, 2, 2])
    real = matched_pseudo_real_patches(y_up, photo, scan, channels, guide, 0.0, s)
    assert real.shape == (n, 1, s * p, s * p)
    rows = torch.arange(n)
    # Agrees with the scan exactly, like the generated (projected) patches.
    torch.testing.assert_close(torch.nn.functional.avg_pool2d(real, s)[:, 0],
                               scan[rows, channels], rtol=0, atol=1e-6)
    # With beta = 0 the fitted photo reproduces a map that is a linear function of it,
    # inverted where the map darkens with the photo.
    torch.testing.assert_close(real[:, 0], truth[rows, channels], rtol=0, atol=1e-3)
    # The paper's patch instead keeps the photo's own (brighter, wider) range.
    paper = pseudo_real_patches(y_up, photo, channels, guide, torch.ones(3), 0.0, (0.1, 0.9))
    assert float((paper[:, 0] - truth[rows, channels]).abs().mean()) > 0.05


def test_scan_crop_patches_are_windows_of_the_chosen_map():
    """'scan' pseudo-real patches: the scan itself, one scan pixel per patch pixel."""
    y_lr = torch.arange(3 * 10 * 12, dtype=torch.float32).reshape(3, 10, 12)
    channels = torch.tensor([0, 2, 1, 2])
    out = scan_crop_patches(y_lr, channels, 4, torch.Generator().manual_seed(1))
    assert out.shape == (4, 1, 4, 4)
    for k, c in enumerate(channels.tolist()):
        patch = out[k, 0]
        i, j = divmod(int(patch[0, 0]) - c * 120, 12)  # the corner's place in map c
        torch.testing.assert_close(patch, y_lr[c, i : i + 4, j : j + 4])
    whole = scan_crop_patches(y_lr, channels, 10, torch.Generator().manual_seed(1))
    j = int(whole[1, 0, 0, 0]) - 2 * 120  # the full height: only the column can vary
    torch.testing.assert_close(whole[1, 0], y_lr[2, :, j : j + 10])

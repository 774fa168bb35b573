"""Loss terms of METHOD.md: the misclassification-focused LSGAN and pseudo-real patches."""

from __future__ import annotations

import torch
import torch.nn.functional as F

REAL = 1.0
FAKE = -1.0


def misclassified(scores: torch.Tensor, tau: float) -> torch.Tensor:
    """Mask of patches on the wrong side of the reference label ``tau``.

    For ``tau = +1`` (real) a patch is misclassified when ``d(x) < tau``; for
    ``tau = -1`` (fake) when ``d(x) > tau``.
    """
    return scores < tau if tau > 0 else scores > tau


def masked_lsq(scores: torch.Tensor, tau: float) -> torch.Tensor:
    """Mean of ``(d(x) - tau)^2`` over the misclassified patches; 0 when there are none."""
    mask = misclassified(scores, tau)
    if not bool(mask.any()):
        return scores.sum() * 0.0  # keeps the graph (and the device) without a NaN
    return ((scores[mask] - tau) ** 2).mean()


def generator_adversarial_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """``L_adv``: mean over reconstructed patches with ``d(x) < 1`` of ``(d(x) - 1)^2``."""
    return masked_lsq(fake_scores, REAL)


def discriminator_loss(
    real_scores: torch.Tensor, fake_scores: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The discriminator's two terms ``(fake term, real term)``.

    Fake: mean over reconstructed patches with ``d(x) > -1`` of ``(d(x) + 1)^2``.
    Real: mean over pseudo-real patches with ``d(x) < 1`` of ``(d(x) - 1)^2``.
    The discriminator minimises their sum.
    """
    return masked_lsq(fake_scores, FAKE), masked_lsq(real_scores, REAL)


def best_guide_channels(
    y_up: torch.Tensor, rgb: torch.Tensor, use_abs: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each XRF channel, the photo channel most correlated with it over the image.

    Parameters
    ----------
    y_up
        ``(B, H, W)`` upsampled XRF maps.
    rgb
        ``(3, H, W)`` photo.
    use_abs
        Choose by ``|correlation|`` and report the sign, so that an element
        anti-correlated with every channel gets an inverted guide (ours).

    Returns
    -------
    channel, sign
        ``(B,)`` index into the photo channels, ``(B,)`` +1 or -1 (always +1
        unless ``use_abs``).
    """
    z = rgb.reshape(3, -1).double()
    z = z - z.mean(1, keepdim=True)
    z_norm = z.norm(dim=1)
    corr = torch.empty(y_up.shape[0], 3, dtype=torch.float64, device=z.device)
    for b in range(y_up.shape[0]):  # map by map: a float64 copy of one map, not of all
        y = y_up[b].reshape(1, -1).double()
        y = y - y.mean()
        corr[b] = (y @ z.t())[0] / (y.norm() * z_norm).clamp_min(1e-12)
    if use_abs:
        idx = corr.abs().argmax(dim=1)
        sign = torch.sign(corr.gather(1, idx[:, None]).squeeze(1))
        sign[sign == 0] = 1.0
        return idx, sign.float()
    return corr.argmax(dim=1), torch.ones(y_up.shape[0])


def pseudo_real_patches(
    y_up_patches: torch.Tensor,
    rgb_patches: torch.Tensor,
    channels: torch.Tensor,
    guide: torch.Tensor,
    guide_sign: torch.Tensor,
    beta: float,
    rgb_range: tuple[float, float],
) -> torch.Tensor:
    """Pseudo-real HR patches ``beta * Y_lr_up[c] + (1 - beta) * Z[best(c)]``.

    Parameters
    ----------
    y_up_patches
        ``(N, B, P, P)`` patches of the upsampled XRF maps.
    rgb_patches
        ``(N, 3, P, P)`` patches of the photo at the same locations.
    channels
        ``(N,)`` the XRF channel ``c`` chosen for each patch.
    guide, guide_sign
        Outputs of :func:`best_guide_channels`.
    beta
        Mixing weight, drawn from ``U(0, beta_max)`` once per iteration.
    rgb_range
        ``(low, high)`` of the normalised photo, to invert a guide within its range.

    Returns
    -------
    ``(N, 1, P, P)`` patches.
    """
    n = y_up_patches.shape[0]
    rows = torch.arange(n)
    y_c = y_up_patches[rows, channels]
    z_c = rgb_patches[rows, guide[channels]]
    sign = guide_sign[channels].view(-1, 1, 1).to(z_c.dtype)
    low, high = rgb_range
    z_c = torch.where(sign < 0, (low + high) - z_c, z_c)
    return (beta * y_c + (1.0 - beta) * z_c).unsqueeze(1)


def matched_pseudo_real_patches(
    y_up_patches: torch.Tensor,
    rgb_patches: torch.Tensor,
    scan: torch.Tensor,
    channels: torch.Tensor,
    guide: torch.Tensor,
    beta: float,
    scale: int,
    project: bool = True,
) -> torch.Tensor:
    """Pseudo-real patches with the level and contrast of the element map (ours).

    The paper's pseudo-real patch ``beta * Y_lr_up[c] + (1 - beta) * Z[best(c)]`` mixes
    two images of different brightness (the photo's normalised range is wider than the
    maps'), so a discriminator could tell it from a generated patch by brightness alone,
    which the projection forbids the generator to change. Here the photo channel is
    first fitted to the scan on the patch (``a Z + c`` whose block means best match the
    scan; ``a < 0`` for an element that darkens the photo), mixed, and the mixture is
    projected onto the scan like the generated patch: real and generated patches then
    differ only in their fine detail.

    Parameters
    ----------
    y_up_patches
        ``(N, B, P, P)`` interpolated XRF patches (the network's input).
    rgb_patches
        ``(N, 3, P, P)`` normalised photo patches.
    scan
        ``(N, B, P / s, P / s)`` the scan under each patch.
    channels
        ``(N,)`` the XRF channel of each patch.
    guide
        ``(B,)`` the photo channel used for each XRF channel.
    beta
        Weight of the interpolated scan in the mixture.
    scale
        ``s``.
    project
        Project the mixture onto the scan (block operator); else only fit.

    Returns
    -------
    ``(N, 1, P, P)`` patches.
    """
    rows = torch.arange(y_up_patches.shape[0], device=y_up_patches.device)
    z = rgb_patches[rows, guide[channels]]  # (N, P, P)
    y = scan[rows, channels]  # (N, p, p)
    zb = F.avg_pool2d(z.unsqueeze(1), scale).squeeze(1)
    zm, ym = zb.mean((-2, -1), keepdim=True), y.mean((-2, -1), keepdim=True)
    cov = ((zb - zm) * (y - ym)).mean((-2, -1), keepdim=True)
    var = ((zb - zm) ** 2).mean((-2, -1), keepdim=True)
    a = cov / (var + 1e-6)
    fitted = a * (z - zm) + ym
    mix = beta * y_up_patches[rows, channels] + (1.0 - beta) * fitted
    if project:
        means = F.avg_pool2d(mix.unsqueeze(1), scale).squeeze(1)
        mix = mix + (y - means).repeat_interleave(scale, -2).repeat_interleave(scale, -1)
    return mix.unsqueeze(1)


def scan_crop_patches(
    y_lr: torch.Tensor, channels: torch.Tensor, size: int, generator: torch.Generator
) -> torch.Tensor:
    """Real patches cut from the scan itself, one scan pixel per patch pixel (ours).

    Element maps have much the same patch statistics one scale apart (the premise of
    internal learning, e.g. ZSSR and KernelGAN): a ``size x size`` window of the scan
    shows what ``size x size`` photo pixels of the element map should look like. Unlike
    the paper's mixture of interpolated scan and photo, such a patch carries the
    element map's own fine detail and none of the photo's.

    Parameters
    ----------
    y_lr
        ``(B, h, w)`` the normalised scan.
    channels
        ``(N,)`` the element map of each patch.
    size
        Patch side in scan pixels (at most ``min(h, w)``).
    generator
        Where the random corners come from.

    Returns
    -------
    ``(N, 1, size, size)`` patches.
    """
    _, h, w = y_lr.shape
    n = channels.shape[0]
    dev = generator.device
    i = torch.randint(h - size + 1, (n,), generator=generator, device=dev).to(y_lr.device)
    j = torch.randint(w - size + 1, (n,), generator=generator, device=dev).to(y_lr.device)
    ar = torch.arange(size, device=y_lr.device)
    rows = (i[:, None] + ar[None, :])[:, :, None]
    cols = (j[:, None] + ar[None, :])[:, None, :]
    return y_lr[channels.to(y_lr.device)[:, None, None], rows, cols].unsqueeze(1)

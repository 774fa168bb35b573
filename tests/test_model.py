"""The unfolded generator, its initialisations and the discriminator."""

from __future__ import annotations

import pytest
import torch

from napari_maxrf_sr.core.ista_init import ista_initialisation, nmf
from napari_maxrf_sr.core.model import ListaGenerator, PatchDiscriminator, count_parameters


def _pixels(n=512, c=10, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return 0.1 + 0.8 * torch.rand(n, c, generator=gen)


@pytest.mark.parametrize("n_maps", [1, 7, 21])
def test_generator_shapes_and_parameter_count(n_maps):
    c, m, k = n_maps + 3, 16, 5
    g = ListaGenerator(c, m, k)
    # K (W, S, lambda) + D + lambda(K): K (M^2 + M C + M) + C M + C
    assert count_parameters(g) == k * (m * m + m * c + m) + c * m + c
    x = torch.rand(4, c, 6, 7)
    assert g.forward_image(x).shape == (4, c, 6, 7)
    assert g(torch.rand(9, c)).shape == (9, c)


def test_generator_follows_the_lista_recursion():
    """A(k+1) = sigmoid(A(k) - W(k) A(k) + S(k) X0 - lambda(k)); X = sigmoid(D A - lambda)."""
    torch.manual_seed(0)
    c, m, k = 5, 6, 3
    g = ListaGenerator(c, m, k)
    for p in g.parameters():
        torch.nn.init.normal_(p, std=0.5)
    x = torch.rand(4, c)
    a = torch.zeros(4, m)
    for layer in range(k):
        a = torch.sigmoid(a - a @ g.W[layer].T + x @ g.S[layer].T - g.lam[layer])
    expected = torch.sigmoid(a @ (g.D_raw**2).T - g.lam_out)
    assert torch.allclose(g(x), expected, atol=1e-6)
    g.final_sigmoid = False
    assert torch.allclose(g(x), a @ (g.D_raw**2).T - g.lam_out, atol=1e-6)


def test_dictionary_is_nonnegative():
    g = ListaGenerator(6, 8, 2)
    torch.nn.init.normal_(g.D_raw)
    assert float(g.dictionary.detach().min()) >= 0


def test_negligible_dictionary_weights_are_exactly_zero_but_can_grow_back():
    """D_raw ** 2 decays towards the denormal range, where CPU products crawl."""
    g = ListaGenerator(4, 3, 1)
    with torch.no_grad():
        # 1e-12 ** 2 = 1e-24 (negligible), 1e-20 ** 2 = 1e-40 (a denormal float32)
        g.D_raw.copy_(torch.tensor([[0.5, 1e-12, 1e-20]] * 4))
    d = g.dictionary
    assert torch.equal(d[:, 1:], torch.zeros(4, 2))
    assert torch.allclose(d[:, 0], torch.full((4,), 0.25))
    # The gradient is that of D_raw ** 2: the weight can grow back if training needs it.
    d.sum().backward()
    assert torch.allclose(g.D_raw.grad, 2 * g.D_raw.detach())
    assert float(g.D_raw.grad[0, 1]) > 0


@pytest.mark.parametrize("init", ["random", "ista"])
def test_initialisations_keep_sigmoids_responsive(init):
    x = _pixels()
    g = ListaGenerator(10, 16, 5)
    gen = torch.Generator().manual_seed(0)
    if init == "random":
        g.init_random(x, gen)
    else:
        ista_initialisation(g, x, gen, iters=50)
    codes = g.codes(x)
    saturated = ((codes < 0.01) | (codes > 0.99)).float().mean()
    assert float(saturated) < 0.5
    g.final_sigmoid = False
    out = g(x)
    assert torch.isfinite(out).all()
    # The initial linear output sits near the data (no jump at the start).
    assert float((out.mean(0) - x.mean(0)).abs().max()) < 0.2


def test_weight_clamp_bounds_stage1_weights():
    g = ListaGenerator(4, 5, 2)
    for p in g.parameters():
        torch.nn.init.normal_(p, std=3.0)
    g.clamp_weights(1.0)
    for p in (g.W, g.S, g.D_raw):
        assert float(p.abs().max()) <= 1.0


def test_sigmoid_handover_does_not_jump():
    """The calibrated sigmoid fades in: unchanged maps at the hand-over, then continuous."""
    x = _pixels(2048)
    g = ListaGenerator(10, 16, 3)
    g.init_random(x, torch.Generator().manual_seed(0))
    g.final_sigmoid = False
    with torch.no_grad():
        before = g(x)
        change = g.calibrate_sigmoid_output(x)
        assert not g.final_sigmoid  # the blend starts at 0: the linear output, as before
        torch.testing.assert_close(g(x), before, rtol=0, atol=1e-5)
        steps = []
        for t in torch.linspace(0, 1, 11):
            g.out_blend.fill_(float(t))
            steps.append(g(x))
    assert g.final_sigmoid
    full = float((steps[-1] - before).abs().max())
    assert full == pytest.approx(change["max_change"], rel=1e-4)
    # Each tenth of the fade moves the maps by at most a tenth of the full change.
    worst = max(float((b - a).abs().max()) for a, b in zip(steps[:-1], steps[1:], strict=True))
    assert worst <= full / 10 + 1e-6


def test_coupled_dictionary_keeps_modality_only_atoms_out_of_the_other_modality():
    n_maps, m = 4, 16
    g = ListaGenerator(n_maps + 3, m, 2, atoms_xrf_only=3, atoms_rgb_only=5)
    torch.nn.init.uniform_(g.D_raw, 0.5, 1.0)
    d = g.dictionary.detach()
    common = m - 8
    assert (d[:, :common] > 0).all()  # common atoms: both modalities
    assert (d[n_maps:, common : common + 3] == 0).all()  # XRF-only: no photo rows
    assert (d[:n_maps, common : common + 3] > 0).all()
    assert (d[:n_maps, common + 3 :] == 0).all()  # photo-only: no XRF rows
    assert (d[n_maps:, common + 3 :] > 0).all()
    # The masked entries get no gradient: they stay zero whatever training does.
    g.final_sigmoid = False
    g(torch.rand(32, n_maps + 3))[:, :n_maps].sum().backward()
    assert (g.D_raw.grad[:, common + 3 :] == 0).all()
    with pytest.raises(ValueError, match="common atom"):
        ListaGenerator(7, 8, 2, atoms_xrf_only=4, atoms_rgb_only=4)


def test_residual_output_adds_a_correction_to_the_interpolated_scan():
    x = _pixels(256, c=7)
    g = ListaGenerator(7, 16, 3, residual=True)
    g.init_random(x, torch.Generator().manual_seed(0))
    assert not g.final_sigmoid  # a residual output has no final sigmoid
    with torch.no_grad():
        out = g(x)
        correction = g.preactivation(x)
    torch.testing.assert_close(out[:, :4], x[:, :4] + correction[:, :4])
    torch.testing.assert_close(out[:, 4:], correction[:, 4:])
    # It starts as a small correction around zero: the interpolation, nearly unchanged.
    assert float(correction[:, :4].mean(0).abs().max()) < 1e-3
    assert float(correction[:, :4].std()) < 0.05


def test_nmf_reconstructs_low_rank_data():
    gen = torch.Generator().manual_seed(0)
    d = torch.rand(6, 3, generator=gen)
    a = torch.rand(400, 3, generator=gen)
    dictionary, codes = nmf(a @ d.T, 3, gen, iters=300)
    assert float(dictionary.min()) >= 0 and float(codes.min()) >= 0
    rel = (codes @ dictionary.T - a @ d.T).norm() / (a @ d.T).norm()
    assert float(rel) < 0.05


def test_discriminator_scores_one_per_patch():
    d = PatchDiscriminator()
    assert d(torch.rand(5, 1, 32, 32)).shape == (5,)
    assert d(torch.rand(2, 1, 16, 16)).shape == (2,)


def test_ista_initialisation_is_the_same_every_time():
    """The same seed must give the same maps: the least-squares fit once varied run to run."""
    from napari_maxrf_sr.core.ista_init import ista_initialisation

    x = torch.rand(4096, 6, generator=torch.Generator().manual_seed(0))
    states = []
    for _ in range(8):
        model = ListaGenerator(6, 16, 3)
        ista_initialisation(model, x, torch.Generator().manual_seed(1))
        states.append({k: v.clone() for k, v in model.state_dict().items()})
    for state in states[1:]:
        for name, value in state.items():
            assert torch.equal(value, states[0][name]), name

"""A tiny version of the benchmark: cases, metrics, table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from benchmarks import cases, metrics
from benchmarks.run import PeakRSS, main, table

needs_data = pytest.mark.skipif(not (cases.DATA / "paintings").is_dir(),
                                reason="shared benchmark data not available")


def test_metrics_on_known_answers():
    rng = np.random.default_rng(0)
    truth = rng.random((2, 32, 32)) * 10
    rmse, psnr = metrics.rmse_psnr(truth, truth)
    assert rmse == 0 and psnr > 200
    noisy = truth + 0.1 * truth.max()
    assert metrics.rmse_psnr(noisy, truth)[1] < 25
    assert metrics.mean_ssim(truth, truth) == pytest.approx(1.0)
    flat = np.ones((1, 32, 32))
    mask = np.zeros((1, 32, 32), bool)
    mask[:, 10:20, 10:20] = True
    tex = flat + 0.2 * rng.random((1, 32, 32))
    assert metrics.false_detail(flat, tex, mask, 4) == pytest.approx(0.0, abs=1e-12)
    assert metrics.false_detail(tex, flat + 0.1 * rng.random((1, 32, 32)), mask, 4) > 1
    hidden = np.zeros((32, 32), bool)
    hidden[5:25, 5:25] = True
    assert metrics.hidden_detail(tex, tex, hidden, 4) == pytest.approx(1.0)
    assert metrics.detail_energy(tex, tex, 4) == pytest.approx(1.0)
    assert metrics.detail_energy(flat, tex, 4) == pytest.approx(0.0, abs=1e-12)
    # Twice the truth's texture (about its mean level) has four times its detail energy.
    doubled = 2 * tex - tex.mean()
    assert metrics.detail_energy(doubled, tex, 4) == pytest.approx(4.0, rel=0.05)


def test_false_detail_flat_at_scale_leaves_out_true_edges_nearby():
    # A true step at column 32; the photo's "edge" mask covers columns 8-30 and 34-55
    # (all rows): flat over 3 x 3 pixels, but near the step within the high-pass's reach.
    truth = np.ones((1, 64, 64))
    truth[:, :, 32:] = 2.0
    mask = np.zeros((1, 64, 64), bool)
    mask[:, :, 8:31] = True
    mask[:, :, 34:56] = True
    # The truth scores false detail on the plain measure, none on the flat-at-scale one.
    assert metrics.false_detail(truth, truth, mask, 4) > 0.05
    assert metrics.false_detail_flat(truth, truth, mask, 4) == pytest.approx(0.0, abs=1e-6)
    flat = metrics.flat_at_scale(truth, mask, 4)
    assert not flat[:, :, 26:31].any() and not flat[:, :, 34:38].any()
    assert flat[:, :, 8:20].all() and flat[:, :, 42:56].all()
    # Detail that the truth lacks still counts there.
    added = truth.copy()
    added[:, ::2, 12] += 0.5
    assert metrics.false_detail_flat(added, truth, mask, 4) > 0.05


def test_block_measures_on_known_answers():
    from napari_maxrf_sr.core.operators import AcquisitionOperator, project_np

    yy, xx = np.mgrid[0:64, 0:64] / 64.0
    truth = np.stack([10 + 5 * np.sin(6 * xx) * np.cos(4 * yy), 3 + 2 * xx])
    lr = truth.reshape(2, 16, 4, 16, 4).mean(axis=(2, 4))
    assert metrics.block_artefact_index(truth, truth, 4) == pytest.approx(1.0)
    nearest = lr.repeat(4, axis=1).repeat(4, axis=2)  # blocks plainly visible
    assert metrics.block_artefact_index(nearest, truth, 4) > 5
    smooth = truth + 0.3  # smooth but off the scan by a constant
    assert metrics.block_artefact_index(smooth, truth, 4) == pytest.approx(1.0)
    assert metrics.block_mean_error(smooth, lr, 4) > 0.01
    projected = project_np(smooth.astype(np.float32), lr.astype(np.float32),
                           AcquisitionOperator(4))
    assert metrics.block_mean_error(projected, lr, 4) < 1e-6


def test_table_and_memory_probe():
    # A fresh process: in this one, freed memory may be reused without growing the RSS.
    code = ("import numpy as np; from benchmarks.run import PeakRSS\n"
            "with PeakRSS() as m:\n    a = np.ones(10_000_000)\nprint(m.extra)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert 60 < float(out.stdout.strip()) < 200, out.stderr
    assert PeakRSS
    rows = [{"case": "c", "method": m, "rmse": 0.1, "psnr": 20.0, "ssim": 0.5,
             "false_detail": 0.1, "false_detail_flat": 0.01, "hidden_detail": 0.2,
             "blocks": 1.5, "scan_error": 0.01,
             "detail_energy": 0.5, "seconds": 1.0, "peak_mib": 3.0}
            for m in ("network", "bicubic")]
    text = table(rows)
    assert "**mean**" in text and text.count("\n") == 5


@needs_data
def test_painting_case_and_quick_run(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MAXRF_SR_BENCH_CACHE", str(tmp_path))
    case = cases.painting_case("munch_the_scream", 7, size=64)
    assert case.lr_maps.shape == (7, 16, 16) and case.rgb.shape == (64, 64, 3)
    assert main(["--quick", "--sets", "tuning", "--methods", "bicubic,guided",
                 "--truth-row"]) == 0
    out = capsys.readouterr().out
    assert out.count("| bicubic |") == 2 and "**guided**" in out
    assert "Tuning set" in out and "Check set" not in out
    # The truth's own row: perfect PSNR, SSIM and hidden detail, no flat-scale false detail.
    truth = [line.split("|") for line in out.splitlines() if "| truth |" in line]
    assert len(truth) == 2
    for cells in truth:
        assert float(cells[4]) > 200 and float(cells[5]) == 1.0
        assert float(cells[7]) < 0.001 < float(cells[6])  # flat at scale vs plain


@needs_data
def test_rijksmuseum_case():
    case = cases.rijksmuseum_case(size=64)
    assert case.hr_maps.shape == (3, 64, 64) and case.edge_mask.any()
    # Without the strokes: the same scan and mask, a photo that differs only there.
    clean = cases.rijksmuseum_case(size=64, ink=False)
    assert np.array_equal(clean.lr_maps, case.lr_maps)
    assert np.array_equal(clean.edge_mask, case.edge_mask)
    changed = (clean.rgb != case.rgb).any(-1)
    assert changed.any() and not changed[~case.edge_mask[0]].all()


@pytest.mark.slow
@needs_data
def test_ink_effect_zero_without_the_photo_and_positive_with_it(capsys):
    from benchmarks.ink_effect import answers, ink_effect, main

    case = cases.rijksmuseum_case(size=128)
    clean = cases.rijksmuseum_case(size=128, ink=False)
    # Bicubic + projection never reads the photo: the strokes change nothing.
    assert ink_effect(*answers("bicubic_projected", case, clean)["bicubic_projected"],
                      case) == 0.0
    # The guided filter follows the photo's edges, strokes included.
    assert ink_effect(*answers("guided", case, clean)["guided"], case) > 1e-3
    # The network: one trained network answers both photos (a short run), with each
    # radius of the local calibration (0: off).
    rows = answers("network", case, clean, {"stage1_steps": 30, "stage2_steps": 0})
    assert list(rows) == ["network", "network, calibration_radius=1",
                          "network, calibration_radius=2"]  # the default: 0
    (inked, plain), (raw_inked, _), _ = rows.values()
    assert inked.shape == plain.shape == case.hr_maps.shape and not np.array_equal(inked, plain)
    assert not np.array_equal(inked, raw_inked)
    assert main(["--size", "64", "--methods", "bicubic_projected"]) == 0
    assert "| bicubic_projected |" in capsys.readouterr().out


@needs_data
def test_ink_effect_figure(tmp_path):
    from benchmarks.ink_effect import main

    png = tmp_path / "ink.png"
    assert main(["--size", "64", "--methods", "guided,bicubic_projected",
                 "--figure", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


@pytest.mark.slow
def test_sample_pb_before_after_figure(tmp_path):
    from benchmarks import sample_pb

    inp, run, fig = tmp_path / "in.npz", tmp_path / "run.npz", tmp_path / "pb.png"
    sample_pb.make_input(inp)
    sample_pb.run(inp, "fast", run)
    d, r = np.load(inp), np.load(run)
    k = [str(e) for e in d["elements"]].index("Pb L")
    means = r["pb"].reshape(64, 4, 64, 4).mean(axis=(1, 3))
    np.testing.assert_allclose(means, d["lr"][k], rtol=1e-4, atol=1e-3)  # agrees with the scan
    assert metrics.rmse_psnr(d["hr"][k][None], d["hr"][k][None])[1] > 200
    sample_pb.figure(inp, [run], ["now, fast"], fig)
    assert fig.stat().st_size > 10_000


def test_adversarial_stats_picks_spaced_stage2_rows():
    from benchmarks.adversarial_stats import stage2_rows

    history = [{"stage": "stage 1", "step": k} for k in range(5)]
    history += [{"stage": "stage 2", "step": 5 + k, "adv_share": 0.1} for k in range(20)]
    rows = stage2_rows(history, n_rows=5)
    assert [r["step"] for r in rows][0] == 5 and rows[-1]["step"] == 24 and len(rows) == 5
    assert stage2_rows(history[:5]) == []


def _tiny_case(size: int, seed: int) -> cases.Case:
    """A small simulated case (procedural photo, 4x, 3 maps): no shared data needed."""
    from napari_maxrf_sr.simulate import make_synthetic_painting

    p = make_synthetic_painting(size=(size, size), scale=4, n_elements=3, seed=seed)
    return cases.Case("tiny", p.lr_maps, p.rgb, p.hr_maps, 4, p.elements, None,
                      p.photo_edge_mask)


@pytest.mark.slow
def test_unprojected_network_answer_projects_to_the_answer():
    """The benchmark's "before projection" maps are the network's own, photo clip included."""
    import torch
    from benchmarks.run import unprojected

    from napari_maxrf_sr.api import super_resolve
    from napari_maxrf_sr.core.operators import project_nonnegative_block

    case = _tiny_case(32, seed=1)
    res = super_resolve(case.lr_maps, case.rgb, 4, config={"stage1_steps": 20},
                        elements=case.elements)
    raw = unprojected("network", res, case)
    again = project_nonnegative_block(torch.from_numpy(raw).double(),
                                      torch.from_numpy(case.lr_maps).double(), 4).numpy()
    np.testing.assert_allclose(again, res.maps, rtol=1e-4, atol=1e-3 * float(res.maps.max()))


@pytest.mark.slow
def test_inference_variant_row_is_the_same_network_answering_otherwise():
    from benchmarks.run import apply_network, inference_variant_row, with_inference

    from napari_maxrf_sr.api import super_resolve

    case = _tiny_case(32, seed=1)
    res = super_resolve(case.lr_maps, case.rgb, 4,
                        config={"stage1_steps": 20, "calibration_radius": 1},
                        elements=case.elements)
    row = inference_variant_row(case, res, {"calibration_radius": 0}, 1.0)
    assert row["method"] == "network (calibration_radius=0)" and row["seconds"] == 1.0
    plain = apply_network(with_inference(res, calibration_radius=0), case, True)
    assert not np.allclose(plain, res.maps)  # the run calibrated, the variant does not
    from benchmarks.metrics import rmse_psnr
    assert row["psnr"] == pytest.approx(rmse_psnr(plain, case.hr_maps)[1])
    assert res.diagnostics["model"].config.calibration_radius == 1  # left as it was


def test_per_pixel_ceiling_agrees_with_the_scan_and_beats_interpolation():
    from benchmarks.ceiling import per_pixel_ceiling

    from napari_maxrf_sr.api import super_resolve

    case = _tiny_case(48, seed=2)
    maps = per_pixel_ceiling(case, steps=400, batch=512)
    assert maps.shape == case.hr_maps.shape and maps.min() >= 0
    np.testing.assert_allclose(maps.reshape(3, 12, 4, 12, 4).mean(axis=(2, 4)), case.lr_maps,
                               rtol=1e-4, atol=1e-3 * float(case.lr_maps.max()))
    bicubic = super_resolve(case.lr_maps, case.rgb, 4, "bicubic_projected").maps
    # Fitted to the truth, it must beat plain interpolation clearly.
    assert (metrics.rmse_psnr(maps, case.hr_maps)[1]
            > metrics.rmse_psnr(bicubic, case.hr_maps)[1] + 1.0)
    wide = per_pixel_ceiling(case, steps=5, batch=64, context=1)
    assert wide.shape == maps.shape


def test_ablation_scales_steps_but_keeps_a_step_count_set_by_hand():
    from benchmarks.ablation import variant_config

    from napari_maxrf_sr.core.config import SRConfig

    base = SRConfig()
    cfg = variant_config({"stage2_steps": 200}, 0.25, None)
    assert cfg["stage2_steps"] == 200
    assert cfg["stage1_steps"] == round(base.stage1_steps * 0.25)
    assert variant_config({}, 0.5, None)["stage2_steps"] == round(base.stage2_steps * 0.5)


def test_every_ablation_variant_changes_the_default():
    """A variant that is today's default measures nothing (defaults move by the rule)."""
    from benchmarks.ablation import VARIANTS

    from napari_maxrf_sr.core.config import SRConfig

    default = SRConfig().to_dict()
    for name, change in VARIANTS.items():
        if name != "default":
            assert SRConfig.from_dict({**default, **change}).to_dict() != default, name


def test_ablation_variant_names_may_hold_commas():
    from benchmarks.ablation import parse_variants

    names = parse_variants("default,adversarial stage, share 0.3,consistent interpolation")
    assert names == ["default", "adversarial stage, share 0.3", "consistent interpolation"]
    with pytest.raises(SystemExit, match="unknown variant 'no such'"):
        parse_variants("default,no such")


def test_noise_ratios_compare_each_estimate_with_the_poisson_truth():
    from benchmarks.noise_estimate import noise_ratios

    from napari_maxrf_sr.core.operators import block_mean_np

    case = _tiny_case(64, seed=2)
    plain, ours = noise_ratios(case)
    assert 1 <= len(plain) == len(ours) <= 3
    assert (ours <= plain + 1e-12).all() and (ours > 0).all()  # never above Immerkaer's
    case.lr_maps = block_mean_np(case.hr_maps, 4)  # the noise taken out: every ratio falls
    assert (noise_ratios(case)[1] < 0.9 * ours).all()


def test_denormal_weight_counts_and_step_times():
    import torch
    from benchmarks.denormals import step_ms, weight_counts

    from napari_maxrf_sr.core.model import ListaGenerator

    g = ListaGenerator(5, 4, 2)  # no modality-only atoms: all 20 entries count
    with torch.no_grad():
        g.D_raw.fill_(0.5)
        g.D_raw[0, :2] = 1e-20  # ** 2 = 1e-40: denormal
        g.D_raw[1, 0] = 1e-12  # ** 2 = 1e-24: negligible, still normal
    assert weight_counts(g) == {"denormal": 2, "negligible": 3, "total": 20}
    x = torch.rand(64, 5)
    assert step_ms(g, x, raw=True, reps=2) > 0
    assert step_ms(g, x, raw=False, reps=2) > 0


def test_small_files_builds_the_issue_files_and_measures_a_child(tmp_path):
    from benchmarks.small_files import _datastack, _hand_store, measure

    from napari_maxrf_sr.errors import InputError
    from napari_maxrf_sr.io import read_element_maps

    with pytest.raises(InputError, match=r"is cut into 1,000,000 chunks"):
        read_element_maps(_datastack(tmp_path, (1, 1000, 1000), (1, 1, 1)))
    with pytest.raises(InputError, match=r"declares chunks of 1 x 16384 x 16384 values"):
        read_element_maps(_hand_store(tmp_path, (1, 16, 16), (1, 16384, 16384), b"x"))
    r = measure([sys.executable, "-c", "import sys; print('said'); sys.stderr.write("
                 "'@@ 0.5 3\\n'); sys.exit(3)"], 60)
    assert r["code"] == 3 and r["work_s"] == 0.5 and 0 < r["peak_mib"] < 200

"""The check set's simulator, the seam ratio, the rule for defaults, the cache and the docs.

Fast and seeded; the simulator runs on small synthetic photos (no shared data needed)
except where marked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmarks import cache, checkset, compare, defaults_since, metrics, run, simulator_b
from benchmarks.cases import DATA, Case

needs_data = pytest.mark.skipif(not (DATA / "paintings").is_dir(),
                                reason="shared benchmark data not available")


def _photo(h: int = 64, w: int = 64, seed: int = 0) -> np.ndarray:
    """A small photo: smooth colour regions with edges (uint8)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    img = np.stack([gaussian_filter(rng.standard_normal((h, w)), 6) for _ in range(3)], -1)
    img = (img - img.min()) / (img.max() - img.min())
    img[h // 3 : h // 2, w // 4 : 3 * w // 4] = (0.8, 0.15, 0.1)  # a red bar: sharp edges
    return (img * 255).astype(np.uint8)


def _simulate(**kw) -> simulator_b.PaintingB:
    spec = dict(size=(64, 64), scale=4, n_maps=5, psf_sigma=2.0, counts=(100, 2000),
                seed=3, palette_size=6)
    spec.update(kw)
    return simulator_b.simulate(_photo(*spec["size"]), **spec)


# ----------------------------------------------------------------------- simulator B
@pytest.fixture(scope="module")
def painting():
    return _simulate()


def test_scan_is_the_declared_operator_of_the_truth_plus_poisson_noise(painting):
    import torch

    from napari_maxrf_sr.core.operators import AcquisitionOperator

    p = painting
    assert p.info["operator"] == "gaussian" and p.psf_sigma == 2.0
    # The scan without noise is U(truth) with the declared operator ...
    np.testing.assert_allclose(p.expected_lr,
                               simulator_b.scan_operator(p.hr_maps, p.scale, p.psf_sigma),
                               rtol=1e-5)
    # ... which is the package's own Gaussian-then-block-mean operator.
    op = AcquisitionOperator(p.scale, "gaussian", p.psf_sigma)
    theirs = op.down(torch.from_numpy(p.hr_maps.astype(np.float64))).numpy()
    np.testing.assert_allclose(p.expected_lr, theirs, rtol=1e-5)
    # A block-mean operator would be a different scan (the beam matters here).
    assert not np.allclose(p.expected_lr, simulator_b.scan_operator(p.hr_maps, p.scale, 0.0),
                           rtol=1e-2)
    # The scan: whole counts, Poisson around the expectation (mean 0, variance 1 once
    # standardised).
    assert np.array_equal(p.lr_maps, np.round(p.lr_maps)) and p.lr_maps.min() >= 0
    z = (p.lr_maps - p.expected_lr) / np.sqrt(np.maximum(p.expected_lr, 1e-9))
    z = z[p.expected_lr > 5]
    assert z.size > 500
    assert abs(z.mean()) < 0.1 and 0.85 < z.var() < 1.15


def test_block_operator_case_is_the_plain_block_mean():
    p = _simulate(psf_sigma=0.0)
    assert p.info["operator"] == "block"
    b, hh, ww = p.hr_maps.shape
    np.testing.assert_allclose(
        p.expected_lr, p.hr_maps.astype(np.float64).reshape(b, hh // 4, 4, ww // 4, 4)
        .mean(axis=(2, 4)), rtol=1e-6)


def test_noise_level_is_as_declared(painting):
    p = painting
    peaks = p.expected_lr.reshape(len(p.elements), -1).max(axis=1)
    np.testing.assert_allclose(peaks, p.peak_counts, rtol=1e-9)
    assert min(p.peak_counts) == pytest.approx(100) and max(p.peak_counts) == pytest.approx(2000)
    # The map with the most signal gets the most counts.
    signal = p.hr_maps.reshape(len(p.elements), -1).mean(axis=1)
    assert np.argmax(signal) == np.argmax(p.peak_counts)
    # Relative noise as Poisson at these counts: 1/sqrt(peak) at the brightest pixel.
    hi = int(np.argmax(p.peak_counts))
    assert p.info["peak_counts"][hi] == pytest.approx(2000, rel=1e-3)


def test_hidden_layer_is_absent_from_the_photo_and_present_in_the_maps(painting):
    plain = _simulate(hidden=False)
    assert painting.hidden_mask is not None and painting.hidden_mask.any()
    assert plain.hidden_mask is None
    assert np.array_equal(painting.rgb, plain.rgb)  # the photo does not show it
    common = [e for e in painting.elements if e in plain.elements]
    i = [painting.elements.index(e) for e in common]
    j = [plain.elements.index(e) for e in common]
    a = painting.hr_maps[i] / painting.hr_maps[i].max(axis=(1, 2), keepdims=True)
    b = plain.hr_maps[j] / plain.hr_maps[j].max(axis=(1, 2), keepdims=True)
    changed = np.abs(a - b).max(axis=0) > 1e-3
    assert changed[painting.hidden_mask].mean() > 0.5  # the scan sees it


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_scales(scale):
    p = _simulate(scale=scale, psf_sigma=0.5 * scale)
    assert p.scale == scale and p.lr_maps.shape == (5, 64 // scale, 64 // scale)
    assert p.hr_maps.shape == (5, 64, 64) and p.rgb.shape == (64, 64, 3)


def test_non_square_and_deterministic():
    a = _simulate(size=(48, 64))
    assert a.rgb.shape == (48, 64, 3) and a.hr_maps.shape[1:] == (48, 64)
    assert a.lr_maps.shape[1:] == (12, 16) and a.edge_mask.shape == a.hr_maps.shape
    b = _simulate(size=(48, 64))
    for x, y in ((a.hr_maps, b.hr_maps), (a.lr_maps, b.lr_maps), (a.rgb, b.rgb)):
        assert np.array_equal(x, y)
    c = _simulate(size=(48, 64), seed=4)
    assert not np.array_equal(a.lr_maps, c.lr_maps)


def test_mixtures_within_a_pixel_and_blurred_colours():
    photo = _photo()
    lin = simulator_b.srgb_to_linear(photo / 255.0)
    palette = simulator_b.choose_palette(lin.reshape(-1, 3), np.random.default_rng(0), 6)
    f = simulator_b.unmix(lin, palette)
    assert f.shape == (6, 64, 64)
    np.testing.assert_allclose(f.sum(0), 1.0, atol=0.05)
    assert ((f > 0.05).sum(0) >= 2).mean() > 0.5  # most pixels mix several pigments
    sharp, soft = _simulate(mix_from="pixel"), _simulate(mix_from="blurred")
    assert soft.info["mix_from"] == "blurred" and not np.array_equal(sharp.hr_maps,
                                                                      soft.hr_maps)
    with pytest.raises(ValueError, match="mix_from"):
        _simulate(mix_from="clusters")


def test_other_light_changes_only_the_photo():
    base = _simulate()
    warm = _simulate(light=simulator_b.Light(gamma=1.35, cast=(1.1, 1.0, 0.78),
                                             vignette=0.4, exposure=0.9))
    assert np.array_equal(base.hr_maps, warm.hr_maps)
    assert np.array_equal(base.lr_maps, warm.lr_maps)
    r, b = warm.rgb[..., 0].astype(float), warm.rgb[..., 2].astype(float)
    r0, b0 = base.rgb[..., 0].astype(float), base.rgb[..., 2].astype(float)
    assert (r - b).mean() > (r0 - b0).mean() + 5  # warmer
    corner, centre = warm.rgb[:8, :8].mean(), warm.rgb[28:36, 28:36].mean()
    corner0, centre0 = base.rgb[:8, :8].mean(), base.rgb[28:36, 28:36].mean()
    assert corner / centre < corner0 / centre0  # vignetting


def test_check_set_specification_covers_issue_34():
    sims = checkset.SIMULATED.values()
    real = checkset.REAL.values()
    assert len(checkset.SIMULATED) >= 6
    assert {s["scale"] for s in sims} | {r["scale"] for r in real} >= {2, 4, 8}
    assert {s["mix_from"] for s in sims} == {"pixel", "blurred"}
    assert any(s["size"][0] != s["size"][1] for s in sims)
    assert any(s.get("light") is not None for s in sims)
    wide = [s for s in sims if s["psf_sigma"] * 2.3548 > s["scale"]]
    assert len(wide) >= 3  # beam FWHM wider than the step
    lows = [s["counts"][0] for s in sims]
    highs = [s["counts"][1] for s in sims]
    assert min(lows) == 100 and max(highs) == 5000
    for s in sims:
        assert s["size"][0] % s["scale"] == 0 and s["size"][1] % s["scale"] == 0
        assert 256 <= max(s["size"]) <= 512


@needs_data
def test_real_map_case_and_quick_check_set():
    c = checkset.real_case("drawing-real x8 non-square")
    assert c.hr_maps.shape == (3, 512, 384) and c.lr_maps.shape == (3, 64, 48)
    assert c.elements == ("Fe K", "Cu K", "Ti K") and c.edge_mask.any()
    np.testing.assert_allclose(c.info["expected_lr"].reshape(3, -1).max(1), (2000, 600, 150))
    quick = checkset.check_cases(quick=True)
    assert [q.scale for q in quick] == [4, 2]
    again = checkset.simulated_case("starry-cypress x2", size=(192, 192), n_maps=5)
    assert cache.case_fingerprint(again) == cache.case_fingerprint(quick[1])


# ------------------------------------------------------------------------ seam ratio
def _smooth_truth(seed: int = 0) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    return np.stack([5 + gaussian_filter(rng.standard_normal((96, 96)), 3) for _ in range(3)])


def test_seam_ratio_is_one_on_a_smooth_truth_and_high_on_blocks():
    t = _smooth_truth()
    for where in ("flat", "all"):
        assert metrics.seam_ratio(t, t, 4, where) == pytest.approx(1.0, abs=0.1)
    lr = t.reshape(3, 24, 4, 24, 4).mean(axis=(2, 4))
    nearest = lr.repeat(4, axis=1).repeat(4, axis=2)
    nearest = nearest + 1e-3 * np.random.default_rng(1).standard_normal(nearest.shape)
    assert metrics.seam_ratio(nearest, t, 4) > 5
    # A smooth answer shifted by one constant per block (what a projection can add).
    offsets = np.random.default_rng(2).normal(0, 0.02, lr.shape).repeat(4, 1).repeat(4, 2)
    assert metrics.seam_ratio(t + offsets, t, 4) > 1.5
    # Not relative to the truth: a smooth answer on another grid scale stays near 1.
    assert metrics.seam_ratio(t, t, 8) == pytest.approx(1.0, abs=0.1)


def test_seam_ratio_counts_only_block_borders():
    t = _smooth_truth()
    ramp = np.zeros_like(t)
    ramp[..., 4::4] += 0.05  # a step at every block border along x, inside nothing
    cum = np.cumsum(ramp, axis=-1)
    assert metrics.seam_ratio(t + cum, t, 4, "all") > 1.5  # steps along x only
    shifted = np.zeros_like(t)
    shifted[..., 2::4] += 0.05  # the same steps in the middle of every block
    assert metrics.seam_ratio(t + np.cumsum(shifted, axis=-1), t, 4, "all") < 1
    flat = metrics.seam_flat_mask(t, 4)
    assert 0.45 < flat.mean() < 0.55


# ----------------------------------------------------------------------- the rule
def test_rule_a_021_db_loss_on_one_case_fails():
    deltas = {"tuning": {"a": 0.5, "b": 0.4, "c": -0.21}, "check": {"x": 0.3, "y": 0.1}}
    v = compare.rule(deltas)
    assert not v.passes and v.losses == [("tuning", "c", -0.21)]
    assert "loses more than 0.2 dB" in v.text()
    deltas["tuning"]["c"] = -0.2  # exactly 0.2 dB is allowed
    assert compare.rule(deltas).passes


def test_rule_a_mean_loss_on_one_set_fails():
    deltas = {"tuning": {"a": 0.3, "b": 0.2}, "check": {"x": 0.1, "y": -0.15}}
    v = compare.rule(deltas)
    assert not v.passes and v.mean_deltas["check"] == pytest.approx(-0.025)
    assert "does not win on the check mean" in v.text()
    assert compare.rule({"tuning": {"a": 0.1}, "check": {"x": 0.0}}).passes is False
    assert compare.rule({"tuning": {"a": 0.1}, "check": {}}).passes is False  # not measured
    assert compare.rule({"tuning": {"a": 0.15, "b": -0.1}, "check": {"x": 0.05}}).passes


def test_targets_and_guard_agreement_on_made_up_rows():
    def row(case, method, psnr, fd=0.05, seam=1.2, guard=None):
        return {"case": case, "method": method, "psnr": psnr, "false_detail": fd,
                "seam": seam, "guard": guard, "heldout_gain_db": 1.0}

    rows = [row("a", "network", 29.0, 0.04, 1.2, True), row("b", "network", 25.0, 0.05, 1.4, True),
            row("a", "guided", 23.5, 0.05), row("b", "guided", 23.0, 0.06),
            row("a", "colour_regression", 24.0), row("b", "colour_regression", 21.0),
            row("a", "bicubic_projected", 22.0), row("b", "bicubic_projected", 25.5)]
    t = {name: (verdict, detail) for name, verdict, detail in run.targets(rows)}
    assert t["mean PSNR >= best baseline's + 3 dB"][0] == "met"
    assert "27.00 vs bicubic_projected 23.75" in t["mean PSNR >= best baseline's + 3 dB"][1]
    rows[0]["psnr"] = 28.0  # mean 26.5: 2.75 dB over the best baseline
    assert run.targets(rows)[0][1] == "missed"
    rows[0]["psnr"] = 29.0
    assert t["no case below its best baseline + 1 dB"][0] == "missed"
    assert "b -0.50" in t["no case below its best baseline + 1 dB"][1]
    assert t["false detail <= guided filter's (mean)"][0] == "met"
    assert t["seam ratio (flat half) <= 1.3 on every case"][0] == "missed"
    text = run.guard_agreement(rows)
    assert "1 of 2" in text and "passed although below: b" in text


# ------------------------------------------------------------------------ the cache
def _case(seed: int = 0) -> Case:
    p = _simulate(seed=seed)
    return Case("tiny-b", p.lr_maps, p.rgb, p.hr_maps, p.scale, p.elements, p.hidden_mask,
                p.edge_mask)


def test_cache_reuses_a_run_and_remeasures_from_stored_maps(tmp_path, monkeypatch):
    monkeypatch.setenv("MAXRF_SR_BENCH_CACHE", str(tmp_path))
    case = _case()
    first = run.run_one(case, "bicubic_projected", quiet=True)
    again = run.run_one(case, "bicubic_projected", quiet=True)
    assert not first[0]["cached"] and again[0]["cached"]
    for k in ("psnr", "seam", "false_detail", "detail_energy"):
        assert again[0][k] == first[0][k]
    assert run.run_one(case, "guided", cached_only=True) == []
    # Another metrics version: the row is recomputed from the stored maps, not run again.
    monkeypatch.setattr(cache, "metrics_version", lambda: "changed")
    monkeypatch.setattr(run, "super_resolve", lambda *a, **k: pytest.fail("ran again"))
    remeasured = run.run_one(case, "bicubic_projected", quiet=True)
    assert remeasured[0]["cached"] and remeasured[0]["psnr"] == first[0]["psnr"]


def test_cache_keys_settings_as_differences_from_the_preset():
    case = _case()
    k0 = cache.run_key(case, "network", {})
    assert cache.run_key(case, "network", {"down_colours": "pixels"}) == k0  # today's default
    assert cache.run_key(case, "network", {"seed": 0}) == k0
    assert cache.run_key(case, "network", {"down_colours": "mean"}) != k0
    assert cache.run_key(case, "guided", {"down_colours": "mean"}) == cache.run_key(case,
                                                                                    "guided")
    assert cache.run_key(_case(seed=5), "network", {}) != k0


def test_code_version_follows_the_method_not_the_panel_or_its_docstrings(tmp_path, monkeypatch):
    import shutil

    import napari_maxrf_sr

    copy = tmp_path / "napari_maxrf_sr"
    shutil.copytree(Path(napari_maxrf_sr.__file__).parent, copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(napari_maxrf_sr, "__file__", str(copy / "__init__.py"))

    def version() -> str:
        cache.code_version.cache_clear()
        return cache.code_version()

    try:
        v0 = version()
        for sub in ("_napari", "cli", "io", "simulate"):
            (copy / sub / "__init__.py").write_text("# a change to the panel\n", "utf-8")
            assert version() == v0, sub
        losses = copy / "core" / "losses.py"
        source = losses.read_text("utf-8")
        assert '"""' in source
        losses.write_text(source.replace('"""', '"""Reworded. ', 1) + "\n# a comment\n",
                          "utf-8")
        assert version() == v0, "a docstring or a comment is not the method"
        losses.write_text(source + "\nA_CHANGE_TO_THE_METHOD = 1\n", "utf-8")
        assert version() != v0
    finally:
        cache.code_version.cache_clear()


@pytest.mark.slow
def test_network_row_has_the_guards_verdict(tmp_path, monkeypatch):
    monkeypatch.setenv("MAXRF_SR_BENCH_CACHE", str(tmp_path))
    rows = run.run_one(_case(), "network", settings={"stage1_steps": 40}, quiet=True)
    assert rows[0]["guard"] in (True, False) and np.isfinite(rows[0]["heldout_gain_db"])
    assert rows[0]["guard"] == (rows[0]["heldout_gain_db"] >= run.GUARD_MIN_GAIN_DB)


# ------------------------------------------------------------------ defaults since
def test_defaults_since_26_nov_revert_to_valid_other_settings():
    from napari_maxrf_sr.core.config import PRESETS, SRConfig, config_from_preset

    default = SRConfig()
    names = [d.name for d in (*defaults_since.SINCE_26_NOV, *defaults_since.EARLIER)]
    assert len(names) == len(set(names))
    for d in (*defaults_since.SINCE_26_NOV, *defaults_since.EARLIER):
        reverted = config_from_preset("default", **d.base, **d.revert)
        assert any(getattr(reverted, k) != getattr(default, k) for k in d.revert), d.name
        for k, v in d.revert.items():
            if k in PRESETS["paper"] and d in defaults_since.SINCE_26_NOV:
                assert PRESETS["paper"][k] == v, (d.name, k)
        assert d.revert_args.startswith("--set ")
    assert "down_colours=mean" in defaults_since.by_name(
        "down problem through the photo's own pixels").revert_args
    assert defaults_since.markdown().count("\n") == len(names) + 1


# ---------------------------------------------------------------------- the docs
def test_docs_generator_round_trip(tmp_path):
    doc = ("# Title\n\nHand-written text.\n\n<!-- BEGIN generated: tuning set -->\nold\n"
           "<!-- END generated -->\n\nMore text.\n\n<!-- BEGIN generated: check set -->\n"
           "<!-- END generated -->\n")
    blocks = {"tuning set": "| a | b |\n|---|---|\n| 1 | 2 |", "check set": "_Not yet run._"}
    out = run.write_blocks(doc, blocks)
    assert run.read_blocks(out) == blocks
    assert run.write_blocks(out, blocks) == out  # idempotent
    assert out.startswith("# Title\n\nHand-written text.\n\n") and "\nMore text.\n" in out
    assert run.write_blocks(out, {"tuning set": "new"}).count("_Not yet run._") == 1
    with pytest.raises(KeyError):
        run.write_blocks(doc, {"no such block": "x"})
    path = tmp_path / "b.md"
    path.write_text(doc)
    run.write_docs(path, blocks)
    assert run.read_blocks(path.read_text()) == blocks


def test_reference_doc_has_the_generated_blocks():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md").read_text()
    blocks = run.read_blocks(text)
    assert {"tuning set", "check set", "defaults since 26 Nov"} <= set(blocks)
    assert blocks["defaults since 26 Nov"] == defaults_since.markdown()

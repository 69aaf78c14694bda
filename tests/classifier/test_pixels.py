"""Pixel-level vetting (classifier.pixels) on simulated target pixel files
(classifier.synthetic_pixels): a blended EB's difference image sits on the neighbour, a planet's
on the target; the photocentre moves away from an eclipsing neighbour by the size Bryson et al.
(2013) predict; the TPFs written as FITS are read back by lightkurve. No Django, no network."""
from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from classifier import pixel_plots, pixels
from classifier.synthetic_pixels import simulate_tpf, write_tpf_fits

PERIOD, EPOCH, DURATION_H = 3.0, 131.7, 3.0
CADENCE = 29.4 / 1440


def box_light_curve(depth: float, n_days: float = 60.0, noise_ppm: float = 50.0, seed: int = 0):
    """Time (n,) and relative flux (n,) with box transits of ``depth`` (fraction of the total)."""
    rng = np.random.default_rng(seed)
    time = 131.5 + CADENCE * np.arange(int(n_days / CADENCE))
    phase = np.abs((time - EPOCH + 0.5 * PERIOD) % PERIOD - 0.5 * PERIOD)
    flux = 1.0 - depth * (phase < DURATION_H / 48) + rng.normal(0, noise_ppm * 1e-6, time.size)
    return time, flux


def diagnose(tpf, **kw):
    return pixels.pixel_diagnostics(tpf.time, tpf.flux, period_days=PERIOD, epoch=EPOCH, duration_hours=DURATION_H,
                                    target_px=tpf.target_px, aperture=(tpf.aperture & 2) > 0,
                                    pixel_scale_arcsec=tpf.pixel_scale_arcsec, **kw)


@pytest.fixture(scope="module")
def beb():
    time, flux = box_light_curve(0.004)
    return simulate_tpf(time, flux, np.random.default_rng(1), host="neighbour", neighbour_fraction=0.1,
                        separation_px=2.0)


@pytest.fixture(scope="module")
def planet():
    time, flux = box_light_curve(0.004)
    return simulate_tpf(time, flux, np.random.default_rng(1), host="target", neighbour_fraction=0.1,
                        separation_px=2.0)


def test_blended_eb_source_is_the_neighbour(beb):
    result = diagnose(beb)
    expected = np.subtract(beb.neighbour_px, beb.target_px)  # 2 px towards the neighbour
    assert np.hypot(*expected) == pytest.approx(2.0, abs=1e-6)
    # sign and size: the located source is where the neighbour is, not a fraction of the way
    np.testing.assert_allclose(result.offset_vector_px, expected, atol=0.15)
    assert result.metrics["centroid_offset_px"] == pytest.approx(2.0, abs=0.15)
    assert result.metrics["centroid_offset_arcsec"] == pytest.approx(2.0 * 3.98, abs=0.6)
    assert result.metrics["centroid_offset_sigma"] > 5 and result.verdict == "offset"


def test_blended_eb_photocentre_moves_away_from_the_neighbour_by_the_predicted_amount(beb):
    result = diagnose(beb)
    towards_neighbour = np.subtract(beb.neighbour_px, beb.target_px) / 2.0
    shift = result.shift_vector_px
    assert shift @ towards_neighbour < 0  # the neighbour dims: light's centre moves away from it
    # Bryson et al. 2013: shift = D / (1 - D) * (c_out - x_source), D the depth in the aperture
    depth = result.metrics["pixel_depth_ppm"] * 1e-6
    aperture = (beb.aperture & 2) > 0
    image = np.where(aperture, np.nanmedian(beb.flux, axis=0), 0.0)
    rows, cols = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    c_out = np.array([(image * cols).sum(), (image * rows).sum()]) / image.sum()
    predicted = depth / (1 - depth) * (c_out - np.array(beb.neighbour_px))
    np.testing.assert_allclose(shift, predicted, atol=0.25 * np.hypot(*predicted))
    assert result.metrics["centroid_shift_sigma"] > 3


def test_planet_stays_on_target_although_a_neighbour_shares_the_aperture(planet):
    result = diagnose(planet)
    assert result.metrics["centroid_offset_px"] < 0.15
    assert result.metrics["centroid_offset_sigma"] < pixels.OFFSET_SIGMA_THRESHOLD
    assert result.verdict == "on_target"
    # the planet's photocentre moves too (towards the neighbour, tiny): why the verdict uses the
    # difference image and not the shift
    towards_neighbour = np.subtract(planet.neighbour_px, planet.target_px)
    assert result.shift_vector_px @ towards_neighbour > 0
    assert result.metrics["centroid_shift_px"] < 0.01


def test_no_signal_in_the_pixels_is_inconclusive():
    time, flux = box_light_curve(0.0)
    tpf = simulate_tpf(time, flux, np.random.default_rng(3), host="target")
    result = diagnose(tpf)
    assert result.verdict == "inconclusive" and result.metrics["centroid_offset_sigma"] is None
    assert any("too faint" in note for note in result.notes)


def test_errors_for_unusable_input():
    with pytest.raises(pixels.PixelError, match="n_cadences"):
        pixels.pixel_diagnostics(np.arange(5.0), np.zeros((4, 3, 3)), period_days=1, epoch=0, duration_hours=1)
    time = np.arange(100) * 0.02
    with pytest.raises(pixels.PixelError, match="no transit"):
        pixels.pixel_diagnostics(time, np.ones((100, 5, 5)), period_days=100.0, epoch=50.0, duration_hours=1)


def test_fit_psf_recovers_a_known_position():
    rows, cols = np.mgrid[0:7, 0:9]
    image = 50 * np.exp(-((cols - 3.3) ** 2 + (rows - 4.6) ** 2) / (2 * 0.9**2)) + 2.0
    fit = pixels.fit_psf(image)
    assert (fit.x, fit.y) == pytest.approx((3.3, 4.6), abs=1e-4) and fit.ok
    fixed = pixels.fit_psf(image, sigma_px=0.9)
    assert fixed.sigma_px == 0.9 and (fixed.x, fixed.y) == pytest.approx((3.3, 4.6), abs=1e-4)


def test_catalog_centroids_and_verdict():
    kepler = {"tce_dikco_msky": 4.2, "tce_dikco_msky_err": 0.7}
    metrics = pixels.catalog_centroid_metrics("dr25_tce", kepler)
    assert metrics == {"centroid_offset_arcsec": 4.2, "centroid_offset_err_arcsec": 0.7,
                       "centroid_offset_sigma": pytest.approx(6.0)}
    assert pixels.offset_verdict(metrics) == "offset"
    assert pixels.offset_verdict(pixels.catalog_centroid_metrics("koi", {"koi_dikco_msky": 0.2,
                                                                         "koi_dikco_msky_err": 0.3})) == "on_target"
    assert pixels.catalog_centroid_metrics("toi", kepler) == {}
    assert pixels.catalog_centroid_metrics("dr25_tce", {"tce_dikco_msky": 1.0, "tce_dikco_msky_err": 0}) == {}


def test_combining_quarters_weights_by_precision(beb, planet):
    one, two = diagnose(beb), diagnose(planet)
    combined = pixels.combine_diagnostics([one, two])
    e1, e2 = one.metrics["centroid_offset_err_arcsec"], two.metrics["centroid_offset_err_arcsec"]
    w1, w2 = 1 / e1**2, 1 / e2**2
    expected = (w1 * one.metrics["centroid_offset_arcsec"] + w2 * two.metrics["centroid_offset_arcsec"]) / (w1 + w2)
    assert combined["centroid_offset_arcsec"] == pytest.approx(expected)
    assert combined["centroid_offset_err_arcsec"] == pytest.approx(1 / math.sqrt(w1 + w2))
    assert combined["pixel_n_transits"] == one.metrics["pixel_n_transits"] + two.metrics["pixel_n_transits"]
    assert pixels.combine_diagnostics([one]) == one.metrics


def _payload(result):
    return {"mean_image": result.mean_image.tolist(), "diff_image": result.diff_image.tolist(),
            "aperture": result.aperture.astype(int).tolist(), "target_px": list(result.target_px),
            "oot_centroid_px": list(result.oot_centroid_px), "diff_centroid_px": list(result.diff_centroid_px)}


def test_pixel_figures_are_valid_plotly(beb):
    figures = pixel_plots.pixel_figures(_payload(diagnose(beb)))
    assert set(figures) == {"pixel_mean", "pixel_diff"}
    diff = figures["pixel_diff"]
    assert [t["type"] for t in diff["data"]] == ["heatmap", "scatter", "scatter", "scatter"]
    assert diff["data"][0]["zmid"] == 0.0 and diff["layout"]["yaxis"]["scaleanchor"] == "x"
    go = pytest.importorskip("plotly.graph_objects")
    for figure in figures.values():
        go.Figure(json.loads(json.dumps(figure)))  # JSON-serialisable, plotly validates every property
    assert pixel_plots.pixel_figures(None) == {}


def test_aperture_outline_of_one_pixel_is_a_unit_square():
    xs, ys = pixel_plots.aperture_outline([[0, 0], [0, 1]])
    assert len(xs) == 12 and {x for x in xs if x is not None} == {0.5, 1.5}
    assert {y for y in ys if y is not None} == {0.5, 1.5}


@pytest.mark.parametrize("mission", ["kepler", "tess"])
def test_written_tpf_is_read_by_lightkurve_with_its_wcs(tmp_path, beb, mission):
    import lightkurve as lk
    from astropy.coordinates import SkyCoord

    tpf = beb if mission == "kepler" else simulate_tpf(beb.time, np.ones(beb.time.size), np.random.default_rng(2),
                                                       mission="tess")
    path = write_tpf_fits(tpf, tmp_path / f"{mission}.fits", star_id=123, ra_deg=290.0, dec_deg=44.0,
                          quarter=3, sector=14)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read = lk.read(str(path))
        expected_class = lk.KeplerTargetPixelFile if mission == "kepler" else lk.TessTargetPixelFile
        assert isinstance(read, expected_class)
        assert read.flux.shape == tpf.flux.shape
        x, y = read.wcs.world_to_pixel(SkyCoord(290.0, 44.0, unit="deg"))
    assert (float(x), float(y)) == pytest.approx(tpf.target_px, abs=1e-6)
    assert read.pipeline_mask.sum() == ((tpf.aperture & 2) > 0).sum()

"""Uneven background: a slope across the field is measured under the nuclei and taken out before thresholding."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.draw import disk

import leadertrack.segment
from leadertrack.background import background_surface, has_glow, shows_glow
from leadertrack.config import RunConfig
from leadertrack.evaluate import leader_agreement
from leadertrack.pipeline import analyze_movie
from leadertrack.segment import estimate_nucleus_diameter_px, segment, segment_frame
from leadertrack.synthetic import Simulation, save_simulation, simulate_invasion

DIAMETER = 10


def _nuclei(rng: np.random.Generator, shape: tuple[int, int], *, sheet_columns: int = 0) -> tuple[np.ndarray, int]:
    """Nuclei of unequal brightness (blurred disks, 10 px across) scattered over a dark field, and a
    dense sheet of them over its last ``sheet_columns`` columns; the image and the number of nuclei."""
    image = np.zeros(shape, dtype=np.float32)
    centres = [(y, x) for y in range(10, shape[0] - 10, 13) for x in range(shape[1] - sheet_columns + 8, shape[1] - 8, 13)]
    n_sheet = len(centres)
    for centre in rng.uniform(10, [shape[0] - 10, shape[1] - sheet_columns - 10], (400, 2)):  # scattered, 2.5 diameters apart
        if all(np.hypot(*(centre - other)) > 2.5 * DIAMETER for other in centres[n_sheet:]) and len(centres) < n_sheet + 40:
            centres.append(tuple(centre))
    for centre in centres:
        image[disk(centre, DIAMETER / 2, shape=shape)] = rng.uniform(60, 200)
    return ndi.gaussian_filter(image, 1.0), len(centres)


def _ramp(shape: tuple[int, int], rise: float) -> np.ndarray:
    """A background rising by ``rise`` from the left edge to the right one."""
    return np.broadcast_to(np.linspace(0.0, rise, shape[1], dtype=np.float32), shape)


def test_a_slope_under_a_sheet_of_cells_is_measured_from_the_background_beside_it():
    rng = np.random.default_rng(2)
    shape = (240, 300)
    cells, _ = _nuclei(rng, shape, sheet_columns=120)  # cells cover the bright side: no background shows there
    frame = cells + 100.0 + _ramp(shape, 150.0) + rng.normal(0, 3, shape).astype(np.float32)
    surface = background_surface(ndi.gaussian_filter(frame, 1.0), nucleus_diameter_px=DIAMETER)
    assert surface is not None
    truth = _ramp(shape, 150.0)
    # extrapolated under the sheet too, within a few noise standard deviations over a rise of 150
    assert np.abs((surface - surface.mean()) - (truth - truth.mean())).max() < 6.0


def test_an_evenly_lit_or_gently_sloping_frame_is_left_as_it_is():
    rng = np.random.default_rng(3)
    cells, _ = _nuclei(rng, (200, 200), sheet_columns=60)
    noise = rng.normal(0, 3, cells.shape).astype(np.float32)
    for rise in (0.0, 10.0):  # 10: about 12 noise standard deviations after smoothing
        frame = ndi.gaussian_filter(cells + 100.0 + _ramp(cells.shape, rise) + noise, 1.0)
        assert background_surface(frame, nucleus_diameter_px=DIAMETER) is None
    assert background_surface(frame[:30, :30], nucleus_diameter_px=DIAMETER) is None  # too small to measure a slope in


@pytest.mark.parametrize("rise", [100.0, 400.0])
def test_nuclei_on_a_sloping_background_are_all_found_and_no_background_patch_passes_for_one(rise, monkeypatch):
    rng = np.random.default_rng(4)
    cells, n = _nuclei(rng, (240, 300))
    frame = cells + 100.0 + _ramp(cells.shape, rise) + rng.normal(0, 3, cells.shape).astype(np.float32)
    labels = segment_frame(frame, nucleus_diameter_px=DIAMETER)
    assert labels.max() == n
    area = np.bincount(labels.ravel())[1:]
    assert area.max() < 1.5 * np.pi * DIAMETER**2 / 4  # no patch of the bright side taken for a nucleus
    # the baseline: one background level for the whole frame
    monkeypatch.setattr(leadertrack.segment, "background_surface", lambda image, **kwargs: None)
    flat_labels = segment_frame(frame, nucleus_diameter_px=DIAMETER)
    flat_area = np.bincount(flat_labels.ravel())[1:]
    assert flat_labels.max() != n or flat_area.max() > 1.5 * np.pi * DIAMETER**2 / 4


def test_the_nucleus_diameter_is_estimated_through_a_steep_slope():
    rng = np.random.default_rng(5)
    cells, _ = _nuclei(rng, (240, 300), sheet_columns=120)
    frame = cells + 100.0 + _ramp(cells.shape, 600.0) + rng.normal(0, 3, cells.shape).astype(np.float32)
    assert abs(estimate_nucleus_diameter_px(frame) / DIAMETER - 1) < 0.15


def test_leaders_are_found_on_a_movie_with_a_sloping_background(tmp_path):
    sim = simulate_invasion(geometry="planar", difficulty="easy", seed=3, n_frames=16, field_um=(180.0, 240.0))
    truth = set(sim.cells.loc[sim.cells["is_leader"], "track_id"])
    signal = float(np.percentile(sim.image, 99)) - float(np.median(sim.image))
    sloped = sim.image + _ramp(sim.image.shape[1:], 0.5 * signal)[None]  # half the brightest nuclei's signal
    level, sloped_path = tmp_path / "level.ome.tif", tmp_path / "sloped.ome.tif"
    save_simulation(sim, level)
    save_simulation(replace(sim, image=np.clip(sloped, 0, 65535).astype(sim.image.dtype)), sloped_path)
    evenly_lit = analyze_movie(level, RunConfig())
    flattened = analyze_movie(sloped_path, RunConfig())
    assert abs(len(flattened.tracks) / len(evenly_lit.tracks) - 1) < 0.05
    assert flattened.provenance["nucleus_diameter_um"] == pytest.approx(evenly_lit.provenance["nucleus_diameter_um"], rel=0.02)
    assert leader_agreement(flattened.tracks, flattened.cells, sim.labels, truth)["f1"] == 1.0
    # the baseline, one background level per frame, finds almost no nuclei
    config = RunConfig()
    config.segment.flatten_background = False
    with pytest.warns(UserWarning):
        as_it_is = analyze_movie(sloped_path, config)
    assert len(as_it_is.tracks) < 0.2 * len(evenly_lit.tracks)


def _glow(shape: tuple[int, int], peak: float, sigma: float) -> np.ndarray:
    """A Gaussian glow centred on the field, ``peak`` bright at its centre, as a spheroid's out-of-focus body gives."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    return peak * np.exp(-((yy - shape[0] / 2) ** 2 + (xx - shape[1] / 2) ** 2) / (2 * sigma**2))


def test_a_glow_is_told_from_a_slope_and_from_a_sheet_of_cells():
    rng = np.random.default_rng(6)
    shape = (240, 300)
    cells, _ = _nuclei(rng, shape)
    sheet, _ = _nuclei(rng, shape, sheet_columns=120)
    noise = rng.normal(0, 3, shape).astype(np.float32)

    def smooth(frame: np.ndarray) -> np.ndarray:  # as the segmentation smooths
        return ndi.gaussian_filter(frame, 1.0)

    assert shows_glow(smooth(cells + 100.0 + _glow(shape, 60.0, 60.0) + noise), nucleus_diameter_px=DIAMETER)
    assert not shows_glow(smooth(cells + 100.0 + noise), nucleus_diameter_px=DIAMETER)
    assert not shows_glow(smooth(cells + 100.0 + _ramp(shape, 400.0) + noise), nucleus_diameter_px=DIAMETER)
    assert not shows_glow(smooth(sheet + 100.0 + _ramp(shape, 150.0) + noise), nucleus_diameter_px=DIAMETER)


def test_a_movie_glows_when_most_of_its_sampled_frames_do():
    rng = np.random.default_rng(7)
    shape = (240, 300)
    cells, _ = _nuclei(rng, shape)
    plain = cells + 100.0 + rng.normal(0, 3, shape).astype(np.float32)
    glowing = plain + _glow(shape, 60.0, 60.0)
    assert has_glow(np.stack([glowing, glowing, glowing, plain, plain]), nucleus_diameter_px=DIAMETER)
    assert not has_glow(np.stack([glowing, glowing, plain, plain, plain]), nucleus_diameter_px=DIAMETER)
    assert not has_glow(np.stack([plain] * 5), nucleus_diameter_px=DIAMETER)


def test_nuclei_under_a_glow_are_all_found_and_the_glow_is_not_taken_for_nuclei():
    rng = np.random.default_rng(8)
    cells, n = _nuclei(rng, (240, 300))
    frame = cells + 100.0 + _glow(cells.shape, 100.0, 60.0) + rng.normal(0, 3, cells.shape).astype(np.float32)
    typical_area = np.pi * DIAMETER**2 / 4
    labels = segment_frame(frame, nucleus_diameter_px=DIAMETER, glow=True)
    assert labels.max() == n
    assert np.bincount(labels.ravel())[1:].max() < 1.5 * typical_area
    # the baseline, a plane: patches of the glow pass for nuclei, or nuclei on it grow into it
    plane = segment_frame(frame, nucleus_diameter_px=DIAMETER)
    assert plane.max() != n or np.bincount(plane.ravel())[1:].max() > 1.5 * typical_area
    # segment() decides the glow from the movie itself
    movie = np.stack([frame] * 3)
    assert segment(movie, nucleus_diameter_um=DIAMETER, pixel_size_um=1.0)[1].max() == n


def _spheroid_glow(sim: Simulation, glow: float) -> np.ndarray:
    """``glow`` times the nuclei's signal at the simulated spheroid's centre, as wide (sigma) as its first radius."""
    signal = float(np.percentile(sim.image, 99)) - float(np.median(sim.image))
    centre = sim.fronts[["centre_y_um", "centre_x_um"]].iloc[0].to_numpy() / sim.pixel_size_um
    yy, xx = np.mgrid[: sim.image.shape[1], : sim.image.shape[2]].astype(np.float32)
    sigma = sim.fronts["front_position_um"].iloc[0] / sim.pixel_size_um
    return glow * signal * np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * sigma**2))


def test_a_spheroid_under_its_glow_is_tracked_as_without_it(tmp_path):
    sim = simulate_invasion(geometry="radial", difficulty="easy", seed=3, n_frames=16, field_um=(240.0, 240.0))
    glow = _spheroid_glow(sim, 0.5)
    plain_path, glowing_path = tmp_path / "plain.ome.tif", tmp_path / "glowing.ome.tif"
    save_simulation(sim, plain_path)
    save_simulation(replace(sim, image=np.clip(sim.image + glow[None], 0, 65535).astype(sim.image.dtype)), glowing_path)
    plain = analyze_movie(plain_path)
    glowing = analyze_movie(glowing_path)
    assert plain.provenance["background_glow"] is False
    assert glowing.provenance["background_glow"] is True
    assert abs(len(glowing.tracks) / len(plain.tracks) - 1) < 0.1  # cell-frames found
    # the baseline, a plane under the glow, loses a quarter of them
    config = RunConfig()
    config.segment.glow = False
    assert len(analyze_movie(glowing_path, config).tracks) < 0.8 * len(plain.tracks)



@pytest.mark.parametrize("glow", [1.0, 2.0])
def test_the_nucleus_diameter_is_estimated_under_a_glow_as_bright_as_the_nuclei_or_brighter(glow):
    # a small field that the glow covers: on it, no blob passed for a nucleus before (no diameter, the run stopped)
    sim = simulate_invasion(geometry="radial", difficulty="medium", seed=4, n_frames=5, field_um=(240.0, 240.0))
    true_px = sim.nucleus_diameter_um / sim.pixel_size_um
    assert abs(estimate_nucleus_diameter_px(sim.image + _spheroid_glow(sim, glow)[None]) / true_px - 1) < 0.1

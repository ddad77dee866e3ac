"""Tests for leadertrack.segment: synthetic disks of known size, position and brightness."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.draw import disk

from leadertrack.detect import detect_frame
from leadertrack.segment import estimate_nucleus_diameter_px, segment, segment_frame


def _disks(shape, centres, radius, brightness, *, seed=0, noise_sd=2.0, background=10.0):
    rng = np.random.default_rng(seed)
    image = np.full(shape, background, dtype=float)
    for centre, value in zip(centres, np.broadcast_to(brightness, (len(centres),))):
        image[disk(centre, radius, shape=shape)] += value
    return image + rng.normal(0.0, noise_sd, shape)


def test_centroids_of_drawn_disks_within_a_tenth_of_a_pixel():
    centres = [(30, 30), (30, 100), (100, 60), (140, 140)]
    image = _disks((170, 170), centres, 9, 100.0)
    table = detect_frame(segment_frame(image, nucleus_diameter_px=18))
    assert len(table) == len(centres)
    found = table[["y", "x"]].to_numpy()
    nearest = found[np.argmin(np.linalg.norm(found[None] - np.array(centres)[:, None], axis=2), axis=1)]
    np.testing.assert_allclose(nearest, np.array(centres, dtype=float), atol=0.1)


def test_two_touching_disks_are_split():
    image = _disks((80, 100), [(40, 35), (40, 61)], 13, 100.0)  # centres 26 px apart, radii 13
    labels = segment_frame(image, nucleus_diameter_px=26)
    assert labels.max() == 2
    assert labels[40, 35] != labels[40, 61]
    assert labels[40, 35] > 0 and labels[40, 61] > 0


def test_touching_disks_stay_merged_without_splitting():
    image = _disks((80, 100), [(40, 35), (40, 61)], 13, 100.0)
    assert segment_frame(image, nucleus_diameter_px=26, split_touching=False).max() == 1


def test_dim_and_bright_nucleus_both_found_with_their_own_size():
    # 20-fold brightness difference in one frame, as in real nuclear stains.
    image = _disks((100, 160), [(50, 40), (50, 120)], 12, np.array([15.0, 300.0]), noise_sd=1.0)
    table = detect_frame(segment_frame(image, nucleus_diameter_px=24)).sort_values("x")
    assert len(table) == 2
    dim_area, bright_area = table["area_px"]
    # The per-nucleus threshold gives both the same size, whatever their brightness.
    assert bright_area == pytest.approx(dim_area, rel=0.15)
    np.testing.assert_allclose(table["area_px"], np.pi * 12**2, rtol=0.3)


@pytest.mark.parametrize("radius", [6, 10, 20])
def test_diameter_estimate_within_15_percent(radius):
    spacing = 4 * radius
    centres = [(spacing * (i + 1), spacing * (j + 1)) for i in range(3) for j in range(3)]
    image = _disks((spacing * 4, spacing * 4), centres, radius, 80.0, seed=radius)
    true_diameter = 2 * radius + 1  # skimage.draw.disk includes the rim pixels
    assert estimate_nucleus_diameter_px(image) == pytest.approx(true_diameter, rel=0.15)


def test_diameter_estimate_uses_a_few_frames_of_a_stack():
    frames = np.stack([_disks((120, 120), [(40, 40), (80, 80)], 8, 100.0, seed=s) for s in range(4)])
    assert estimate_nucleus_diameter_px(frames, n_sample_frames=2) == pytest.approx(17, rel=0.15)


def test_diameter_estimate_fails_clearly_on_an_empty_image():
    with pytest.raises(ValueError, match="nucleus_diameter_um"):
        estimate_nucleus_diameter_px(np.zeros((50, 50)))


def test_size_filter_in_physical_units():
    # 10 µm nuclei at 0.5 µm/px are 20 px wide; the smallest kept object is 0.2 of a nucleus
    # area (15.7 µm²). A 1 µm-radius speck (3 µm²) is dropped, a 3 µm-radius one (28 µm²) kept.
    pixel_size_um = 0.5
    image = np.full((120, 160), 10.0)
    image[disk((30, 30), 10)] += 100  # nucleus, 5 µm radius
    image[disk((30, 90), 1.0 / pixel_size_um)] += 100  # 1 µm radius speck
    image[disk((90, 90), 3.0 / pixel_size_um)] += 100  # 3 µm radius small nucleus
    image += np.random.default_rng(1).normal(0, 1, image.shape)
    # Light smoothing (sigma 0.4 px), so the measured areas are the drawn ones.
    labels = segment(image, nucleus_diameter_um=10.0, pixel_size_um=pixel_size_um, smoothing_fraction=0.02)
    assert labels[30, 30] > 0
    assert labels[30, 90] == 0
    assert labels[90, 90] > 0
    assert labels.max() == 2


def test_cells_touching_the_border_are_kept():
    image = _disks((60, 60), [(0, 30), (40, 59)], 8, 100.0)
    assert segment_frame(image, nucleus_diameter_px=16).max() == 2


def test_empty_frame_gives_no_labels():
    labels = segment_frame(np.full((40, 40), 7.0), nucleus_diameter_px=10)
    assert labels.dtype == np.uint32
    assert labels.max() == 0


def test_segment_stack_shape_dtype_and_progress():
    movie = np.stack([_disks((64, 64), [(20 + 5 * t, 30)], 8, 100.0, seed=t) for t in range(4)])
    calls = []
    labels = segment(movie, nucleus_diameter_um=16, progress=lambda *a: calls.append(a))
    assert labels.shape == movie.shape and labels.dtype == np.uint32
    assert [labels[t].max() for t in range(4)] == [1, 1, 1, 1]
    assert calls == [("segment", t + 1, 4) for t in range(4)]


def test_segment_estimates_the_diameter_when_not_given():
    centres = [(y, x) for y in range(20, 160, 40) for x in range(20, 160, 40)]
    movie = np.stack([_disks((160, 160), centres, 8, 100.0, seed=t) for t in range(2)])
    labels = segment(movie)
    assert [labels[t].max() for t in range(2)] == [16, 16]


@dataclass
class _FakeMovie:
    """The parts of leadertrack.io.Movie that segment uses."""

    frames: np.ndarray
    pixel_size_um: float | None

    def __len__(self) -> int:
        return len(self.frames)

    def frame(self, t: int) -> np.ndarray:
        return self.frames[t]


def test_segment_reads_a_movie_frame_by_frame_with_its_pixel_size():
    frames = np.stack([_disks((100, 100), [(50, 50)], 14, 100.0, seed=t) for t in range(3)])
    movie = _FakeMovie(frames, pixel_size_um=0.5)
    # 50 µm nuclei at the movie's 0.5 µm/px are 100 px wide: the 29 px disks are too small.
    assert segment(movie, nucleus_diameter_um=50, smoothing_fraction=0.01).max() == 0
    # An explicit 1 µm/px overrides the movie: 50 px nuclei, and the disks are kept.
    labels = segment(movie, nucleus_diameter_um=50, pixel_size_um=1.0, smoothing_fraction=0.01)
    assert labels.max(axis=(1, 2)).tolist() == [1, 1, 1]


def test_segment_frame_rejects_a_stack():
    with pytest.raises(ValueError, match="2-D"):
        segment_frame(np.zeros((2, 10, 10)), nucleus_diameter_px=5)


def test_diffuse_out_of_focus_glow_is_not_a_nucleus():
    # A dim in-focus nucleus (20 px) and a broad glow (sigma 30 px) of the same peak brightness.
    yy, xx = np.mgrid[:160, :240]
    glow = 12.0 * np.exp(-((yy - 80) ** 2 + (xx - 170) ** 2) / (2 * 30.0**2))
    image = _disks((160, 240), [(80, 50)], 10, 12.0, noise_sd=1.0) + glow
    labels = segment_frame(image, nucleus_diameter_px=20)
    assert labels.max() == 1
    assert labels[80, 50] > 0 and labels[80, 170] == 0


@pytest.mark.parametrize("brightness_ratio", [4, 9])
def test_bright_nucleus_between_touching_dim_ones_does_not_swallow_them(brightness_ratio):
    # A row of three touching disks (radius 10, centres 20 px apart), the middle one brighter:
    # a watershed of the intensity lets the bright nucleus take its dim neighbours.
    rng = np.random.default_rng(0)
    image = np.full((60, 100), 10.0)
    truth = np.zeros(image.shape, dtype=int)
    for k, x in enumerate([30, 50, 70], start=1):
        rr, cc = disk((30, x), 10, shape=image.shape)
        image[rr, cc] = 30.0 * (brightness_ratio if k == 2 else 1)
        truth[rr, cc] = k
    image = ndi.gaussian_filter(image, 1.5) + rng.normal(0, 2, image.shape)
    labels = segment_frame(image, nucleus_diameter_px=21)
    centres = np.round(ndi.center_of_mass(labels > 0, labels, np.arange(1, labels.max() + 1))).astype(int)
    assert sorted(truth[tuple(centres.T)]) == [1, 2, 3]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dense_hexagonal_sheet_of_touching_nuclei_is_split_finer(seed):
    # 52 touching disks (radius 8, centres 16 px apart) of random brightness: the nucleus-scale
    # blob response is nearly flat over the sheet; the finer split of large objects separates
    # more than half of them (the nucleus-scale watershed alone: 23-27).
    rng = np.random.default_rng(seed)
    image = np.full((140, 140), 10.0)
    truth = np.zeros(image.shape, dtype=int)
    rows = np.arange(20, 121, 16 * np.sqrt(3) / 2)
    centres = [(y, x) for i, y in enumerate(rows) for x in np.arange(20 + (i % 2) * 8, 121, 16)]
    for k, centre in enumerate(centres, start=1):
        rr, cc = disk(centre, 8, shape=image.shape)
        image[rr, cc] = rng.uniform(40, 200)
        truth[rr, cc] = k
    image = ndi.gaussian_filter(image, 1.0) + rng.normal(0, 2, image.shape)
    labels = segment_frame(image, nucleus_diameter_px=17)
    centroids = np.round(ndi.center_of_mass(labels > 0, labels, np.arange(1, labels.max() + 1))).astype(int)
    hit = truth[tuple(centroids.T)]
    assert len(centres) == 52
    assert np.unique(hit[hit > 0]).size >= 28


@pytest.mark.parametrize(("seed", "angle_deg", "dim"), [(0, 0.0, 40.0), (1, 35.0, 40.0), (2, 90.0, 60.0), (3, 60.0, 60.0)])
def test_elongated_bright_nucleus_and_dim_neighbour_are_cut_at_their_neck(seed, angle_deg, dim):
    # An elongated bright nucleus (24 x 18 px) touching a dim round one (18 px) end-on: the
    # nucleus-scale blob response has a single maximum, but the mask narrows between them.
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:100, :100].astype(float)
    angle = np.deg2rad(angle_deg)
    along, across = np.cos(angle), np.sin(angle)
    axis = np.array([across, along])
    centres = [np.array([50.0, 50.0]) - 10.0 * axis, np.array([50.0, 50.0]) + 10.0 * axis]
    image = np.full(yy.shape, 10.0)
    for (cy, cx), half_length, brightness in zip(centres, [12.0, 9.0], [120.0, dim]):
        u = (yy - cy) * across + (xx - cx) * along
        v = -(yy - cy) * along + (xx - cx) * across
        image[(u / half_length) ** 2 + (v / 9.0) ** 2 <= 1] += brightness
    image = ndi.gaussian_filter(image, 1.0) + rng.normal(0, 2, image.shape)
    labels = segment_frame(image, nucleus_diameter_px=18)
    owners = [labels[tuple(np.round(c).astype(int))] for c in centres]
    assert labels.max() == 2
    assert owners[0] > 0 and owners[1] > 0 and owners[0] != owners[1]


@pytest.mark.parametrize(("seed", "aspect"), [(0, 1.3), (1, 1.6), (2, 1.8)])
def test_a_single_elongated_textured_nucleus_stays_whole(seed, aspect):
    # Convex, however elongated and textured: no neck, so no cut.
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:100, :140].astype(float)
    inside = ((yy - 50) / 9.0) ** 2 + ((xx - 70) / (9.0 * aspect)) ** 2 <= 1
    texture = ndi.gaussian_filter(rng.normal(0, 1, yy.shape), 1.5)
    image = 10.0 + inside * (80.0 + 25.0 * texture / texture.std())
    image = ndi.gaussian_filter(image, 1.0) + rng.normal(0, 2, image.shape)
    labels = segment_frame(image, nucleus_diameter_px=18)
    assert labels.max() == 1
    assert labels[50, 70] == 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_objects_split_on_the_block_grid_are_each_one_piece(seed):
    # Two pairs of nuclei (26 px) 1 px apart, which the smoothing bridges: each pair is one
    # component, split on 3 x 3 px blocks; a block straddling the gap must not leave a sliver
    # of one nucleus attached to the other.
    rng = np.random.default_rng(seed)
    image = np.full((90, 160), 10.0)
    for centre in [(30, 30), (30, 56), (58, 84), (58, 110)]:
        image[disk(centre, 13, shape=image.shape)] = rng.uniform(60, 120)
    image += rng.normal(0, 2, image.shape)
    labels = segment_frame(image, nucleus_diameter_px=26, smoothing_fraction=0.02)
    assert labels.max() == 4
    for label in range(1, 5):
        assert ndi.label(labels == label)[1] == 1


@pytest.mark.parametrize("seed", [2, 12, 25, 27])
def test_small_noisy_image_gives_no_noise_objects(seed):
    # On a 48 x 48 frame the background histogram holds only 576 sampled pixels: its mode must
    # not fall into a sparse low bin, which would put the threshold into the noise.
    # (An unsmoothed 256-bin histogram found 3-4 objects here for one of these diameters.)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:48, :48]
    discs = ((yy - 12) ** 2 + (xx - 10) ** 2 <= 16) | ((yy - 30) ** 2 + (xx - 30) ** 2 <= 16)
    image = rng.normal(10.0, 1.0, discs.shape).astype(np.float32) + 100.0 * discs
    for diameter in np.linspace(7.8, 8.2, 9):
        assert segment_frame(image, nucleus_diameter_px=diameter).max() == 2


def test_large_nuclei_are_segmented_on_a_reduced_grid_as_well_as_at_full_resolution(monkeypatch):
    # nuclei 48 px across (touching pairs among them) are segmented on the image block-averaged 2 x 2
    centres = [(60, 60), (60, 106), (160, 80), (170, 200), (60, 220)]
    image = _disks((240, 280), centres, 24, np.array([100.0, 30.0, 200.0, 100.0, 60.0]), noise_sd=3.0)
    labels = segment_frame(image, nucleus_diameter_px=48)
    # outlines follow 2 x 2 blocks: the labels are the reduced grid's, scaled back up
    np.testing.assert_array_equal(labels, np.repeat(np.repeat(labels[::2, ::2], 2, axis=0), 2, axis=1))
    monkeypatch.setattr("leadertrack.segment._REDUCED_DIAMETER_PX", np.inf)
    full = segment_frame(image, nucleus_diameter_px=48)
    assert labels.max() == full.max() == len(centres)
    for centre in centres:
        found, expected = labels == labels[centre], full == full[centre]
        assert (found & expected).sum() / (found | expected).sum() > 0.9


@pytest.mark.parametrize("level", [-30000.0, -1000.0])
def test_a_background_below_zero_is_read_as_if_it_lay_at_zero(level):
    """Background-subtracted float images and signed 16-bit files put the background below zero. The
    blob response's kernel leaks about 0.025 of the level into every response, which there used to drop
    nuclei: none found at -100000, fewer at -1000."""
    from leadertrack.synthetic import simulate_invasion

    sim = simulate_invasion(geometry="planar", difficulty="medium", seed=3, n_frames=2, field_um=(192.0, 256.0))
    frame = sim.image[0].astype(np.float64)
    frame -= np.median(frame[segment_frame(frame, nucleus_diameter_px=sim.nucleus_diameter_um) == 0])  # background ~ 0
    at_zero = segment_frame(frame, nucleus_diameter_px=sim.nucleus_diameter_um)
    below = segment_frame(frame + level, nucleus_diameter_px=sim.nucleus_diameter_um)
    assert at_zero.max() > 50
    assert below.max() == at_zero.max()
    assert np.mean((below > 0) == (at_zero > 0)) > 0.999


def test_nan_pixels_do_not_empty_the_frame():
    """One NaN pixel (padding after registration) used to leave segment_frame without a threshold: no nucleus
    found. analyze_movie already read NaN as the frame's median; the stage functions now do too."""
    from leadertrack.synthetic import simulate_invasion

    sim = simulate_invasion(geometry="planar", n_frames=2, field_um=(120.0, 160.0), seed=1)
    frame = sim.image[0].astype(np.float64)
    reference = segment_frame(frame, nucleus_diameter_px=sim.nucleus_diameter_um / sim.pixel_size_um)
    frame[0, :3] = np.nan
    frame[5, 5] = np.inf
    padded = segment_frame(frame, nucleus_diameter_px=sim.nucleus_diameter_um / sim.pixel_size_um)
    assert reference.max() > 30 and padded.max() == reference.max()


@pytest.mark.parametrize(("option", "value"), [("pixel_size_um", 0.0), ("pixel_size_um", -1.0), ("nucleus_diameter_um", np.nan)])
def test_segment_names_the_unit_that_is_wrong(option, value):
    """pixel_size_um 0 was a ZeroDivisionError, -1 blamed nucleus_diameter_px, NaN 'cannot convert float NaN'."""
    movie = np.zeros((2, 32, 32))
    options = {"nucleus_diameter_um": 8.0, "pixel_size_um": 1.0, option: value}
    with pytest.raises(ValueError, match=f"{option} must be a positive number"):
        segment(movie, **options)

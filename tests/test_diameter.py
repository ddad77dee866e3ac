"""Tests of leadertrack.diameter: the nucleus diameter estimated from images, and measured from given masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from scipy import ndimage as ndi
from skimage.draw import disk, ellipse
from skimage.morphology import disk as footprint

from leadertrack import read_movie
from leadertrack.detect import detect
from leadertrack.diameter import estimate_nucleus_diameter_px, mask_diameter_px
from leadertrack.synthetic import simulate_invasion

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def _scattered_disks(rng: np.random.Generator, *, diameter_px: float, shape=(256, 256), n=20, noise=3.0) -> np.ndarray:
    """Non-overlapping disks of varied brightness on a noisy background."""
    image = np.zeros(shape)
    occupied = np.zeros(shape, dtype=bool)
    radius = diameter_px / 2
    for _ in range(500):
        centre = rng.uniform(radius + 1, np.array(shape) - radius - 1)
        rr, cc = disk(tuple(centre), radius * 1.3, shape=shape)
        if occupied[rr, cc].any():
            continue
        occupied[rr, cc] = True
        image[disk(tuple(centre), radius, shape=shape)] = rng.uniform(50, 250)
        n -= 1
        if n == 0:
            break
    image = ndi.gaussian_filter(image, 1.0)
    return image + 100 + rng.normal(0, noise, shape)


def _dense_sheet(rng: np.random.Generator, *, diameter_px: float, shape=(256, 256)) -> np.ndarray:
    """A sheet of touching nuclei on a hexagonal grid covering the whole left half of the frame."""
    image = np.zeros(shape)
    row_step = diameter_px * np.sqrt(3) / 2
    for i, y in enumerate(np.arange(diameter_px / 2, shape[0], row_step)):
        for x in np.arange(diameter_px / 2 + (i % 2) * diameter_px / 2, shape[1] / 2, diameter_px):
            image[disk((y, x), diameter_px / 2 * 0.95, shape=shape)] = rng.uniform(80, 200)
    image = ndi.gaussian_filter(image, 1.0)
    return image + 100 + rng.normal(0, 3.0, shape)


@pytest.mark.parametrize("diameter_px", [7.0, 12.0, 20.0, 40.0])
def test_isolated_disks_measured_within_15_percent(diameter_px):
    rng = np.random.default_rng(1)
    image = _scattered_disks(rng, diameter_px=diameter_px, shape=(384, 384), n=25)
    assert estimate_nucleus_diameter_px(image) == pytest.approx(diameter_px, rel=0.15)


@pytest.mark.parametrize("diameter_px", [8.0, 14.0])
def test_dense_sheet_of_touching_nuclei_is_not_one_object(diameter_px):
    # A connected-component estimator returns the size of the whole sheet here.
    rng = np.random.default_rng(2)
    image = _dense_sheet(rng, diameter_px=diameter_px)
    assert estimate_nucleus_diameter_px(image) == pytest.approx(diameter_px, rel=0.2)


def test_chromatin_texture_does_not_shrink_large_nuclei():
    rng = np.random.default_rng(3)
    image = _scattered_disks(rng, diameter_px=50, shape=(512, 512), n=12, noise=2.0)
    nuclei = image > 140
    grains = ndi.gaussian_filter(rng.normal(0, 1, image.shape), 2.0)
    image = image + 40 * grains / grains.std() * nuclei  # bright and dark specks inside nuclei
    assert estimate_nucleus_diameter_px(image) == pytest.approx(50, rel=0.2)


def test_ellipses_give_their_equivalent_diameter():
    rng = np.random.default_rng(4)
    image = np.full((300, 300), 100.0)
    for y in range(30, 300, 60):
        for x in range(30, 300, 60):
            rr, cc = ellipse(y, x, 14, 7, rotation=rng.uniform(0, np.pi), shape=image.shape)
            image[rr, cc] += rng.uniform(60, 150)
    image = ndi.gaussian_filter(image, 1.0) + rng.normal(0, 2.0, image.shape)
    equivalent = 2 * np.sqrt(14 * 7)  # 19.8 px
    assert estimate_nucleus_diameter_px(image) == pytest.approx(equivalent, rel=0.2)


def test_offset_and_gain_do_not_change_the_estimate():
    rng = np.random.default_rng(5)
    image = _scattered_disks(rng, diameter_px=15, n=20)
    shifted = (image * 4 + 33000).astype(np.uint16)  # a camera offset, like the HeLa data
    assert estimate_nucleus_diameter_px(shifted) == pytest.approx(estimate_nucleus_diameter_px(image), rel=0.05)


def test_all_input_kinds_agree():
    rng = np.random.default_rng(6)
    stack = np.stack([_scattered_disks(rng, diameter_px=12, n=15) for _ in range(3)])

    class FakeMovie:
        def __len__(self):
            return len(stack)

        def frame(self, t):
            return stack[t]

    expected = estimate_nucleus_diameter_px(stack)
    assert estimate_nucleus_diameter_px(list(stack)) == expected
    assert estimate_nucleus_diameter_px(FakeMovie()) == expected
    assert estimate_nucleus_diameter_px(stack, n_sample_frames=1) == estimate_nucleus_diameter_px(stack[0])


def test_nan_pixels_are_ignored():
    rng = np.random.default_rng(7)
    image = _scattered_disks(rng, diameter_px=12, n=20)
    image[:, :5] = np.nan
    assert estimate_nucleus_diameter_px(image) == pytest.approx(12, rel=0.15)


@pytest.mark.parametrize(
    "frames", [np.zeros((3, 64, 64)), np.full((64, 64), 7.0), np.full((2, 32, 32), np.nan), np.arange(100.0).reshape(10, 10)]
)
def test_blank_frames_raise(frames):
    with pytest.raises(ValueError, match="no nuclei found"):
        estimate_nucleus_diameter_px(frames)


def test_pure_noise_raises():
    rng = np.random.default_rng(8)
    with pytest.raises(ValueError, match="no nuclei found"):
        estimate_nucleus_diameter_px(rng.normal(100, 5, (2, 128, 128)))


@pytest.mark.parametrize("bad", [np.zeros((2, 2, 8, 8)), [np.zeros(5)]])
def test_wrong_dimensions_raise(bad):
    with pytest.raises(ValueError, match="expected"):
        estimate_nucleus_diameter_px(bad)


@pytest.mark.parametrize(
    ("geometry", "difficulty", "diameter_um", "pixel_size_um"),
    [("planar", "hard", 7.0, 1.0), ("radial", "medium", 12.0, 0.8), ("scratch", "easy", 10.0, 0.5)],
)
def test_simulated_invasion_within_20_percent(geometry, difficulty, diameter_um, pixel_size_um):
    sim = simulate_invasion(
        geometry=geometry, difficulty=difficulty, nucleus_diameter_um=diameter_um, pixel_size_um=pixel_size_um,
        n_frames=3, field_um=(160.0, 160.0), seed=9,
    )
    assert estimate_nucleus_diameter_px(sim.image) == pytest.approx(diameter_um / pixel_size_um, rel=0.2)


@pytest.mark.parametrize("name", ["invasion_planar", "invasion_radial"])
def test_sample_movies_within_20_percent(name):
    params = json.loads((SAMPLE / "truth" / f"{name}_truth_params.json").read_text())
    truth_px = params["nucleus_diameter_um"] / params["pixel_size_um"]
    assert estimate_nucleus_diameter_px(read_movie(SAMPLE / f"{name}.ome.tif")) == pytest.approx(truth_px, rel=0.2)


def _median_equivalent_diameter(labels: np.ndarray) -> float:
    areas = np.concatenate([np.bincount(frame.ravel())[1:] for frame in labels.reshape(-1, *labels.shape[-2:])])
    return float(np.median(2 * np.sqrt(areas[areas > 0] / np.pi)))


def test_real_scratch_assay_within_20_percent(shared_data):
    path = shared_data / "scratch_assay" / "scratch-assay-labeled-10T-2Ch.tiff"
    truth_px = _median_equivalent_diameter(tifffile.imread(path)[2, ::3])  # channel 2: nuclei labels
    assert estimate_nucleus_diameter_px(read_movie(path, channel=0)) == pytest.approx(truth_px, rel=0.2)


def test_real_gowt1_large_textured_nuclei_within_20_percent(shared_data):
    folder = shared_data / "ctc" / "Fluo-N2DH-GOWT1" / "01"
    truth_px = _median_equivalent_diameter(np.stack([tifffile.imread(f) for f in sorted((folder.parent / "01_GT" / "SEG").glob("man_seg*.tif"))[:5]]))
    movie = read_movie(folder, frame_sequence=True)
    assert estimate_nucleus_diameter_px(movie, n_sample_frames=2) == pytest.approx(truth_px, rel=0.2)


def test_small_nuclei_beside_a_central_gap_in_a_large_frame():
    # Fine pyramid levels of large frames are measured on a part of the frame: it must be a part
    # with nuclei, not the cell-free wound in the middle.
    rng = np.random.default_rng(10)
    impulses = np.zeros((1024, 1024))
    yy, xx = np.mgrid[6:1018:11, 6:1018:11]
    yy, xx = yy.ravel(), xx.ravel()
    sides = (xx < 340) | (xx > 684)
    impulses[yy[sides], xx[sides]] = rng.uniform(50, 200, sides.sum())
    image = ndi.grey_dilation(impulses, footprint=footprint(4)) + 100 + rng.normal(0, 3, impulses.shape)
    equivalent = 2 * np.sqrt(footprint(4).sum() / np.pi)  # 7.9 px
    assert estimate_nucleus_diameter_px(image) == pytest.approx(equivalent, rel=0.2)


def test_given_masks_give_the_equivalent_diameter_of_their_median_area():
    labels = np.zeros((2, 128, 128), dtype=np.uint16)
    for t in range(2):
        for k, (centre, radius) in enumerate([((30, 30), 5), ((30, 90), 10), ((90, 60), 20)], start=1):
            labels[t][disk(centre, radius)] = k
    measured = mask_diameter_px(detect(labels)["area_px"])
    assert measured == pytest.approx(20.0, rel=0.03)  # the median disk, 20 px across (the mean area would give 26 px)
    assert mask_diameter_px([]) == 10.0

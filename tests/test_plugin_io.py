"""The plugin's reader and writer through npe2, as napari calls them (no viewer needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile

pytest.importorskip("napari")
npe2 = pytest.importorskip("npe2")

from test_plugin_layers import toy_result  # noqa: E402

from leadertrack.errors import InputError  # noqa: E402
from leadertrack.pipeline import apply_corrections, read_result, write_result  # noqa: E402
from leadertrack_napari._layers import result_layer_data  # noqa: E402
from leadertrack_napari._reader import get_reader, read_movie_layers  # noqa: E402
from leadertrack_napari._writer import write_result_folder  # noqa: E402


@pytest.fixture(autouse=True)
def _plugin_discovered():
    """napari discovers plugins at start-up; plain npe2 calls need it done once."""
    npe2.PluginManager.instance().discover()


def _write_ome_movie(path, *, seed: int = 0, pixel_size_um: float = 0.65) -> np.ndarray:
    rng = np.random.default_rng(seed)
    movie = rng.integers(0, 4000, size=(5, 32, 48), dtype=np.uint16)
    tifffile.imwrite(
        path, movie, ome=True,
        metadata={"axes": "TYX", "PhysicalSizeX": pixel_size_um, "PhysicalSizeY": pixel_size_um,
                  "TimeIncrement": 2.0, "TimeIncrementUnit": "min"},
    )
    return movie


def test_movie_opens_lazily_with_its_pixel_size(tmp_path):
    import dask.array as da

    movie = _write_ome_movie(tmp_path / "cells.ome.tif")
    [(data, kwargs, kind)] = npe2.read([str(tmp_path / "cells.ome.tif")], plugin_name="leadertrack", stack=False)
    assert kind == "image" and kwargs["name"] == "cells"
    assert isinstance(data, da.Array)  # nothing read yet beyond one frame for the contrast
    assert kwargs["scale"] == pytest.approx((1.0, 0.65, 0.65))
    assert np.array_equal(np.asarray(data[3]), movie[3])
    assert kwargs["metadata"]["leadertrack_movie"].frame_interval_min == pytest.approx(2.0)


@pytest.mark.parametrize(("axes", "names"), [("TZYX", ["stack (max over Z)"]),
                                             ("TZCYX", ["stack ch0 (max over Z)", "stack ch1 (max over Z)"])])
def test_z_stack_opens_as_its_maximum_projection(tmp_path, axes, names):
    sizes = {"T": 3, "Z": 4, "C": 2, "Y": 8, "X": 9}
    stack = np.random.default_rng(1).integers(0, 1000, size=[sizes[a] for a in axes]).astype(np.uint16)
    tifffile.imwrite(tmp_path / "stack.ome.tif", stack, ome=True, photometric="minisblack", metadata={"axes": axes})
    layers = npe2.read([str(tmp_path / "stack.ome.tif")], plugin_name="leadertrack", stack=False)
    assert [kwargs["name"] for _, kwargs, _ in layers] == names
    for channel, (data, _, _) in enumerate(layers):
        expected = stack[:, :, channel] if "C" in axes else stack
        assert np.array_equal(np.asarray(data), expected.max(axis=1))


def test_masks_open_as_labels_and_images_named_like_masks_as_movies(tmp_path):
    masks = np.zeros((3, 20, 30), np.uint16)
    masks[:, 5:10, 5:10], masks[:, 12:18, 20:26] = 1, 7
    tifffile.imwrite(tmp_path / "well_A1_cp_masks.tif", masks)
    [(data, kwargs, kind)] = npe2.read([str(tmp_path / "well_A1_cp_masks.tif")], plugin_name="leadertrack", stack=False)
    assert kind == "labels" and kwargs["name"] == "well_A1_cp_masks"
    assert np.array_equal(np.asarray(data), masks)
    smooth = np.random.default_rng(0).random((3, 20, 30)).astype(np.float32)  # not labels: fractional values
    tifffile.imwrite(tmp_path / "blurred_masks.tif", smooth)
    [(data, kwargs, kind)] = npe2.read([str(tmp_path / "blurred_masks.tif")], plugin_name="leadertrack", stack=False)
    assert kind == "image" and np.allclose(np.asarray(data), smooth)


def test_reader_declines_what_it_cannot_open(tmp_path):
    (tmp_path / "table.csv").write_text("a\n1\n")
    (tmp_path / "no_images").mkdir()
    (tmp_path / "no_images" / "notes.txt").write_text("hello")
    assert get_reader(str(tmp_path / "table.csv")) is None
    assert get_reader(str(tmp_path / "no_images")) is None
    assert get_reader([str(tmp_path / "a.tif"), str(tmp_path / "b.tif")]) is None
    # a single 2-D image (grey or RGB) is no movie: napari's own reader opens it; a stack is ours
    tifffile.imwrite(tmp_path / "snapshot.tif", np.zeros((20, 30), np.uint16))
    tifffile.imwrite(tmp_path / "photo.tif", np.zeros((20, 30, 3), np.uint8), photometric="rgb")
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((4, 20, 30), np.uint16))
    assert get_reader(str(tmp_path / "snapshot.tif")) is None
    assert get_reader(str(tmp_path / "photo.tif")) is None
    assert get_reader(str(tmp_path / "stack.tif")) is read_movie_layers


def test_result_folder_opens_with_its_corrections_and_movie(tmp_path):
    _write_ome_movie(tmp_path / "toy.ome.tif", pixel_size_um=0.5)
    result = toy_result(pixel_size_um=0.5)
    result.provenance["input"] = {"path": str(tmp_path / "toy.ome.tif")}
    corrected = apply_corrections(result, pd.DataFrame({"track_id": [3], "is_leader": [True]}))
    folder = write_result(corrected, tmp_path / "out")
    layers = npe2.read([str(folder)], plugin_name="leadertrack", stack=False)
    by_name = {kwargs["name"]: (data, kwargs, kind) for data, kwargs, kind in layers}
    assert set(by_name) == {"toy", "toy labels", "toy tracks", "toy leaders", "toy front"}
    assert by_name["toy"][1]["scale"] == pytest.approx((1.0, 0.5, 0.5))
    assert np.array_equal(np.asarray(by_name["toy labels"][0]), result.labels)
    reloaded = by_name["toy tracks"][1]["metadata"]["leadertrack_result"]
    assert reloaded.corrections.to_dict("records") == [{"track_id": 3, "is_leader": True}]
    assert reloaded.leaders == [2, 3]
    assert set(by_name["toy leaders"][1]["features"]["track_id"]) == {2, 3}


def test_result_folder_without_its_movie_still_opens(tmp_path):
    result = toy_result()
    result.provenance["input"] = {"path": str(tmp_path / "moved_away.tif")}
    folder = write_result(result, tmp_path / "out")
    names = {kwargs["name"] for _, kwargs, _ in npe2.read([str(folder)], plugin_name="leadertrack", stack=False)}
    assert names == {"toy labels", "toy tracks", "toy leaders", "toy front"}


def test_writer_saves_the_result_under_the_chosen_name(tmp_path):
    result = apply_corrections(toy_result(), pd.DataFrame({"track_id": [2], "is_leader": [False]}))
    layer_data = result_layer_data(result)
    written = npe2.write(str(tmp_path / "reviewed"), layer_data, plugin_name="leadertrack")
    assert written == [str(tmp_path / "reviewed")]
    back = read_result(tmp_path / "reviewed")
    assert back.name == "reviewed" and back.leaders == []
    assert back.corrections.to_dict("records") == [{"track_id": 2, "is_leader": False}]
    pd.testing.assert_frame_equal(back.tracks[["track_id", "frame", "label"]], result.tracks[["track_id", "frame", "label"]])
    # saving again over the same folder replaces it (napari's dialog already asked)
    npe2.write(str(tmp_path / "reviewed"), layer_data, plugin_name="leadertrack")
    assert read_result(tmp_path / "reviewed").corrections.shape == (1, 2)
    # but never a folder of the user's own
    (tmp_path / "thesis").mkdir()
    (tmp_path / "thesis" / "chapter1.docx").write_bytes(b"text")
    with pytest.raises(FileExistsError, match="is not a leadertrack result"):
        write_result_folder(str(tmp_path / "thesis"), layer_data)
    assert [p.name for p in (tmp_path / "thesis").iterdir()] == ["chapter1.docx"]


def test_writer_refuses_layers_without_a_result(tmp_path):
    layer_data = [(np.zeros((2, 3, 4)), {"name": "plain", "metadata": {}}, "tracks")]
    with pytest.raises(InputError, match="^reviewed: none of the selected layers"):
        write_result_folder(str(tmp_path / "reviewed"), layer_data)


@pytest.mark.realdata
def test_multichannel_scratch_assay_opens_one_lazy_layer_per_channel(shared_data):
    path = shared_data / "scratch_assay" / "scratch-assay-labeled-10T-2Ch.tiff"
    layers = npe2.read([str(path)], plugin_name="leadertrack", stack=False)
    names = [kwargs["name"] for _, kwargs, _ in layers]
    assert names == [f"scratch-assay-labeled-10T-2Ch ch{c}" for c in range(4)]
    for channel, (data, kwargs, _) in enumerate(layers):
        assert data.shape == (10, 210, 576)
        assert kwargs["scale"] == pytest.approx((1.0, 0.619, 0.619))
        assert kwargs["metadata"]["leadertrack_movie"].metadata["channel"] == channel
    with tifffile.TiffFile(path) as tif:
        assert np.array_equal(np.asarray(layers[2][0][4]), tif.series[0].asarray()[2, 4])  # channel 2, frame 4


@pytest.mark.realdata
def test_folder_of_frames_opens_as_one_lazy_movie(shared_data):
    import dask.array as da

    folder = shared_data / "ctc" / "Fluo-N2DH-GOWT1" / "01"
    [(data, kwargs, kind)] = npe2.read([str(folder)], plugin_name="leadertrack", stack=False)
    assert kind == "image" and kwargs["name"] == "01"
    assert isinstance(data, da.Array) and data.shape == (92, 1024, 1024)
    assert np.array_equal(np.asarray(data[50]), tifffile.imread(folder / "t050.tif"))


def test_a_result_made_from_tracks_opens_without_a_movie(tmp_path):
    """Its input, a tracks table still in place, was opened as a movie: 'not a TIFF file'."""
    from leadertrack.formats import read_tracks
    from leadertrack.pipeline import analyze_tracks
    from leadertrack.synthetic import simulate_invasion

    sim = simulate_invasion(geometry="planar", n_frames=8, field_um=(120.0, 160.0), render=False, seed=3)
    table = tmp_path / "mine.csv"
    sim.tracks[["track_id", "frame", "y", "x"]].to_csv(table, index=False)
    folder = write_result(analyze_tracks(read_tracks(table), source=table), tmp_path / "out")
    layers = get_reader(str(folder))(str(folder))
    assert {kind for _, _, kind in layers} >= {"tracks", "points"} and "image" not in {kind for _, _, kind in layers}

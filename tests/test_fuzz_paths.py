"""Output names derived from input names stay inside OUT, whatever the input is called."""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st

from leadertrack.io import file_checksum, movie_name

OUT = Path("/results/out")
_NAMES = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=".-_/\\ ~$*?:;\"'`|<>&%\x00\n" + string.ascii_letters, max_size=20),
    st.sampled_from(["..", ".", "...tif", "..tif", "../../etc/passwd.tif", "/abs/olute.tif", "~/home.tif", ".hidden.tif",
                     ".well.partial-1234abcd.tif", "C:\\data\\a.tif", "a\x00b.tif", "ｗｅｌｌ.tif", "cafe\u0301.tif"]),
)


@settings(max_examples=200, deadline=None)
@given(text=_NAMES, suffix=st.sampled_from(["", ".tif", ".TIFF", ".ome.tif", ".ome.tiff"]))
def test_movie_name_cannot_escape_or_hide_in_out(text, suffix):
    name = movie_name(text + suffix)
    assert name and all(c.isalnum() or c in "._-" for c in name)  # letters and digits of any script
    assert not name.startswith(".")  # not hidden, never mistaken for a '.<name>.partial-*' staging folder
    folder = OUT / name
    assert folder.parent == OUT and len(folder.parts) == len(OUT.parts) + 1
    assert Path(str(folder)).resolve().parent == OUT.resolve()


def test_names_in_other_scripts_stay_apart():
    """Names in other scripts used to collapse to underscores, so two movies collided ('__')."""
    assert movie_name("細胞.tif") != movie_name("組織.tif")
    assert movie_name("cafe\u0301.tif") == movie_name("caf\u00e9.tif") == "café"  # however the accent was typed


@pytest.mark.parametrize("name", ["..tif", "a b;$(touch x).tif", ".hidden.ome.tif", "well ä1.tif", "細胞.tif"])
def test_odd_names_run_into_a_folder_inside_out(tmp_path, name):
    from leadertrack.config import RunConfig
    from leadertrack.pipeline import process_movie
    from leadertrack.synthetic import simulate_invasion

    movie = tmp_path / "in" / name
    movie.parent.mkdir()
    sim = simulate_invasion(geometry="planar", n_frames=4, field_um=(100.0, 100.0), seed=1)
    tifffile.imwrite(movie, sim.image.astype(np.uint16), imagej=True, metadata={"axes": "TYX"})
    before = file_checksum(movie)
    config = RunConfig()
    config.output.report = False
    config.segment.nucleus_diameter_um = 10.0
    config.units.pixel_size_um = 1.0
    config.units.frame_interval_min = 1.0
    out = tmp_path / "out"
    process_movie(movie, out, config)
    made = [p for p in out.iterdir()]
    assert [p.name for p in made] == [movie_name(movie)]
    assert made[0].resolve().parent == out.resolve() and (made[0] / "tracks.csv").is_file()
    assert sorted(p.name for p in movie.parent.iterdir()) == [name]  # nothing written beside the input
    assert file_checksum(movie) == before

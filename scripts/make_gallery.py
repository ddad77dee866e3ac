"""Draw the documentation gallery: run the pipeline on every sample movie and save its figures.

Usage::

    python scripts/make_gallery.py [--samples sample_data] [--out docs/images/gallery] [--nucleus-diameter-um D]

For each movie ``<name>.ome.tif`` in ``--samples`` this writes ``<out>/<name>_<figure>.png`` for
the figures of the per-movie report (``frames``, ``front``, ``distributions``, ``headings``,
``episodes``; see ``leadertrack.report.report_figures``) and prints one line per movie with the
counts quoted in ``docs/gallery.md``. Make the sample movies first with
``python scripts/make_sample_data.py``.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
from pathlib import Path

from PIL import Image

from leadertrack.config import RunConfig
from leadertrack.io import list_movies
from leadertrack.pipeline import analyze_movie
from leadertrack.report import report_figures

REPO = Path(__file__).resolve().parents[1]


def _save_png(fig, path: Path) -> None:  # noqa: ANN001 - a matplotlib Figure
    """Save ``fig`` as a small PNG (128-colour palette), atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=72, bbox_inches="tight")
    image = Image.open(buffer).convert("RGB").quantize(colors=128)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".png", delete=False) as tmp:
        image.save(tmp, format="png", optimize=True)
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=REPO / "sample_data")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "gallery")
    parser.add_argument(
        "--nucleus-diameter-um", type=float, default=None, help="nucleus diameter (default: estimated, as leadertrack run does)"
    )
    args = parser.parse_args()
    config = RunConfig()
    config.segment.nucleus_diameter_um = args.nucleus_diameter_um
    movies = list_movies([args.samples])
    if not movies:
        raise SystemExit(f"{args.samples}: no movies; run python scripts/make_sample_data.py first")
    args.out.mkdir(parents=True, exist_ok=True)
    for path in movies:
        result = analyze_movie(path, config)
        for name, (fig, _) in report_figures(result).items():
            if fig is not None:
                _save_png(fig, args.out / f"{result.name}_{name}.png")
        units = result.provenance["units"]
        print(
            f"{result.name}: {len(result.movie)} frames, {units['pixel_size_um']} µm/px, "
            f"{units['frame_interval_min']} min/frame, {len(result.cells)} tracks, {len(result.leaders)} leaders, "
            f"geometry {result.provenance['front']['geometry']}"
        )


if __name__ == "__main__":
    main()

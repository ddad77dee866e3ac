"""Write the sample movies in ``sample_data/`` (deterministic: same files on every run).

Usage::

    python scripts/make_sample_data.py [--out sample_data]

Each movie is an OME-TIFF with its pixel size and frame interval; the ground truth goes to
``<out>/truth/`` (see ``sample_data/README.md``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from leadertrack.synthetic import SAMPLES, save_simulation, simulate_invasion


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "sample_data")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    for name, options in SAMPLES.items():
        sim = simulate_invasion(**options)
        save_simulation(sim, out / f"{name}.ome.tif", truth_dir=out / "truth")
        cells = sim.cells
        print(
            f"{name}: {sim.image.shape} px, {sim.pixel_size_um} µm/px, {sim.frame_interval_min} min/frame, "
            f"{len(cells)} tracks, {int(cells['is_leader'].sum())} leaders, "
            f"{int((cells['role'] == 'follower').sum())} followers, {int((cells['role'] == 'decoy').sum())} decoys"
        )


if __name__ == "__main__":
    main()

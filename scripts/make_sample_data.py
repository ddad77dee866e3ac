"""Write the sample movies in ``sample_data/`` (deterministic: same files on every run).

Usage::

    python scripts/make_sample_data.py [--out sample_data]

Each movie is an OME-TIFF with its pixel size and frame interval; the ground truth goes to
``<out>/truth/`` (see ``sample_data/README.md``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from leadertrack.synthetic import save_simulation, simulate_invasion

# name -> options for simulate_invasion; seeds chosen so that each movie has 3-6 leaders
SAMPLES: dict[str, dict] = {
    "invasion_planar": dict(
        geometry="planar", outward_angle_deg=0.0, n_frames=40, field_um=(204.8, 307.2), pixel_size_um=0.8,
        frame_interval_min=5.0, nucleus_diameter_um=9.0, n_leaders=4, followers_per_leader=(1, 3),
        leader_speed_um_per_min=0.6, front_speed_um_per_min=0.12, jiggle_um=1.2, sheet_fraction=0.35,
        decoys_per_100um=1.5, difficulty="medium", photons=250.0, read_noise=0.8, counts_per_photon=0.1, texture=0.08, background_fraction=0.08, seed=11,
    ),
    "invasion_radial": dict(
        geometry="radial", n_frames=30, field_um=(224.0, 224.0), pixel_size_um=1.0,
        frame_interval_min=12.0, nucleus_diameter_um=9.0, n_leaders=5, followers_per_leader=(1, 3),
        leader_speed_um_per_min=0.25, front_speed_um_per_min=0.04, jiggle_um=0.9, sheet_fraction=0.4,
        decoys_per_100um=1.0, difficulty="medium", photons=250.0, read_noise=0.8, counts_per_photon=0.1, texture=0.08, background_fraction=0.08, seed=5,
    ),
}


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

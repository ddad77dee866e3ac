"""Sample data: simulated invasion movies, generated on the fly (nothing is downloaded)."""

from __future__ import annotations

from typing import Any

from ._layers import UNITS_KEY, LayerData

__all__ = ["SAMPLES", "planar_invasion", "radial_invasion", "simulated_movie"]

#: The options of ``sample_data/*.ome.tif`` (``scripts/make_sample_data.py``; keep the two in step),
#: so the napari samples are the very movies the documentation and the command line use.
SAMPLES: dict[str, dict[str, Any]] = {
    "invasion_planar": dict(
        geometry="planar", outward_angle_deg=0.0, n_frames=40, field_um=(204.8, 307.2), pixel_size_um=0.8,
        frame_interval_min=5.0, nucleus_diameter_um=9.0, n_leaders=4, followers_per_leader=(1, 3),
        leader_speed_um_per_min=0.6, front_speed_um_per_min=0.12, jiggle_um=1.2, sheet_fraction=0.35,
        decoys_per_100um=1.5, difficulty="medium", photons=250.0, read_noise=0.8, counts_per_photon=0.1,
        texture=0.08, background_fraction=0.08, seed=11,
    ),
    "invasion_radial": dict(
        geometry="radial", n_frames=30, field_um=(224.0, 224.0), pixel_size_um=1.0,
        frame_interval_min=12.0, nucleus_diameter_um=9.0, n_leaders=5, followers_per_leader=(1, 3),
        leader_speed_um_per_min=0.25, front_speed_um_per_min=0.04, jiggle_um=0.9, sheet_fraction=0.4,
        decoys_per_100um=1.0, difficulty="medium", photons=250.0, read_noise=0.8, counts_per_photon=0.1,
        texture=0.08, background_fraction=0.08, seed=5,
    ),
}


def simulated_movie(name: str, **options: Any) -> list[LayerData]:
    """A simulated fluorescence movie of nuclei invading with planted leaders, as an image layer.

    Parameters
    ----------
    name
        A key of :data:`SAMPLES`; also the layer's name.
    **options
        Override options of :func:`leadertrack.synthetic.simulate_invasion` (e.g. ``n_frames``).

    Returns
    -------
    list of (data, kwargs, "image")
        ``metadata["leadertrack_units"]`` carries the pixel size and frame interval, which the
        widget prefills; the ground truth (:class:`leadertrack.synthetic.Simulation`) is in
        ``metadata["leadertrack_truth"]``.
    """
    from leadertrack.synthetic import simulate_invasion

    sim = simulate_invasion(**{**SAMPLES[name], **options})
    pixel = sim.pixel_size_um
    kwargs = {
        "name": name,
        "scale": (1.0, pixel, pixel),
        "metadata": {
            UNITS_KEY: {"pixel_size_um": pixel, "frame_interval_min": sim.frame_interval_min, "source": "simulation"},
            "leadertrack_truth": sim,
        },
    }
    return [(sim.image, kwargs, "image")]


def planar_invasion() -> list[LayerData]:
    """A wound-edge (planar) invasion: a monolayer sheet with leader cells ahead of it."""
    return simulated_movie("invasion_planar")


def radial_invasion() -> list[LayerData]:
    """A spheroid (radial) invasion: strands led by tip cells growing out of a core."""
    return simulated_movie("invasion_radial")

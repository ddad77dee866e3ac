"""Sample data: simulated invasion movies, generated on the fly (nothing is downloaded)."""

from __future__ import annotations

from ._layers import UNITS_KEY, LayerData

__all__ = ["planar_invasion", "radial_invasion", "simulated_movie"]


def simulated_movie(*, geometry: str, seed: int = 0, n_frames: int = 30) -> list[LayerData]:
    """A simulated fluorescence movie of nuclei invading with planted leaders, as an image layer.

    The layer's ``metadata["leadertrack_units"]`` carries the pixel size and frame interval, which
    the widget prefills; the ground truth (:class:`leadertrack.synthetic.Simulation`) is in
    ``metadata["leadertrack_truth"]``.
    """
    from leadertrack.synthetic import simulate_invasion

    sim = simulate_invasion(geometry=geometry, seed=seed, n_frames=n_frames)
    pixel = sim.pixel_size_um
    kwargs = {
        "name": f"invasion_{geometry}",
        "scale": (1.0, pixel, pixel),
        "metadata": {
            UNITS_KEY: {
                "pixel_size_um": pixel,
                "frame_interval_min": sim.frame_interval_min,
                "source": "simulation",
            },
            "leadertrack_truth": sim,
        },
    }
    return [(sim.image, kwargs, "image")]


def planar_invasion() -> list[LayerData]:
    """A wound-edge (planar) invasion: a monolayer sheet with leader cells ahead of it."""
    return simulated_movie(geometry="planar")


def radial_invasion() -> list[LayerData]:
    """A spheroid (radial) invasion: strands led by tip cells growing out of a core."""
    return simulated_movie(geometry="radial")

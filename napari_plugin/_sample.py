"""Sample data: simulated invasion movies, generated on the fly (nothing is downloaded)."""

from __future__ import annotations

from typing import Any

from leadertrack.synthetic import SAMPLES

from ._layers import UNITS_KEY, LayerData

__all__ = ["planar_invasion", "radial_invasion", "simulated_movie"]

# SAMPLES holds the options of ``sample_data/*.ome.tif``, so the napari samples are the very
# movies the documentation and the command line use.


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

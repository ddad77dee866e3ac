"""Simulator of collective invasion assays with planted leader cells: ground truth for every stage.

The simulator works in two steps. :func:`simulate_tracks` moves cells in physical units (µm, min)
and knows who leads: a monolayer sheet (``planar``), two sheets facing each other across a
closing gap (``scratch``), a spheroid core with strands invading outward (``radial``), or cells
milling about with no invasion at all (``none``). :func:`render_movie` turns those positions into a
fluorescence movie of nuclei and their ideal label masks. :func:`simulate_invasion` does both.

Cell roles (truth, per frame):

``leader``
    The tip cell of a strand ahead of the sheet; moves outward fast and persistently.
``follower``
    Cells in a chain directly behind a leader, copying its path with a lag; fast, persistent and
    near the front too (the hard case). With leader turnover the first follower overtakes and the
    old leader falls back to follow it.
``decoy``
    Fast cells near the front that move randomly (low persistence).
``bulk``
    Dense sheet or core cells: a slow jiggle on top of the slow collective advance of the front.

Coordinates: ``y_um``, ``x_um`` from the top-left corner of the field; an outward angle of 0°
points to +x (right), 90° to +y (down).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.spatial import cKDTree

from leadertrack.atomic import atomic_write

__all__ = [
    "SAMPLES",
    "LEADER_TRACK_MIN_FRACTION",
    "LEADER_TRACK_MIN_FRAMES",
    "GEOMETRIES",
    "DIFFICULTIES",
    "Simulation",
    "simulate_tracks",
    "render_movie",
    "simulate_invasion",
    "random_scenario",
    "save_simulation",
]

LEADER_TRACK_MIN_FRACTION = 0.3
"""A track is a leader (per-track truth) when it leads in at least this fraction of its frames..."""
LEADER_TRACK_MIN_FRAMES = 3
"""...and in at least this many frames."""

GEOMETRIES = ("planar", "scratch", "radial", "none")
DIFFICULTIES = ("easy", "medium", "hard")
_ROLES = np.array(["bulk", "leader", "follower", "decoy"])
_BULK, _LEADER, _FOLLOWER, _DECOY = range(4)

# Defaults per difficulty; lengths are fractions of the nucleus diameter, rates per 100 µm of front.
_DIFFICULTY: dict[str, dict[str, Any]] = {
    "easy": dict(
        leaders_per_100um=0.5, followers_per_leader=(0, 2), decoys_per_100um=0.3, turnover=False,
        spacing_fraction=1.3, jiggle_fraction=0.12, follower_noise_fraction=0.05,
        roughness_fraction=0.5, leader_speed_um_per_min=0.8, leader_persistence_min=300.0,
    ),
    "medium": dict(
        leaders_per_100um=0.6, followers_per_leader=(1, 4), decoys_per_100um=1.0, turnover=False,
        spacing_fraction=1.15, jiggle_fraction=0.2, follower_noise_fraction=0.1,
        roughness_fraction=1.5, leader_speed_um_per_min=0.7, leader_persistence_min=150.0,
    ),
    "hard": dict(
        leaders_per_100um=0.7, followers_per_leader=(2, 4), decoys_per_100um=2.5, turnover=True,
        spacing_fraction=1.0, jiggle_fraction=0.25, follower_noise_fraction=0.18,
        roughness_fraction=3.0, leader_speed_um_per_min=0.55, leader_persistence_min=90.0,
    ),
}
_RENDER_DIFFICULTY: dict[str, dict[str, float]] = {
    "easy": dict(photons=800.0, read_noise=3.0, psf_sigma_um=0.4),
    "medium": dict(photons=300.0, read_noise=6.0, psf_sigma_um=0.7),
    "hard": dict(photons=120.0, read_noise=10.0, psf_sigma_um=1.0),
}


@dataclass
class Simulation:
    """A simulated invasion assay and its ground truth.

    Attributes
    ----------
    tracks
        One row per cell per frame: ``track_id`` (≥ 1), ``frame``, ``time_min``, ``y_um``, ``x_um``,
        ``y``, ``x`` (px), ``label`` (the cell's value in ``labels`` at that frame; 0 when not
        rendered or hidden under another nucleus), ``is_leader`` (truth state in this frame),
        ``role`` (``leader``/``follower``/``decoy``/``bulk``), ``front_distance_um`` (truth: ≥ 0
        behind the nearest front, < 0 ahead of it; NaN without a front).
    cells
        One row per track: ``track_id, first_frame, last_frame, n_frames, is_leader,
        leader_fraction, role, follows_track_id, parent_track_id``. ``is_leader`` is True when the
        track leads in ≥ ``LEADER_TRACK_MIN_FRACTION`` of its frames and in ≥
        ``LEADER_TRACK_MIN_FRAMES`` frames.
    fronts
        Truth front per frame and front, columns as in ``docs/architecture.md``.
    image, labels
        ``(T, Y, X)`` uint16 movie and uint32 ideal masks (label = track id), or None before
        :func:`render_movie`.
    """

    tracks: pd.DataFrame
    cells: pd.DataFrame
    fronts: pd.DataFrame
    image: np.ndarray | None
    labels: np.ndarray | None
    pixel_size_um: float
    frame_interval_min: float
    nucleus_diameter_um: float
    geometry: str
    params: dict


# ----------------------------------------------------------------------------------------------
# motion


def _unit(angle: np.ndarray) -> np.ndarray:
    """(…, 2) unit vectors (y, x) for angles in radians (0 = +x, pi/2 = +y)."""
    return np.stack([np.sin(angle), np.cos(angle)], axis=-1)


def _ou(rng: np.random.Generator, n: int, n_frames: int, *, sd_um: float, tau_min: float, dt: float) -> np.ndarray:
    """Ornstein-Uhlenbeck position offsets, shape (n, n_frames, 2), stationary sd ``sd_um`` per axis."""
    a = np.exp(-dt / tau_min)
    out = np.empty((n, n_frames, 2))
    out[:, 0] = rng.normal(0.0, sd_um, (n, 2))
    kicks = rng.normal(0.0, sd_um * np.sqrt(1 - a * a), (n, n_frames, 2))
    for t in range(1, n_frames):
        out[:, t] = a * out[:, t - 1] + kicks[:, t]
    return out


def _outward(pos: np.ndarray, normals: np.ndarray | None) -> np.ndarray:
    """Outward unit vectors: the fixed ``normals`` (planar) or away from the origin (radial)."""
    if normals is not None:
        return normals
    r = np.linalg.norm(pos, axis=-1, keepdims=True)
    return pos / np.maximum(r, 1e-9)


def _walk(
    rng: np.random.Generator,
    start: np.ndarray,
    *,
    n_frames: int,
    dt: float,
    speed: np.ndarray,
    persistence_min: np.ndarray,
    bias_per_min: float,
    drift_um_per_min: float,
    normals: np.ndarray | None,
) -> np.ndarray:
    """Persistent random walks (heading diffuses with time constant ``persistence_min``).

    The heading relaxes toward the outward direction at ``bias_per_min``; every cell also drifts
    outward at ``drift_um_per_min`` (the sheet's collective advance). Returns (n, n_frames, 2).
    """
    n = len(start)
    pos = np.empty((n, n_frames, 2))
    pos[:, 0] = start
    out0 = _outward(start, normals)
    if bias_per_min > 0:
        heading = np.arctan2(out0[:, 0], out0[:, 1]) + rng.normal(0, 0.3, n)
    else:
        heading = rng.uniform(0, 2 * np.pi, n)
    sigma = np.sqrt(2 * dt / persistence_min)
    for t in range(1, n_frames):
        out = _outward(pos[:, t - 1], normals)
        target = np.arctan2(out[:, 0], out[:, 1])
        turn = np.angle(np.exp(1j * (target - heading)))
        heading = heading + min(bias_per_min * dt, 1.0) * turn + rng.normal(0, 1, n) * sigma
        step = speed * np.clip(1 + 0.2 * rng.normal(0, 1, n), 0.2, None) * dt
        pos[:, t] = pos[:, t - 1] + step[:, None] * _unit(heading) + drift_um_per_min * dt * out
    return pos


def _chain(
    head: np.ndarray,
    back: np.ndarray,
    *,
    gaps_um: np.ndarray,
    width_um: float,
    swap_frame: int | None,
    swap_frames: int,
    lateral_um: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Followers on the leader's path, ``gaps_um`` apart; optional leader turnover.

    ``head`` (T, 2) is the leader's path, extended backward along ``back`` (into the sheet) for
    followers that have not left it yet. Followers alternate sides of the path ``width_um`` apart
    (0 = single file). With turnover, member 1 overtakes member 0 from ``swap_frame`` over
    ``swap_frames`` frames, passing ``lateral_um`` to its side. Returns positions (K+1, T, 2)
    with member 0 the first leader, and the index of the member leading in each frame (T,).
    """
    n_frames = len(head)
    offsets = np.concatenate([[0.0], np.cumsum(gaps_um)])
    tail = head[0] + back * np.linspace(offsets[-1] + 20.0, 0.0, 50)[:, None]
    path = np.concatenate([tail[:-1], head])
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))])
    head_arc = arc[len(tail) - 1 :]
    lag = np.repeat(offsets[:, None], n_frames, axis=1)
    leading = np.zeros(n_frames, dtype=int)
    side = 0.5 * width_um * (-1.0) ** np.arange(len(offsets))
    side[0] = 0.0
    bump = np.repeat(side[:, None], n_frames, axis=1)
    if swap_frame is not None and len(offsets) > 1:
        phase = np.clip((np.arange(n_frames) - swap_frame) / swap_frames, 0.0, 1.0)
        smooth = 0.5 - 0.5 * np.cos(np.pi * phase)
        lag[0] = smooth * offsets[1]
        lag[1] = (1 - smooth) * offsets[1]
        leading[phase >= 0.5] = 1
        bump[0] = lateral_um * np.sin(np.pi * phase) + smooth * side[1]
        bump[1] = -lateral_um * np.sin(np.pi * phase) + (1 - smooth) * side[1]
    where = head_arc[None, :] - lag
    pos = np.stack([np.interp(where, arc, path[:, 0]), np.interp(where, arc, path[:, 1])], axis=-1)
    direction = np.gradient(head, axis=0)
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-9)
    perp = np.stack([direction[:, 1], -direction[:, 0]], axis=-1)
    return pos + bump[..., None] * perp[None], leading


def _hex_lattice(rng: np.random.Generator, lo: tuple[float, float], hi: tuple[float, float], spacing: float) -> np.ndarray:
    """Jittered hexagonal lattice of points (a, b) in the box ``lo``-``hi`` (a few points dropped)."""
    rows = np.arange(lo[0], hi[0], spacing * np.sqrt(3) / 2)
    cols = np.arange(lo[1], hi[1] + spacing, spacing)
    a, b = np.meshgrid(rows, cols, indexing="ij")
    b = b + (np.arange(len(rows))[:, None] % 2) * spacing / 2
    pts = np.stack([a.ravel(), b.ravel()], axis=1) + rng.normal(0, 0.12 * spacing, (a.size, 2))
    return pts[rng.random(len(pts)) > 0.04]


def _spread(rng: np.random.Generator, count: int, *, length: float, gap: float) -> np.ndarray:
    """Up to ``count`` uniformly random positions in [0, ``length``], at least ``gap`` apart."""
    count = max(0, min(count, int(length // gap) + 1))
    free = max(length - (count - 1) * gap, 0.0)
    return np.sort(rng.uniform(0, free, count)) + gap * np.arange(count)


def _rough(rng: np.random.Generator, amplitude_um: float, *, periodic: bool) -> Callable[[np.ndarray], np.ndarray]:
    """A random smooth edge profile: a sum of sines of total amplitude ``amplitude_um``."""
    k = 4
    amp = rng.dirichlet(np.ones(k)) * amplitude_um
    phase = rng.uniform(0, 2 * np.pi, k)
    if periodic:
        freq = rng.integers(3, 10, k).astype(float)
    else:
        freq = 2 * np.pi / rng.uniform(40.0, 250.0, k)
    return lambda u: (amp * np.sin(np.multiply.outer(u, freq) + phase)).sum(axis=-1)


# ----------------------------------------------------------------------------------------------
# the assay


@dataclass
class _Agents:
    pos: np.ndarray  # (N, T, 2) µm, absolute
    role: np.ndarray  # (N, T) role codes
    leader_of: np.ndarray  # (N, T) agent index of the leader this cell trails (self when leading), -1


def _stack(parts: list[_Agents]) -> _Agents:
    out_pos, out_role, out_lead, offset = [], [], [], 0
    for p in parts:
        out_pos.append(p.pos)
        out_role.append(p.role)
        out_lead.append(np.where(p.leader_of >= 0, p.leader_of + offset, -1))
        offset += len(p.pos)
    return _Agents(np.concatenate(out_pos), np.concatenate(out_role), np.concatenate(out_lead))


def _static(pos: np.ndarray, role: int) -> _Agents:
    n, t = pos.shape[:2]
    return _Agents(pos, np.full((n, t), role, dtype=np.int8), np.full((n, t), -1))


#: The sample movies in ``sample_data/`` and napari's sample menu: name -> options for
#: :func:`simulate_invasion` (seeds chosen so that each movie has 3-6 leaders).
SAMPLES: dict[str, dict[str, Any]] = {
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



def simulate_tracks(
    *,
    geometry: str = "planar",
    n_frames: int = 40,
    field_um: tuple[float, float] = (400.0, 400.0),
    frame_interval_min: float = 5.0,
    nucleus_diameter_um: float = 10.0,
    pixel_size_um: float = 1.0,
    outward_angle_deg: float | None = None,
    n_leaders: int | None = None,
    followers_per_leader: tuple[int, int] | None = None,
    leader_speed_um_per_min: float | None = None,
    leader_persistence_min: float | None = None,
    front_speed_um_per_min: float = 0.15,
    decoys_per_100um: float | None = None,
    turnover: bool | None = None,
    cell_spacing_um: float | None = None,
    jiggle_um: float | None = None,
    follower_noise_um: float | None = None,
    strand_width_um: float = 0.0,
    front_roughness_um: float | None = None,
    sheet_fraction: float = 0.4,
    difficulty: str = "medium",
    seed: int | None = 0,
) -> Simulation:
    """Simulate cell positions and ground truth of an invasion assay (no image).

    Parameters
    ----------
    geometry
        ``planar`` (one sheet), ``scratch`` (two sheets across a closing gap), ``radial``
        (spheroid) or ``none`` (no invasion: zero leaders is the right answer).
    n_frames, frame_interval_min
        Movie length and time between frames (min).
    field_um
        Field of view (height, width) in µm; cells outside it have no rows, and a cell that leaves
        and re-enters the field gets a new track id.
    nucleus_diameter_um
        Typical nucleus diameter; spacings and noise default to fractions of it.
    pixel_size_um
        Pixel size for the ``y``, ``x`` pixel columns (:func:`render_movie` may change it).
    outward_angle_deg
        Outward direction of the (first) sheet, 0° = +x, 90° = +y. None = one of the four sides.
    n_leaders
        Number of strands; None = from the front length and ``difficulty``.
    followers_per_leader
        (min, max) chain length behind each leader.
    leader_speed_um_per_min, leader_persistence_min
        Leader speed and persistence time of its heading.
    front_speed_um_per_min
        Collective advance of the sheet or spheroid edge.
    decoys_per_100um
        Fast, randomly moving cells near the front, per 100 µm of front.
    turnover
        Whether the first follower overtakes its leader once during the movie.
    cell_spacing_um, jiggle_um, follower_noise_um, front_roughness_um
        Sheet density (centre spacing), random positional jiggle of bulk cells and of followers,
        and amplitude of the ragged edge.
    strand_width_um
        Followers alternate sides of the leader's path this far apart (0 = single file).
    sheet_fraction
        Fraction of the field covered by the sheet(s) or the spheroid at the start.
    difficulty
        ``easy``, ``medium`` or ``hard``: defaults for every option left as None.
    seed
        Seed of the random generator (None = fresh randomness).

    Returns
    -------
    Simulation
        With ``image`` and ``labels`` None and ``label`` 0.

    Examples
    --------
    >>> sim = simulate_tracks(geometry="planar", n_frames=10, seed=1)
    >>> sim.cells["is_leader"].sum() > 0
    np.True_
    """
    if geometry not in GEOMETRIES:
        raise ValueError(f"geometry must be one of {GEOMETRIES}, not {geometry!r}")
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {DIFFICULTIES}, not {difficulty!r}")
    if n_frames < 2:
        raise ValueError("n_frames must be at least 2")
    if len(field_um) != 2 or not all(np.isfinite(v) and v > 0 for v in field_um):
        raise ValueError(f"field_um must be (height, width), both positive, in µm; got {field_um}")
    for name, value in {"pixel_size_um": pixel_size_um, "nucleus_diameter_um": nucleus_diameter_um,
                        "frame_interval_min": frame_interval_min}.items():
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value}")
    if n_leaders is not None and n_leaders < 0:
        raise ValueError(f"n_leaders must be 0 or more, got {n_leaders}")
    rng = np.random.default_rng(seed)
    d = nucleus_diameter_um
    dflt = _DIFFICULTY[difficulty]
    p: dict[str, Any] = dict(
        geometry=geometry, n_frames=n_frames, field_um=[float(f) for f in field_um],
        frame_interval_min=frame_interval_min, nucleus_diameter_um=d, difficulty=difficulty, seed=seed,
        followers_per_leader=list(followers_per_leader or dflt["followers_per_leader"]),
        leader_speed_um_per_min=leader_speed_um_per_min or dflt["leader_speed_um_per_min"],
        leader_persistence_min=leader_persistence_min or dflt["leader_persistence_min"],
        front_speed_um_per_min=front_speed_um_per_min,
        decoys_per_100um=dflt["decoys_per_100um"] if decoys_per_100um is None else decoys_per_100um,
        turnover=dflt["turnover"] if turnover is None else turnover,
        cell_spacing_um=cell_spacing_um or dflt["spacing_fraction"] * d,
        jiggle_um=dflt["jiggle_fraction"] * d if jiggle_um is None else jiggle_um,
        follower_noise_um=dflt["follower_noise_fraction"] * d if follower_noise_um is None else follower_noise_um,
        strand_width_um=strand_width_um,
        front_roughness_um=dflt["roughness_fraction"] * d if front_roughness_um is None else front_roughness_um,
        sheet_fraction=sheet_fraction,
    )
    if outward_angle_deg is None:
        outward_angle_deg = float(rng.choice([0.0, 90.0, 180.0, 270.0]))
    p["outward_angle_deg"] = outward_angle_deg
    height, width = field_um
    centre = np.array([height, width]) / 2
    builder = {"planar": _planar, "scratch": _planar, "radial": _radial, "none": _milling}[geometry]
    agents, fronts = builder(rng, p, centre=centre, n_leaders=n_leaders, dflt=dflt)
    p["n_strands"] = int((agents.role[:, 0] == _LEADER).sum())
    tracks, cells = _tables(rng, agents, fronts, p, pixel_size_um=pixel_size_um)
    return Simulation(
        tracks=tracks, cells=cells, fronts=fronts, image=None, labels=None, pixel_size_um=pixel_size_um,
        frame_interval_min=frame_interval_min, nucleus_diameter_um=d, geometry=geometry, params=p,
    )


def _strand_agents(
    rng: np.random.Generator,
    p: dict[str, Any],
    starts: np.ndarray,
    normals: np.ndarray | None,
    origin: np.ndarray,
) -> _Agents:
    """Leaders starting at ``starts`` (relative to ``origin``) with their follower chains."""
    n_frames, dt, d = p["n_frames"], p["frame_interval_min"], p["nucleus_diameter_um"]
    n = len(starts)
    if n == 0:
        return _static(np.zeros((0, n_frames, 2)), _LEADER)
    speed = p["leader_speed_um_per_min"] * rng.uniform(0.85, 1.15, n)
    heads = _walk(
        rng, starts, n_frames=n_frames, dt=dt, speed=speed,
        persistence_min=np.full(n, p["leader_persistence_min"]), bias_per_min=0.02,
        drift_um_per_min=0.0, normals=normals,
    )
    lo, hi = p["followers_per_leader"]
    parts = []
    for i in range(n):
        k = int(rng.integers(lo, hi + 1))
        back = -_outward(starts[i : i + 1], None if normals is None else normals[i : i + 1])[0]
        swap = None
        if p["turnover"] and k >= 1:
            swap = int(rng.integers(int(0.15 * n_frames), max(int(0.75 * n_frames), int(0.15 * n_frames) + 1)))
        pos, leading = _chain(
            heads[i], back, gaps_um=rng.uniform(1.0, 1.5, k) * d, width_um=p["strand_width_um"], swap_frame=swap,
            swap_frames=max(2, round(20.0 / dt)), lateral_um=0.7 * d,
        )
        if k:
            pos[1:] += _ou(rng, k, n_frames, sd_um=p["follower_noise_um"], tau_min=15.0, dt=dt)
        pos[0] += _ou(rng, 1, n_frames, sd_um=0.3 * p["follower_noise_um"], tau_min=15.0, dt=dt)[0]
        role = np.full((k + 1, n_frames), _FOLLOWER, dtype=np.int8)
        role[leading, np.arange(n_frames)] = _LEADER
        parts.append(_Agents(pos + origin, role, np.broadcast_to(leading, (k + 1, n_frames)).copy()))
    return _stack(parts)


def _decoy_agents(rng: np.random.Generator, p: dict[str, Any], starts: np.ndarray, normals: np.ndarray | None, origin: np.ndarray) -> _Agents:
    """Fast cells with low persistence, carried along by the advancing sheet."""
    n = len(starts)
    pos = _walk(
        rng, starts, n_frames=p["n_frames"], dt=p["frame_interval_min"],
        speed=p["leader_speed_um_per_min"] * rng.uniform(0.8, 1.3, n), persistence_min=rng.uniform(3.0, 12.0, n),
        bias_per_min=0.0, drift_um_per_min=p["front_speed_um_per_min"], normals=normals,
    )
    return _static(pos + origin, _DECOY)


def _clear(bulk: np.ndarray, others: np.ndarray, radius_um: float) -> np.ndarray:
    """Drop bulk cells whose start is within ``radius_um`` of another cell's start."""
    if len(others) == 0 or len(bulk) == 0:
        return bulk
    dist, _ = cKDTree(others[:, 0]).query(bulk[:, 0])
    return bulk[dist > radius_um]


def _front_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    cols = ["frame", "time_min", "front_id", "geometry", "front_position_um", "front_speed_um_per_min",
            "normal_y", "normal_x", "centre_y_um", "centre_x_um"]
    return pd.DataFrame(rows, columns=cols)


def _planar(rng: np.random.Generator, p: dict[str, Any], *, centre: np.ndarray, n_leaders: int | None, dflt: dict) -> tuple[_Agents, pd.DataFrame]:
    """One sheet (planar) or two facing sheets (scratch), coordinates relative to the field centre."""
    n_frames, dt, d = p["n_frames"], p["frame_interval_min"], p["nucleus_diameter_um"]
    height, width = p["field_um"]
    theta = np.deg2rad(p["outward_angle_deg"])
    normal0 = _unit(np.array(theta))
    tangent0 = np.array([normal0[1], -normal0[0]])
    extent = abs(height * normal0[0]) + abs(width * normal0[1])  # field extent along the normal
    span = abs(height * normal0[1]) + abs(width * normal0[0])  # ... and along the front
    half = 0.5 * np.hypot(height, width) + 2 * d
    duration = dt * (n_frames - 1)
    if p["geometry"] == "planar":
        normals = [normal0]
        f0s = [-extent / 2 + p["sheet_fraction"] * extent]
        # the sheet must not fill the field
        p["front_speed_um_per_min"] = min(p["front_speed_um_per_min"], 0.8 * (1 - p["sheet_fraction"]) * extent / duration)
    else:
        gap = extent * (1 - p["sheet_fraction"])
        normals = [normal0, -normal0]
        f0s = [-gap / 2, -gap / 2]
        # the gap closes by at most half; strands from both sides are 5 diameters apart along the front
        p["front_speed_um_per_min"] = min(p["front_speed_um_per_min"], 0.25 * gap / duration)
        p["leader_speed_um_per_min"] = min(p["leader_speed_um_per_min"], 0.55 * gap / duration)
    advance = p["front_speed_um_per_min"] * duration
    n_fronts = len(normals)
    count = n_leaders
    if count is None:
        count = rng.poisson(dflt["leaders_per_100um"] * span * n_fronts / 100)
    along = _spread(rng, count, length=0.84 * span, gap=5 * d) - 0.42 * span  # strand positions on the front
    sheet_of = rng.integers(0, n_fronts, len(along))
    parts_bulk, parts_other, rows = [], [], []
    for k, (normal, f0) in enumerate(zip(normals, f0s)):
        tangent = np.array([normal[1], -normal[0]])
        edge = _rough(rng, p["front_roughness_um"], periodic=False)
        sv = _hex_lattice(rng, (-half - advance - 2 * d, -half), (f0 + p["front_roughness_um"] + d, half), p["cell_spacing_um"])
        sv = sv[sv[:, 0] < f0 + edge(sv[:, 1])]
        start = sv[:, :1] * normal + sv[:, 1:] * tangent
        drift = np.arange(n_frames)[:, None] * dt * p["front_speed_um_per_min"] * normal
        bulk = start[:, None, :] + drift[None] + _ou(rng, len(start), n_frames, sd_um=p["jiggle_um"], tau_min=20.0, dt=dt)
        u = along[sheet_of == k] * (tangent @ tangent0)  # one along-front axis for both sheets
        strand_starts = (f0 + edge(u) - 0.3 * d)[:, None] * normal + u[:, None] * tangent
        strands = _strand_agents(rng, p, strand_starts, np.tile(normal, (len(u), 1)), centre)
        n_decoys = rng.poisson(p["decoys_per_100um"] * span / 100)
        ud = rng.uniform(-0.5 * span, 0.5 * span, n_decoys)
        decoy_starts = (f0 + edge(ud) + rng.uniform(-3 * d, 4 * d, n_decoys))[:, None] * normal + ud[:, None] * tangent
        decoys = _decoy_agents(rng, p, decoy_starts, np.tile(normal, (n_decoys, 1)), centre)
        others = np.concatenate([strands.pos, decoys.pos])
        parts_bulk.append(_static(_clear(bulk + centre, others, 0.8 * p["cell_spacing_um"]), _BULK))
        parts_other += [strands, decoys]
        for t in range(n_frames):
            rows.append(dict(
                frame=t, time_min=t * dt, front_id=k, geometry="planar",
                front_position_um=float(centre @ normal + f0 + p["front_speed_um_per_min"] * dt * t),
                front_speed_um_per_min=p["front_speed_um_per_min"], normal_y=float(normal[0]), normal_x=float(normal[1]),
                centre_y_um=np.nan, centre_x_um=np.nan,
            ))
    fronts = _front_table(rows).sort_values(["frame", "front_id"], ignore_index=True)
    return _stack(parts_bulk + parts_other), fronts


def _radial(rng: np.random.Generator, p: dict[str, Any], *, centre: np.ndarray, n_leaders: int | None, dflt: dict) -> tuple[_Agents, pd.DataFrame]:
    """A spheroid core near the field centre, strands invading outward."""
    n_frames, dt, d = p["n_frames"], p["frame_interval_min"], p["nucleus_diameter_um"]
    height, width = p["field_um"]
    origin = centre + rng.uniform(-0.05, 0.05, 2) * np.array([height, width])
    radius0 = 0.5 * min(height, width) * np.sqrt(p["sheet_fraction"]) * 0.9
    p["core_radius_um"] = float(radius0)
    # the spheroid stays a blob inside the field
    p["front_roughness_um"] = min(p["front_roughness_um"], 0.3 * radius0)
    p["front_speed_um_per_min"] = min(p["front_speed_um_per_min"], 0.3 * radius0 / (dt * (n_frames - 1)))
    edge = _rough(rng, p["front_roughness_um"], periodic=True)
    box = radius0 + p["front_roughness_um"] + d
    xy = _hex_lattice(rng, (-box, -box), (box, box), 0.85 * p["cell_spacing_um"])  # a projected ball: denser
    r0 = np.linalg.norm(xy, axis=1)
    xy = xy[r0 < radius0 + edge(np.arctan2(xy[:, 0], xy[:, 1]))]
    r0 = np.linalg.norm(xy, axis=1)
    times = np.arange(n_frames) * dt
    # the rim advances with the front, the inside hardly moves (the core stays dense)
    grow = 1 + np.multiply.outer(p["front_speed_um_per_min"] * r0**2 / radius0**3, times)
    bulk = xy[:, None, :] * grow[..., None] + _ou(rng, len(xy), n_frames, sd_um=p["jiggle_um"], tau_min=20.0, dt=dt)
    circumference = 2 * np.pi * radius0
    count = rng.poisson(dflt["leaders_per_100um"] * circumference / 100) if n_leaders is None else n_leaders
    angles = rng.uniform(0, 2 * np.pi) + _spread(rng, count, length=circumference - 5 * d, gap=5 * d) / radius0
    strand_starts = (radius0 + edge(angles) - 0.3 * d)[:, None] * _unit(angles)
    strands = _strand_agents(rng, p, strand_starts, None, origin)
    n_decoys = rng.poisson(p["decoys_per_100um"] * circumference / 100)
    ad = rng.uniform(0, 2 * np.pi, n_decoys)
    decoy_starts = (radius0 + edge(ad) + rng.uniform(-3 * d, 4 * d, n_decoys))[:, None] * _unit(ad)
    decoys = _decoy_agents(rng, p, decoy_starts, None, origin)
    others = np.concatenate([strands.pos, decoys.pos])
    bulk = _static(_clear(bulk + origin, others, 0.8 * p["cell_spacing_um"]), _BULK)
    rows = [
        dict(frame=t, time_min=t * dt, front_id=0, geometry="radial",
             front_position_um=float(radius0 + p["front_speed_um_per_min"] * t * dt),
             front_speed_um_per_min=p["front_speed_um_per_min"], normal_y=np.nan, normal_x=np.nan,
             centre_y_um=float(origin[0]), centre_x_um=float(origin[1]))
        for t in range(n_frames)
    ]
    return _stack([bulk, strands, decoys]), _front_table(rows)


def _milling(rng: np.random.Generator, p: dict[str, Any], *, centre: np.ndarray, n_leaders: int | None, dflt: dict) -> tuple[_Agents, pd.DataFrame]:
    """Cells scattered over the field, moving at random: nobody invades, nobody leads."""
    n_frames, dt = p["n_frames"], p["frame_interval_min"]
    height, width = p["field_um"]
    margin = 2 * p["leader_speed_um_per_min"] * dt * n_frames ** 0.5 + p["nucleus_diameter_um"]
    xy = _hex_lattice(rng, (-margin, -margin), (height + margin, width + margin), p["cell_spacing_um"] * 1.5)
    xy = xy[rng.random(len(xy)) < 0.6]
    fast = rng.random(len(xy)) < 0.15
    speed = np.where(fast, p["leader_speed_um_per_min"], 0.25 * p["leader_speed_um_per_min"]) * rng.uniform(0.7, 1.3, len(xy))
    pos = _walk(
        rng, xy - centre, n_frames=n_frames, dt=dt, speed=speed, persistence_min=rng.uniform(3.0, 40.0, len(xy)),
        bias_per_min=0.0, drift_um_per_min=0.0, normals=np.zeros((len(xy), 2)),
    ) + centre
    agents = _stack([_static(pos[~fast], _BULK), _static(pos[fast], _DECOY)])
    return agents, _front_table([])


# ----------------------------------------------------------------------------------------------
# truth tables


def _front_distance(y_um: np.ndarray, x_um: np.ndarray, frame: np.ndarray, fronts: pd.DataFrame) -> np.ndarray:
    """Truth distance to the nearest front (≥ 0 behind it), NaN without fronts."""
    if fronts.empty:
        return np.full(len(y_um), np.nan)
    dist = np.full(len(y_um), np.inf)
    for _, f in fronts.groupby("front_id"):
        f = f.set_index("frame")
        pos = f["front_position_um"].reindex(frame).to_numpy()
        if f["geometry"].iloc[0] == "planar":
            ny, nx = f["normal_y"].iloc[0], f["normal_x"].iloc[0]
            dd = pos - (y_um * ny + x_um * nx)
        else:
            dd = pos - np.hypot(y_um - f["centre_y_um"].iloc[0], x_um - f["centre_x_um"].iloc[0])
        dist = np.where(np.abs(dd) < np.abs(dist), dd, dist)
    return dist


def _role_code(role: pd.Series) -> np.ndarray:
    return pd.Categorical(role, categories=_ROLES).codes


def _tables(rng: np.random.Generator, agents: _Agents, fronts: pd.DataFrame, p: dict[str, Any], *, pixel_size_um: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split agents into in-field track segments (new id on re-entry) and build the truth tables."""
    height, width = p["field_um"]
    n, n_frames = agents.role.shape
    inside = (agents.pos[..., 0] >= 0) & (agents.pos[..., 0] < height) & (agents.pos[..., 1] >= 0) & (agents.pos[..., 1] < width)
    # a new segment starts wherever a cell (re-)enters the field
    starts = inside & ~np.concatenate([np.zeros((n, 1), bool), inside[:, :-1]], axis=1)
    segment = np.cumsum(starts.ravel()).reshape(n, n_frames)
    agent_idx, frame = np.nonzero(inside)
    seg = segment[agent_idx, frame]
    n_seg = int(segment.max()) if n else 0
    track_of_segment = np.concatenate([[0], rng.permutation(n_seg) + 1])
    track_id = track_of_segment[seg]
    role = agents.role[agent_idx, frame]
    tracks = pd.DataFrame({
        "track_id": track_id.astype(np.int64), "frame": frame.astype(np.int64),
        "time_min": frame * p["frame_interval_min"],
        "y_um": agents.pos[agent_idx, frame, 0], "x_um": agents.pos[agent_idx, frame, 1],
    })
    tracks["y"] = tracks["y_um"] / pixel_size_um
    tracks["x"] = tracks["x_um"] / pixel_size_um
    tracks["label"] = np.zeros(len(tracks), dtype=np.int64)
    tracks["is_leader"] = role == _LEADER
    tracks["role"] = _ROLES[role]
    tracks["front_distance_um"] = _front_distance(tracks["y_um"].to_numpy(), tracks["x_um"].to_numpy(), frame, fronts)
    leader_agent = agents.leader_of[agent_idx, frame]
    tracks = tracks.assign(_agent=agent_idx, _leader_agent=leader_agent)
    tracks = tracks.sort_values(["track_id", "frame"], ignore_index=True)

    grouped = tracks.groupby("track_id", sort=True)
    cells = grouped.agg(
        first_frame=("frame", "min"), last_frame=("frame", "max"), n_frames=("frame", "size"),
        n_leading=("is_leader", "sum"), agent=("_agent", "first"),
    ).reset_index()
    cells["leader_fraction"] = cells["n_leading"] / cells["n_frames"]
    cells["is_leader"] = (cells["leader_fraction"] >= LEADER_TRACK_MIN_FRACTION) & (cells["n_leading"] >= LEADER_TRACK_MIN_FRAMES)
    votes = np.zeros((len(cells), len(_ROLES)), dtype=np.int64)
    np.add.at(votes, (cells["track_id"].searchsorted(tracks["track_id"]), _role_code(tracks["role"])), 1)
    majority = _ROLES[votes.argmax(axis=1)]
    cells["role"] = np.where(cells["is_leader"], "leader", np.where(majority == "leader", "follower", majority))
    # the leader each follower trails: the track of that leader cell overlapping it longest
    follows = np.zeros(len(cells), dtype=np.int64)
    trailing = tracks[(tracks["_leader_agent"] >= 0) & (tracks["_leader_agent"] != tracks["_agent"])]
    if len(trailing):
        by_agent_frame = tracks.set_index(["_agent", "frame"])["track_id"]
        key = pd.MultiIndex.from_arrays([trailing["_leader_agent"], trailing["frame"]])
        target = by_agent_frame.reindex(key).to_numpy()
        pairs = pd.DataFrame({"track_id": trailing["track_id"].to_numpy(), "target": target}).dropna()
        if len(pairs):
            best = pairs.groupby("track_id")["target"].agg(lambda s: s.value_counts().index[0])
            row = cells.set_index("track_id").index.get_indexer(best.index)
            follows[row] = best.to_numpy().astype(np.int64)
    cells["follows_track_id"] = np.where(cells["is_leader"], 0, follows)
    cells["parent_track_id"] = 0
    cells = cells[["track_id", "first_frame", "last_frame", "n_frames", "is_leader", "leader_fraction", "role",
                   "follows_track_id", "parent_track_id"]]
    tracks = tracks.drop(columns=["_agent", "_leader_agent"])
    return tracks, cells


# ----------------------------------------------------------------------------------------------
# rendering


def _nucleus_patches(
    cy: np.ndarray, cx: np.ndarray, semi_major: np.ndarray, semi_minor: np.ndarray, angle: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixels of a local patch around each nucleus: flat index, normalised elliptic radius, validity, centre flag."""
    reach = int(np.ceil(semi_major.max() + 2.5)) if len(cy) else 1
    off = np.arange(-reach, reach + 1)
    iy = np.clip(np.rint(cy).astype(np.int64), 0, shape[0] - 1)
    ix = np.clip(np.rint(cx).astype(np.int64), 0, shape[1] - 1)
    py = iy[:, None, None] + off[None, :, None]
    px = ix[:, None, None] + off[None, None, :]
    ry = (py - cy[:, None, None]).astype(np.float32)
    rx = (px - cx[:, None, None]).astype(np.float32)
    s, c = np.sin(angle).astype(np.float32)[:, None, None], np.cos(angle).astype(np.float32)[:, None, None]
    along = ry * s + rx * c
    across = ry * c - rx * s
    radius = np.hypot(along / semi_major.astype(np.float32)[:, None, None], across / semi_minor.astype(np.float32)[:, None, None])
    valid = (py >= 0) & (py < shape[0]) & (px >= 0) & (px < shape[1])
    centre = np.zeros(radius.shape[1:], dtype=bool)
    centre[reach, reach] = True
    flat = np.clip(py, 0, shape[0] - 1) * shape[1] + np.clip(px, 0, shape[1] - 1)
    return flat, radius, valid, np.broadcast_to(centre, radius.shape)


def _ideal_masks(flat: np.ndarray, radius: np.ndarray, valid: np.ndarray, centre: np.ndarray, ids: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel goes to the nucleus it lies deepest inside; every shown nucleus owns its centre pixel.

    A nucleus whose centre pixel is taken by another (hidden under it) is left out. Returns the
    flat label image and a bool per nucleus: shown.
    """
    candidate = valid & ((radius <= 1.0) | centre)
    key = np.where(centre, -1.0, radius)
    owner = np.broadcast_to(ids[:, None, None], radius.shape)
    shown = np.ones(len(ids), dtype=bool)
    for _ in range(2):
        use = candidate & shown[:, None, None]
        f, o = flat[use], owner[use]
        # sort by pixel, then by depth (quantised into the low 12 bits of one integer key)
        order = np.argsort(f * 4096 + np.rint((key[use] + 1) * 2047).astype(np.int64))
        f, o = f[order], o[order]
        first = np.r_[True, f[1:] != f[:-1]]
        out = np.zeros(size, dtype=np.uint32)
        out[f[first]] = o[first]
        centre_flat = flat[:, centre[0]].ravel() if len(ids) else np.zeros(0, dtype=np.int64)
        keep = out[centre_flat] == ids
        if np.array_equal(keep, shown):
            break
        shown = keep
    return out, shown


def _grain(rng: np.random.Generator, shape: tuple[int, int], grain_px: float) -> np.ndarray:
    """Unit-variance noise with grains about ``grain_px`` pixels across (white below 2 px)."""
    if grain_px < 2:
        return rng.standard_normal(shape, dtype=np.float32)
    coarse = rng.standard_normal(tuple(int(np.ceil(n / grain_px)) + 1 for n in shape), dtype=np.float32)
    fine = ndimage.zoom(coarse, grain_px, order=1)[: shape[0], : shape[1]]
    return fine / max(float(fine.std()), 1e-6)


def _camera(rng: np.random.Generator, photons: np.ndarray, *, gain: float, read_noise: float, offset: float) -> np.ndarray:
    """Shot noise (exact Poisson below 30 photons, its Gaussian limit above) and read noise, as uint16 counts."""
    z = rng.standard_normal(photons.shape, dtype=np.float32)
    counts = offset + gain * photons + np.sqrt(gain * gain * photons + read_noise * read_noise) * z
    low = photons < 30
    counts[low] = offset + gain * rng.poisson(photons[low]) + read_noise * z[low]
    return np.clip(np.rint(counts), 0, np.iinfo(np.uint16).max).astype(np.uint16)


def render_movie(
    sim: Simulation,
    *,
    pixel_size_um: float | None = None,
    photons: float | None = None,
    background_fraction: float = 0.15,
    gradient: float = 0.3,
    read_noise: float | None = None,
    camera_offset: float = 100.0,
    counts_per_photon: float = 1.0,
    psf_sigma_um: float | None = None,
    brightness_range: float = 5.0,
    size_jitter: float = 0.2,
    max_aspect: float = 1.5,
    texture: float = 0.15,
    bleaching: float = 0.2,
    seed: int | None = 0,
    progress: Callable[[str, int, int], None] | None = None,
) -> Simulation:
    """Render a fluorescence movie of the nuclei and their ideal label masks.

    Nuclei are smooth ellipses (size ±``size_jitter``, aspect up to ``max_aspect``, random
    orientation) whose brightness varies up to ``brightness_range`` fold between cells, with a
    chromatin texture, blurred by a Gaussian PSF, on a background with a gentle gradient, with
    photobleaching, shot noise (Poisson; its Gaussian limit above 30 photons, for speed) and
    Gaussian read noise. Labels are the ideal masks, label =
    track id: each pixel goes to the nucleus it lies deepest inside, and a nucleus hidden under
    another has ``label`` 0 in ``tracks``.

    Parameters
    ----------
    sim
        From :func:`simulate_tracks`.
    pixel_size_um
        Pixel size; None keeps ``sim.pixel_size_um``.
    photons, read_noise, psf_sigma_um
        Peak photons of the dimmest nucleus, camera read noise (counts) and PSF sigma (µm);
        None = from ``sim.params["difficulty"]``.
    background_fraction, gradient, camera_offset, counts_per_photon
        Background photons as a fraction of ``photons``, its relative gradient across the field,
        the camera offset (counts) and gain (counts per photon).
    brightness_range, size_jitter, max_aspect, texture, bleaching
        Cell-to-cell brightness ratio, nucleus size spread, largest axis ratio, chromatin texture
        contrast, and the fraction of signal bleached by the last frame.
    seed
        Seed of the random generator.
    progress
        Called as ``progress("render", done, total)`` after each frame.

    Returns
    -------
    Simulation
        A copy with ``image`` (T, Y, X) uint16, ``labels`` (T, Y, X) uint32, and the ``y``, ``x``,
        ``label`` columns of ``tracks`` filled in.

    Examples
    --------
    >>> sim = render_movie(simulate_tracks(n_frames=3, field_um=(100.0, 120.0), seed=0), pixel_size_um=0.5)
    >>> sim.image.shape, sim.image.dtype
    ((3, 200, 240), dtype('uint16'))
    """
    rng = np.random.default_rng(seed)
    ps = sim.pixel_size_um if pixel_size_um is None else pixel_size_um
    look = _RENDER_DIFFICULTY[sim.params.get("difficulty", "medium")]
    photons = look["photons"] if photons is None else photons
    read_noise = look["read_noise"] if read_noise is None else read_noise
    psf_sigma_um = look["psf_sigma_um"] if psf_sigma_um is None else psf_sigma_um
    n_frames = int(sim.params["n_frames"])
    shape = tuple(int(np.ceil(f / ps - 1e-9)) for f in sim.params["field_um"])
    tracks = sim.tracks.copy()
    tracks["y"] = tracks["y_um"] / ps
    tracks["x"] = tracks["x_um"] / ps

    # one look per track
    n_ids = int(tracks["track_id"].max()) + 1 if len(tracks) else 1
    radius_px = 0.5 * sim.nucleus_diameter_um / ps * rng.uniform(1 - size_jitter, 1 + size_jitter, n_ids)
    aspect = np.sqrt(rng.uniform(1.0, max_aspect, n_ids))
    semi_major, semi_minor = np.maximum(radius_px * aspect, 0.6), np.maximum(radius_px / aspect, 0.6)
    angle = rng.uniform(0, np.pi, n_ids)
    brightness = np.exp(rng.uniform(0, np.log(brightness_range), n_ids)) * photons

    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]] / max(shape)
    direction = rng.uniform(0, 2 * np.pi)
    ramp = yy * np.sin(direction) + xx * np.cos(direction)
    background = background_fraction * photons * (1 + gradient * (ramp - ramp.mean()) / max(np.ptp(ramp), 1e-9))
    background = background.astype(np.float32)

    grain_px = sim.nucleus_diameter_um / ps / 8  # chromatin texture: about 8 grains across a nucleus
    image = np.empty((n_frames, *shape), dtype=np.uint16)
    labels = np.empty((n_frames, *shape), dtype=np.uint32)
    label_col = np.zeros(len(tracks), dtype=np.int64)
    frames = tracks["frame"].to_numpy()
    ids_all = tracks["track_id"].to_numpy()
    for t in range(n_frames):
        rows = np.flatnonzero(frames == t)
        ids = ids_all[rows]
        flat, radius, valid, centre = _nucleus_patches(
            tracks["y"].to_numpy()[rows], tracks["x"].to_numpy()[rows], semi_major[ids], semi_minor[ids], angle[ids], shape
        )
        lab, shown = _ideal_masks(flat, radius, valid, centre, ids, shape[0] * shape[1])
        labels[t] = lab.reshape(shape)
        label_col[rows] = np.where(shown, ids, 0)
        edge = np.clip((radius - 1.0) * (1.5 * semi_minor[ids]).astype(np.float32)[:, None, None], -30, 30)
        value = brightness[ids].astype(np.float32)[:, None, None] / (1 + np.exp(edge))
        signal = np.bincount(flat[valid], weights=value[valid], minlength=shape[0] * shape[1]).reshape(shape)
        signal = signal.astype(np.float32) * np.clip(1 + texture * _grain(rng, shape, grain_px), 0, None)
        signal *= 1 - bleaching * t / max(n_frames - 1, 1)
        if psf_sigma_um / ps >= 0.3:
            signal = ndimage.gaussian_filter(signal, psf_sigma_um / ps)
        image[t] = _camera(rng, signal + background, gain=counts_per_photon, read_noise=read_noise, offset=camera_offset)
        if progress is not None:
            progress("render", t + 1, n_frames)
    tracks["label"] = label_col
    params = dict(sim.params, pixel_size_um=ps, photons=photons, read_noise=read_noise, psf_sigma_um=psf_sigma_um,
                  background_fraction=background_fraction, gradient=gradient, counts_per_photon=counts_per_photon, brightness_range=brightness_range,
                  size_jitter=size_jitter, max_aspect=max_aspect, texture=texture, bleaching=bleaching, render_seed=seed)
    return dataclasses.replace(sim, tracks=tracks, image=image, labels=labels, pixel_size_um=ps, params=params)


def simulate_invasion(*, render: bool = True, pixel_size_um: float = 1.0, **kwargs: Any) -> Simulation:
    """Simulate an invasion assay: cell positions and truth, and (``render=True``) the movie.

    Keyword arguments go to :func:`simulate_tracks` or :func:`render_movie` by name (``seed``
    to both); see those for the options.

    Examples
    --------
    >>> sim = simulate_invasion(geometry="radial", n_frames=5, field_um=(200.0, 200.0), seed=3)
    >>> sim.labels.shape == sim.image.shape
    True
    """
    track_names = set(inspect.signature(simulate_tracks).parameters)
    render_names = set(inspect.signature(render_movie).parameters) - {"sim"}
    unknown = set(kwargs) - track_names - render_names
    if unknown:
        raise TypeError(f"simulate_invasion got unexpected options: {sorted(unknown)}")
    sim = simulate_tracks(pixel_size_um=pixel_size_um, **{k: v for k, v in kwargs.items() if k in track_names})
    if not render:
        return sim
    return render_movie(sim, pixel_size_um=pixel_size_um, **{k: v for k, v in kwargs.items() if k in render_names})


def random_scenario(seed: int, *, difficulty: str = "medium", geometry: str | None = None) -> dict[str, Any]:
    """Draw widely varied options for :func:`simulate_invasion` (for benchmarks and robustness tests).

    Varies geometry and orientation, density, speeds (leaders 0.2-1 µm/min), noise, strand count
    (0-15 % of the cells along the edge lead, at least one
    strand unless ``geometry`` is ``none``), chain length and width, frame interval (2-15 min),
    movie length (15-80 frames), pixel size (0.3-1.5 µm), nucleus diameter (6-15 µm) and imaging
    quality. ``difficulty`` widens the ranges toward more decoys, turnover, noise, density and a
    more ragged edge. Movies stay between about 160 and 512 px a side.

    Examples
    --------
    >>> options = random_scenario(7, geometry="radial")
    >>> sim = simulate_invasion(**options)
    >>> sim.geometry
    'radial'
    """
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {DIFFICULTIES}, not {difficulty!r}")
    level = DIFFICULTIES.index(difficulty)
    rng = np.random.default_rng(seed)
    if geometry is None:
        geometry = str(rng.choice(["planar", "planar", "scratch", "radial", "radial", "none"]))
    diameter = float(rng.uniform(6.0, 15.0))
    pixel = float(np.clip(rng.uniform(0.3, 1.5), diameter / 30, diameter / 5))  # nuclei 5-30 px across
    min_px = int(np.ceil(15 * diameter / pixel))  # at least 15 nuclei across
    field = tuple(float(max(n, min_px) * pixel) for n in rng.integers(160, 513, 2))
    interval = float(np.exp(rng.uniform(np.log(2.0), np.log(15.0))))
    leader_speed = float(rng.uniform(0.2, 1.0))
    # long enough for leaders to cover a useful part of the field
    n_frames = int(np.clip(rng.uniform(0.3, 0.8) * min(field) / (leader_speed * interval), 15, 80))
    duration = interval * (n_frames - 1)
    spacing = diameter * rng.uniform((1.2, 1.05, 0.9)[level], 1.5)
    options: dict[str, Any] = dict(
        geometry=geometry, n_frames=n_frames, field_um=field, frame_interval_min=interval,
        nucleus_diameter_um=diameter, pixel_size_um=pixel, difficulty=difficulty, seed=int(seed),
        outward_angle_deg=float(rng.choice([0.0, 90.0, 180.0, 270.0]) if rng.random() < 0.6 else rng.uniform(0, 360)),
        n_leaders=max(1, int(round(rng.uniform(0.0, 0.15) * max(field) / spacing))),  # "none" has no leaders
        followers_per_leader=(int(rng.integers(0, 3)), int(rng.integers(2, 6))),
        leader_speed_um_per_min=leader_speed,
        leader_persistence_min=float(rng.uniform((2.0, 1.0, 0.5)[level], 5.0) * duration),
        front_speed_um_per_min=float(leader_speed * rng.uniform(0.1, 0.4)),
        decoys_per_100um=float(rng.uniform(0.0, (0.5, 1.5, 3.0)[level])),
        turnover=bool(rng.random() < (0.0, 0.3, 0.7)[level]),
        cell_spacing_um=float(spacing),
        jiggle_um=float(diameter * rng.uniform(0.05, (0.12, 0.2, 0.3)[level])),
        follower_noise_um=float(diameter * rng.uniform(0.03, (0.08, 0.15, 0.25)[level])),
        strand_width_um=float(diameter * rng.uniform(0.0, 1.5) if rng.random() < 0.5 else 0.0),
        front_roughness_um=float(diameter * rng.uniform(0.2, (1.0, 2.5, 4.0)[level])),
        sheet_fraction=float(rng.uniform(0.25, 0.5)),
        photons=float(np.exp(rng.uniform(np.log((300.0, 100.0, 50.0)[level]), np.log((1500.0, 1000.0, 500.0)[level])))),
        read_noise=float(rng.uniform(1.0, (4.0, 8.0, 12.0)[level])),
        psf_sigma_um=float(rng.uniform(0.2, 1.2)),
        brightness_range=float(rng.uniform(1.5, 6.0)),
        texture=float(rng.uniform(0.05, 0.35)),
        gradient=float(rng.uniform(0.0, 0.6)),
        bleaching=float(rng.uniform(0.0, 0.4)),
    )
    return options


# ----------------------------------------------------------------------------------------------
# saving


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".ome.tiff", ".ome.tif", ".tiff", ".tif"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def save_simulation(sim: Simulation, path: str | Path, *, truth_dir: str | Path | None = None) -> None:
    """Write the movie as OME-TIFF with its units, and the truth beside it.

    Files: ``path`` (zlib-compressed OME-TIFF, axes TYX, ``PhysicalSizeX/Y`` in µm and
    ``TimeIncrement`` in min), and in ``truth_dir``: ``<stem>_truth_labels.tif`` (the ideal
    masks, label = track id), ``<stem>_truth_tracks.csv``, ``<stem>_truth_cells.csv``,
    ``<stem>_truth_fronts.csv`` and ``<stem>_truth_params.json``. Every file is written
    atomically.

    Parameters
    ----------
    sim
        A rendered simulation (:func:`simulate_invasion` or :func:`render_movie`).
    path
        The movie file, e.g. ``out/invasion_planar.ome.tif``; its folder must exist.
    truth_dir
        Folder for the truth files (created if missing); None = beside the movie. A separate
        folder keeps a batch run over the movie folder from taking the label stack for a movie.
    """
    import tifffile

    path = Path(path)
    if sim.image is None or sim.labels is None:
        raise ValueError("save_simulation needs a rendered simulation (render_movie)")
    folder = path.parent if truth_dir is None else Path(truth_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / _stem(path)
    metadata = {
        "axes": "TYX",
        "PhysicalSizeX": sim.pixel_size_um, "PhysicalSizeXUnit": "µm",
        "PhysicalSizeY": sim.pixel_size_um, "PhysicalSizeYUnit": "µm",
        "TimeIncrement": sim.frame_interval_min, "TimeIncrementUnit": "min",
    }

    def tiff(data: np.ndarray, predictor: bool) -> Callable[[Path], None]:
        # a UUID from the content (not the clock) keeps rewritten files byte-identical
        file_uuid = uuid.UUID(bytes=hashlib.md5(np.ascontiguousarray(data).data).digest())
        return lambda tmp: tifffile.imwrite(
            tmp, data, ome=True, metadata={**metadata, "Name": stem.name, "UUID": f"urn:uuid:{file_uuid}"}, compression="zlib",
            compressionargs={"level": 9}, predictor=predictor, photometric="minisblack",
        )

    atomic_write(path, tiff(sim.image, True))
    atomic_write(Path(f"{stem}_truth_labels.tif"), tiff(sim.labels, False))
    for name, table in (("tracks", sim.tracks), ("cells", sim.cells), ("fronts", sim.fronts)):
        atomic_write(Path(f"{stem}_truth_{name}.csv"), lambda tmp, table=table: table.to_csv(tmp, index=False, float_format="%.5g"))
    params = json.dumps(sim.params, indent=2, default=float)
    atomic_write(Path(f"{stem}_truth_params.json"), lambda tmp: tmp.write_text(params + "\n", encoding="utf-8"))

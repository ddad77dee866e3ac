"""Tracks as a graph of detections: edges out of (tracks, cells), tracklets out of edges.

Graph formats (GEFF, TrackMate XML) store one node per detection and one edge per link; a cell
division is a node with two outgoing edges. leadertrack stores one ``track_id`` per unbranched
piece (a tracklet) and a ``parent_track_id`` per track.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from leadertrack.errors import InputError

__all__ = ["parent_map", "track_edges", "tracklets_from_edges", "tracks_from_graph", "lineage_ids"]


def parent_map(cells: pd.DataFrame | None) -> dict[int, int]:
    """``{track_id: parent_track_id}`` for tracks that have a parent (empty without the column)."""
    if cells is None or "parent_track_id" not in cells:
        return {}
    pid = cells["parent_track_id"].fillna(0).astype(np.int64)
    return {int(t): int(p) for t, p in zip(cells["track_id"], pid) if p}


def track_edges(tracks: pd.DataFrame, parents: dict[int, int]) -> np.ndarray:
    """Row-position edges ``(source, target)`` of a tracks table sorted by ``track_id, frame``.

    Consecutive rows of a track are linked; a track with a parent is linked from the parent's
    last row to its own first row.

    Examples
    --------
    >>> t = pd.DataFrame({"track_id": [1, 1, 2, 3], "frame": [0, 1, 2, 2]})
    >>> track_edges(t, {2: 1, 3: 1}).tolist()
    [[0, 1], [1, 2], [1, 3]]
    """
    track = tracks["track_id"].to_numpy()
    same = np.flatnonzero(track[1:] == track[:-1])
    edges = [np.column_stack([same, same + 1])]
    if parents:
        first = pd.Series(np.arange(len(track))).groupby(track).first()
        last = pd.Series(np.arange(len(track))).groupby(track).last()
        children = [c for c in parents if c in first.index and parents[c] in last.index]
        edges.append(np.array([[last[parents[c]], first[c]] for c in children], dtype=np.int64).reshape(-1, 2))
    return np.concatenate(edges).astype(np.int64)


def tracklets_from_edges(
    n_nodes: int, edges: np.ndarray, frames: np.ndarray, *, source: str
) -> tuple[np.ndarray, dict[int, int]]:
    """Split a graph of detections into tracklets numbered from 1, and their parent links.

    Parameters
    ----------
    n_nodes
        Number of detections; ``edges`` index them from 0.
    edges
        ``(n_edges, 2)`` array of ``(source, target)`` node positions, source earlier in time.
    frames
        Frame of each node.
    source
        The file, for error messages.

    Returns
    -------
    tracklet : numpy.ndarray
        Tracklet number (≥ 1) of each node, numbered by first frame, then first node.
    parents : dict
        ``{tracklet: parent tracklet}`` for tracklets that start at a division (or after a
        link the graph cannot continue, e.g. the parent already continues elsewhere).

    Raises
    ------
    InputError
        An edge goes backwards in time or two edges merge into one node.

    Examples
    --------
    >>> tracklet, parents = tracklets_from_edges(4, np.array([[0, 1], [1, 2], [1, 3]]), np.array([0, 1, 2, 2]), source="x")
    >>> tracklet.tolist(), parents
    ([1, 1, 2, 3], {2: 1, 3: 1})
    """
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    src, dst = edges[:, 0], edges[:, 1]
    backwards = frames[dst] <= frames[src]
    if backwards.any():
        i = int(np.flatnonzero(backwards)[0])
        raise InputError(
            f"{source}: a link goes from frame {frames[src[i]]} to frame {frames[dst[i]]}; links must go forward in time"
        )
    in_degree = np.bincount(dst, minlength=n_nodes)
    if (in_degree > 1).any():
        node = int(np.flatnonzero(in_degree > 1)[0])
        raise InputError(f"{source}: two tracks merge into one detection in frame {frames[node]}; merges are not supported")
    out_degree = np.bincount(src, minlength=n_nodes)
    continues = out_degree[src] == 1
    graph = coo_matrix((np.ones(int(continues.sum())), (src[continues], dst[continues])), shape=(n_nodes, n_nodes))
    _, component = connected_components(graph, directed=True, connection="weak")
    order = pd.DataFrame({"component": component, "frame": frames, "node": np.arange(n_nodes)})
    first = order.groupby("component")[["frame", "node"]].min().sort_values(["frame", "node"])
    number = pd.Series(np.arange(1, len(first) + 1), index=first.index)
    tracklet = number.loc[component].to_numpy()
    parents = {int(tracklet[d]): int(tracklet[s]) for s, d in edges[~continues]}
    return tracklet, parents


def lineage_ids(track_ids: np.ndarray, parents: dict[int, int]) -> pd.Series:
    """The root track of each track's lineage, indexed by track id.

    Examples
    --------
    >>> lineage_ids(np.array([1, 2, 3, 4]), {2: 1, 3: 2}).tolist()
    [1, 1, 1, 4]
    """
    root = {}
    for track in np.unique(np.asarray(track_ids, dtype=np.int64)):
        node, seen = int(track), set()
        while node in parents and node not in seen:
            seen.add(node)
            node = parents[node]
        root[int(track)] = node
    return pd.Series(root, name="lineage_id")


def tracks_from_graph(
    n_nodes: int, edges: np.ndarray, frames: np.ndarray, *, given_ids: np.ndarray | None, source: str
) -> tuple[np.ndarray, dict[int, int]]:
    """Track id of each node and parent links, preferring ids stored in the file.

    Edges are first oriented forward in time.

    ``given_ids`` (e.g. a ``track_id`` node property written by leadertrack) are used when they
    still fit the graph: whole numbers ≥ 1, each id's nodes joined by a single path of edges,
    and each track entered by at most one edge from another track (its parent). Otherwise, for
    example after the tracks were edited in another tool, tracks are the graph's tracklets
    (:func:`tracklets_from_edges`).

    Examples
    --------
    >>> edges, frames = np.array([[0, 1], [1, 2]]), np.array([0, 1, 3])
    >>> tracks_from_graph(3, edges, frames, given_ids=np.array([7, 7, 9]), source="x")
    (array([7, 7, 9]), {9: 7})
    """
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    # Some tools (TrackMate) do not promise that an edge's source is the earlier detection.
    edges = np.where((frames[edges[:, 0]] > frames[edges[:, 1]])[:, None], edges[:, ::-1], edges)
    tracklet, parents = tracklets_from_edges(n_nodes, edges, frames, source=source)
    if given_ids is None:
        return tracklet, parents
    given = np.asarray(given_ids, dtype=float)
    if not np.isfinite(given).all() or (given < 1).any() or (given != np.round(given)).any():
        return tracklet, parents
    ids = given.astype(np.int64)
    inside = ids[edges[:, 0]] == ids[edges[:, 1]]
    sizes = pd.Series(ids).value_counts()
    links = pd.Series(ids[edges[inside, 0]]).value_counts().reindex(sizes.index, fill_value=0)
    crossing = edges[~inside]
    children = ids[crossing[:, 1]]
    first_node = pd.Series(frames).groupby(ids).idxmin()
    enters_at_start = (crossing[:, 1] == first_node.loc[children].to_numpy()).all() if len(crossing) else True
    if (links != sizes - 1).any() or len(np.unique(children)) != len(children) or not enters_at_start:
        return tracklet, parents
    return ids, {int(c): int(p) for p, c in zip(ids[crossing[:, 0]], children)}

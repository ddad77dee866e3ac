"""napari writer: save a leadertrack result (with the user's corrections) as a result folder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ._layers import RESULT_KEY

__all__ = ["write_result_folder"]


def write_result_folder(path: str, layer_data: list[tuple[Any, dict, str]]) -> list[str]:
    """Write the result carried by the selected tracks layer to the folder ``path``.

    The folder gets the files of :func:`leadertrack.pipeline.write_result` (``tracks.csv``,
    ``cells.csv``, ``fronts.csv``, ``labels.tif``, ``corrections.csv``, ``run.json``); an existing
    result folder of that name is replaced atomically (napari's save dialog has already asked).

    Raises
    ------
    FileExistsError
        ``path`` exists and is not a leadertrack result folder (it is never replaced).
    leadertrack.errors.InputError
        None of the selected layers holds a leadertrack result.
    """
    from leadertrack.errors import InputError
    from leadertrack.pipeline import write_result

    target = Path(path)
    results = [meta["metadata"][RESULT_KEY] for _, meta, _ in layer_data if RESULT_KEY in meta.get("metadata", {})]
    if not results:
        raise InputError(
            f"{target.name}: none of the selected layers holds a leadertrack result; "
            "select the '<movie> tracks' layer made by leadertrack"
        )
    folder = write_result(replace(results[0], name=target.name), target.parent, overwrite=True)
    return [str(folder)]

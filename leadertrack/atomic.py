"""Write a file or a folder atomically: into a hidden temporary sibling, then rename."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from leadertrack.errors import InputError

__all__ = ["atomic_write", "replace_path"]


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary sibling of ``path``, then move it to ``path``.

    Works for files and folders (zarr stores). An existing ``path`` is replaced only after
    ``write`` succeeded; on failure the temporary is removed and ``path`` is untouched. A folder is
    never replaced by a file (a report or a table written to a result folder's path by mistake):
    that is an :class:`~leadertrack.errors.InputError`, and the folder is kept.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write(out, lambda p: p.write_text("hi")).read_text()
    'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        write(tmp)
        if path.is_dir() and not tmp.is_dir():
            raise InputError(f"{path} is a folder; give a file name for this output (the folder is kept)")
        replace_path(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise
    return path


def replace_path(tmp: Path, path: Path) -> None:
    """Move the finished ``tmp`` (file or folder) to ``path``, replacing what is there.

    A folder in the way is first renamed aside and removed only after ``tmp`` took its place, so
    ``path`` is always either the old or the new content, never a mix.
    """
    if path.is_dir():
        trash = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(path, trash)
        os.replace(tmp, path)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, path)

"""Exceptions leadertrack raises for problems the user can fix."""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """An input file or table cannot be used; the message names the file and what is wrong.

    The command line prints the message as one line and exits non-zero, without a traceback.
    """

"""MkDocs hook: show Sphinx cross-reference roles in docstrings as plain code.

The docstrings use numpydoc/Sphinx roles (``:func:`measure```), which mkdocstrings renders
literally as ":func:" followed by the code; this drops the role and keeps the code.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|obj|exc|ref):(?=<code>)")


def on_page_content(html: str, **kwargs: Any) -> str:
    """Remove ``:role:`` prefixes in front of inline code."""
    return _ROLE.sub("", html)

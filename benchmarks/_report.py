"""Write one benchmark's results into its own section of ``docs/benchmarks.md``, and read them back.

Each benchmark script owns the text between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``,
so scripts can be rerun one at a time without clobbering each other's numbers. The figures
(``plots.py``) and the summary of the targets (``targets.py``) read the tables back from the
sections named here.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from leadertrack.atomic import atomic_write

BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
GEOMETRIES = ("planar", "scratch", "radial")
PERFECT_SECTIONS = ("leaders", "leaders-seeds-3000")
"""Sections of leader F1 from ground-truth tracks (``bench_leaders.py``), one per set of seeds."""
IMAGE_SECTIONS = ("pipeline", "pipeline-seeds-200", "pipeline-seeds-400")
"""Sections of leader F1 from images, whole spheroids and sheets (``bench_pipeline.py``), one per set of seeds."""
FOREIGN_SECTIONS = {"foreign": "7000-7019", "foreign-seeds-7100": "7100-7139", "foreign-seeds-7200": "7200-7239",
                    "foreign-seeds-7300": "7300-7339"}
"""Sections of leader F1 on the second simulator's movies (``bench_foreign.py``) and their seeds."""
TARGET_MEDIUM, TARGET_HARD = 0.95, 0.85
"""The issues' targets of leader F1 per track on medium and on hard movies."""
HEADER = "# Benchmarks\n\nWritten by the scripts in `benchmarks/` (`pip install -e '.[bench]'`, then `python benchmarks/run_all.py`). Ratios compare methods measured in the same run on the same machine.\n"


def machine_line() -> str:
    """One line describing when and where the numbers were measured."""
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"_Measured {when} on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}._"


def table(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A DataFrame as a GitHub markdown table."""
    cols = list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        cells = [format(v, floatfmt) if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def mean_ci95(values, *, resamples: int = 2000, seed: int = 0, signed: bool = False) -> str:
    """The 95 % bootstrap interval of the mean of ``values`` (one per movie; NaN left out), as ``"lo-hi"``
    (``signed``: ``"+lo to +hi"``, for differences).

    Movies differ far more than repeated runs of one movie, so this says how much a mean over this
    many movies could move with other seeds. Percentile bootstrap, resampling the movies. For the
    gain of a setting over its baseline on the same movies, pass the per-movie differences: the
    pairing takes out how much the movies differ, so the interval says whether the gain is real.

    Examples
    --------
    >>> mean_ci95([1.0, 1.0, 1.0])
    '1.000-1.000'
    >>> mean_ci95([0.0, 1.0] * 10)  # the mean's standard error is 0.11
    '0.250-0.750'
    >>> mean_ci95([-0.1, 0.0, 0.1, 0.2], signed=True)
    '-0.050 to +0.150'
    """
    data = np.asarray(values, float)
    data = data[np.isfinite(data)]
    if len(data) == 0:
        return "-"
    picks = np.random.default_rng(seed).integers(0, len(data), (resamples, len(data)))
    low, high = np.percentile(data[picks].mean(axis=1), [2.5, 97.5])
    return f"{low:+.3f} to {high:+.3f}" if signed else f"{low:.3f}-{high:.3f}"


def paired_gain_ci95(on: pd.DataFrame, off: pd.DataFrame, keys: list[str], column: str = "f1") -> str:
    """:func:`mean_ci95` of the per-movie gain ``on - off`` in ``column``, movies matched by ``keys``.

    Examples
    --------
    >>> on = pd.DataFrame({"seed": [1, 2], "f1": [1.0, 0.5]})
    >>> off = pd.DataFrame({"seed": [2, 1], "f1": [0.5, 0.5]})  # another order: matched by seed
    >>> paired_gain_ci95(on, off, ["seed"])
    '+0.000 to +0.500'
    """
    both = on[[*keys, column]].merge(off[[*keys, column]], on=keys, suffixes=("_on", "_off"), validate="one_to_one")
    return mean_ci95(both[f"{column}_on"] - both[f"{column}_off"], signed=True)


def with_interval(summary: pd.DataFrame, runs: pd.DataFrame, keys: list[str], column: str = "f1") -> pd.DataFrame:
    """``summary`` (one row per value of ``keys``) with ``<column>_ci95`` after ``column``: :func:`mean_ci95`
    of ``column`` over the ``runs`` (one row per movie) of each row.

    Examples
    --------
    >>> runs = pd.DataFrame({"geometry": ["a", "a", "b"], "f1": [1.0, 1.0, 0.5]})
    >>> with_interval(runs.groupby("geometry", as_index=False)["f1"].mean(), runs, ["geometry"]).to_dict("records")
    [{'geometry': 'a', 'f1': 1.0, 'f1_ci95': '1.000-1.000'}, {'geometry': 'b', 'f1': 0.5, 'f1_ci95': '0.500-0.500'}]
    """
    name = f"{column}_ci95"
    intervals = runs.groupby(keys)[column].agg(mean_ci95).rename(name).reset_index()
    out = summary.merge(intervals, on=keys, how="left")
    order = list(summary.columns)
    order.insert(order.index(column) + 1, name)
    return out[order]


def section(name: str, path: Path = BENCHMARKS_MD) -> str | None:
    """The text of section ``name`` of ``docs/benchmarks.md`` (None when it is not there)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        return None
    return text.split(start, 1)[1].split(end, 1)[0]


def read_tables(markdown: str) -> list[pd.DataFrame]:
    """The markdown tables of ``markdown`` (as :func:`table` writes them), in order; numbers as numbers.

    Examples
    --------
    >>> tables = read_tables(table(pd.DataFrame({"geometry": ["planar"], "f1": [0.9]})))
    >>> tables[0].to_dict("records")
    [{'geometry': 'planar', 'f1': 0.9}]
    """
    tables, rows = [], []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
            continue
        if len(rows) >= 2:
            if len(set(rows[0])) != len(rows[0]):
                raise ValueError(f"a table's columns repeat a name: {rows[0]}")
            frame = pd.DataFrame(rows[2:], columns=rows[0])
            for column in frame.columns:
                numbers = pd.to_numeric(frame[column], errors="coerce")
                if numbers.notna().all():
                    frame[column] = numbers
            tables.append(frame)
        rows = []
    return tables


def write_section(name: str, markdown: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace (or append) the section ``name`` of ``docs/benchmarks.md`` atomically."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    block = f"{start}\n{markdown.strip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_measured_section(name: str, heading: str, *parts: str, path: Path = BENCHMARKS_MD) -> None:
    """Write section ``name``: ``## heading``, when and where it was measured (:func:`machine_line`), then ``parts``
    (paragraphs and tables, in order)."""
    write_section(name, "\n\n".join([f"## {heading}", machine_line(), *parts]), path)


def section_tables(name: str, path: Path = BENCHMARKS_MD) -> list[pd.DataFrame]:
    """The tables of section ``name`` (none when the section is missing)."""
    text = section(name, path)
    return read_tables(text) if text is not None else []


def first_tables(names: Iterable[str], path: Path = BENCHMARKS_MD) -> dict[str, pd.DataFrame]:
    """The first table of each of the sections ``names`` that exist, by section name."""
    return {name: tables[0] for name in names if (tables := section_tables(name, path))}


def column_values(tables: dict[str, pd.DataFrame], column: str, geometry: str, difficulty: str | None = None) -> list[float]:
    """``column`` of the rows of ``geometry`` (and ``difficulty``, when given) in each of ``tables`` that has it.

    Examples
    --------
    >>> tables = {"a": pd.DataFrame({"geometry": ["planar", "radial"], "difficulty": ["hard", "hard"], "f1": [0.5, 0.9]}),
    ...           "b": pd.DataFrame({"geometry": ["planar"], "difficulty": ["easy"], "f1": [1.0]})}
    >>> column_values(tables, "f1", "planar"), column_values(tables, "f1", "planar", "hard")
    ([0.5, 1.0], [0.5])
    """
    out = []
    for t in tables.values():
        if column not in t:
            continue
        rows = t["geometry"] == geometry
        if difficulty is not None:
            rows &= t["difficulty"] == difficulty
        out += [float(v) for v in t.loc[rows, column]]
    return out

"""The documentation cannot rot: the site builds strictly, its Python examples run, its command
lines name real commands and options, and every output column is documented."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
CODE_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", flags=re.S | re.M)


def _blocks(page: str, language: str) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    return [code for lang, code in CODE_BLOCK.findall(text) if lang == language]


def _run_page(page: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Execute the page's python blocks in order, in one namespace, inside ``folder``."""
    monkeypatch.chdir(folder)
    namespace: dict = {"__name__": f"docs.{page}"}
    blocks = _blocks(page, "python")
    assert blocks, f"{page} has no python examples"
    for i, code in enumerate(blocks):
        exec(compile(code, f"{DOCS / page} (python block {i + 1})", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """docs/python.md run once, start to end, in a fresh folder."""
    folder = tmp_path_factory.mktemp("python_md")
    with pytest.MonkeyPatch.context() as monkeypatch:
        return _run_page("python.md", folder, monkeypatch), folder


def test_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")
    pytest.importorskip("mkdocstrings", reason="mkdocstrings is not installed (pip install -e '.[docs]')")
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(REPO / "mkdocs.yml"), "--site-dir", str(site)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (site / "leaders" / "index.html").exists()
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    assert "analyze_movie" in api and "write_report" in api  # the reference is generated from docstrings


def test_python_walkthrough_runs(walkthrough: tuple[dict, Path]) -> None:
    """The walk-through's objects and files exist (how many leaders it finds is classify's business)."""
    namespace, folder = walkthrough
    result = namespace["result"]
    assert len(result.cells) > 0
    assert (folder / "speed_vs_front.png").stat().st_size > 0
    written = folder / "results" / result.name
    for name in ("tracks.csv", "cells.csv", "fronts.csv", "run.json", "report.html"):
        assert (written / name).exists(), name
    assert set(namespace["leaders"]) >= {"precision", "recall", "f1"} and namespace["leaders"]["n_true"] == 3
    assert namespace["again"].leaders == result.leaders
    assert namespace["not_a_leader"] not in namespace["corrected"].leaders
    assert (written / "report.html").resolve() in {(folder / page).resolve() for page in namespace["pages"]}


def test_every_output_column_is_documented(walkthrough: tuple[dict, Path]) -> None:
    result = walkthrough[0]["result"]
    page = (DOCS / "outputs.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z0-9_]+)`", page))
    for table in ("tracks", "cells", "fronts"):
        missing = sorted(set(getattr(result, table).columns) - documented)
        assert not missing, f"{table}.csv columns missing from docs/outputs.md: {missing}"
    missing = sorted(set(walkthrough[0]["summary"].columns) - documented)
    assert not missing, f"summary.csv columns missing from docs/outputs.md: {missing}"
    missing = sorted(set(result.provenance) - documented)
    assert not missing, f"run.json keys missing from docs/outputs.md: {missing}"


def _formats_checks(namespace: dict) -> None:
    assert namespace["found"].pixel_size_um == pytest.approx(0.5)
    assert {"leader_score", "is_leader", "reason"} <= set(namespace["cells"].columns)


PAGE_CHECKS = {"formats.md": _formats_checks}
"""What each page's examples must have produced, beyond running without an error."""
PAGES_WITH_CODE = sorted(
    p.name for p in DOCS.glob("*.md") if p.name not in ("python.md", "napari.md") and _blocks(p.name, "python")
)  # python.md: the walkthrough fixture; napari.md: GUI snippets need a viewer (the plugin's tests drive them)


@pytest.mark.parametrize("page", PAGES_WITH_CODE)
def test_page_examples_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    namespace = _run_page(page, tmp_path, monkeypatch)
    PAGE_CHECKS.get(page, lambda ns: None)(namespace)


def _cli_lines() -> list[tuple[str, str]]:
    lines = []
    for page in sorted(p.name for p in DOCS.glob("*.md")):
        for code in _blocks(page, "bash"):
            for line in code.splitlines():
                line = line.split("#")[0].strip()
                if line.startswith("leadertrack "):
                    lines.append((page, line))
    return lines


@pytest.mark.parametrize(("page", "line"), _cli_lines())
def test_documented_command_lines_are_valid(page: str, line: str) -> None:
    """Every ``leadertrack ...`` line in the docs names a real command and real options."""
    import typer

    from leadertrack.cli import app

    group = typer.main.get_command(app)
    words = shlex.split(line.split(">")[0])[1:]
    if words == ["--help"]:
        return
    command = group.commands.get(words[0])
    assert command is not None, f"{page}: `{line}`: no command {words[0]!r}"
    known = {opt for param in command.params for opt in [*param.opts, *param.secondary_opts] if opt.startswith("-")}
    known.add("--help")
    unknown = [w for w in words[1:] if w.startswith("--") and w not in known]
    assert not unknown, f"{page}: `{line}`: unknown option(s) {unknown}"


def test_every_leader_criterion_is_documented() -> None:
    from leadertrack.classify import CRITERIA

    page = (DOCS / "leaders.md").read_text(encoding="utf-8")
    missing = [name for name in CRITERIA if f"`{name}`" not in page or f"`frac_{name}`" not in page]
    assert not missing, f"docs/leaders.md does not describe the criteria {missing}"


def test_every_parameter_is_documented() -> None:
    from leadertrack.config import RunConfig

    page = (DOCS / "parameters.md").read_text(encoding="utf-8")
    missing = [
        f"[{section}] {name}"
        for section, field in RunConfig.model_fields.items()
        for name in type(getattr(RunConfig(), section)).model_fields
        if f"`[{section}] {name}`" not in page
    ]
    assert not missing, f"docs/parameters.md does not list {missing}"


def test_every_library_module_is_in_the_architecture_table() -> None:
    page = (DOCS / "architecture.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([\w/]+?)(?:\.py)?/?` \|", page, flags=re.M))
    package = REPO / "leadertrack"
    modules = {path.stem for path in package.glob("*.py") if not path.stem.startswith("_")}
    modules |= {path.name for path in package.iterdir() if (path / "__init__.py").is_file()}
    missing = sorted(modules - listed)
    assert not missing, f"docs/architecture.md does not say what {missing} do"

"""Run every benchmark with the settings behind ``docs/benchmarks.md`` and rewrite its sections.

One process per script, one after the other, so that each measures on a quiet machine; a script
that fails is reported and the others still run (exit status 1 at the end). About two hours on
2 cores: the simulated movies of the leader sections take most of it, and the 2,000-frame movie of
``bench_batch.py --long`` about a quarter of an hour (leave it out with ``--no-long``). The CTC benchmark skips itself when ``../shared/data/ctc`` is absent (its
``--simulated`` run needs no data). Last, ``targets.py`` writes where each target of the issues stands
and ``plots.py`` draws the figures of the new numbers.

Run: ``python benchmarks/run_all.py [--no-long] [--dry-run]``
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

COMMANDS: list[list[str]] = [
    ["bench_ctc.py"],
    ["bench_ctc.py", "--simulated", "3"],
    ["bench_leaders.py", "--seeds", "16"],
    ["bench_leaders.py", "--seeds", "16", "--first-seed", "3000"],
    ["bench_duration.py", "--seeds", "16"],
    ["bench_contrast.py", "--seeds", "16"],
    ["bench_units.py", "--seeds", "8"],
    ["bench_diameter.py", "--seeds", "40"],
    ["bench_segmentation.py"],
    ["bench_pipeline.py", "--seeds", "5"],
    ["bench_pipeline.py", "--seeds", "5", "--first-seed", "200", "--skip-speed"],
    ["bench_pipeline.py", "--seeds", "5", "--first-seed", "400", "--skip-speed"],
    ["bench_pipeline.py", "--seeds", "5", "--cut", "--skip-speed"],
    ["bench_pipeline.py", "--seeds", "5", "--cut", "--first-seed", "200", "--skip-speed"],
    ["bench_pipeline.py", "--seeds", "5", "--nucleus-px", "40", "--skip-speed"],
    ["bench_pipeline.py", "--seeds", "5", "--nucleus-px", "10", "--skip-speed"],
    ["bench_pipeline.py", "--seeds", "5", "--nucleus-px", "5", "--skip-speed"],
    ["bench_jitter.py", "--seeds", "5", "--foreign-movies", "10"],
    ["bench_background.py", "--seeds", "5", "--foreign-movies", "10"],
    ["bench_glow.py", "--seeds", "10"],
    ["bench_null.py", "--seeds", "20", "--foreign-movies", "20"],
    ["bench_foreign.py", "--movies", "20"],
    ["bench_foreign.py", "--movies", "40", "--first-seed", "7100"],
    ["bench_foreign.py", "--movies", "40", "--first-seed", "7200"],
    ["bench_foreign.py", "--movies", "40", "--first-seed", "7300"],
    ["bench_motile.py", "--movies", "15"],
    ["bench_model.py", "--movies", "10", "--draws", "10"],
    ["bench_batch.py", "--long"],
    ["targets.py"],  # then the summary of the targets ...
    ["plots.py"],  # ... and the figures of the numbers just written
]
"""Script and arguments of each benchmark, in the order they run."""
PEERS = ("laptrack", "ctc_metrics")
"""Modules the benchmarks compare with or score by, beyond leadertrack's own dependencies
(``pip install -e '.[bench]'``)."""


def missing_modules(names: tuple[str, ...]) -> list[str]:
    """The modules of ``names`` that cannot be imported here."""
    return [name for name in names if importlib.util.find_spec(name) is None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-long", action="store_true", help="bench_batch without the 2,000-frame movie")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    commands = [[a for a in c if not (args.no_long and a == "--long")] for c in COMMANDS]
    missing = missing_modules(PEERS)
    if missing and not args.dry_run:
        print(f"the benchmarks need {', '.join(missing)}: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    failed = []
    for command in commands:
        line = [sys.executable, str(HERE / command[0]), *command[1:]]
        print("$ python benchmarks/" + " ".join(command), flush=True)
        if args.dry_run:
            continue
        start = time.perf_counter()
        status = subprocess.run(line).returncode
        print(f"  exit {status} after {time.perf_counter() - start:.0f} s", flush=True)
        if status != 0:
            failed.append(command[0])
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

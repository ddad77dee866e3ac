"""``python -m leadertrack`` runs the command line."""

from leadertrack.cli import app

app(prog_name="leadertrack")

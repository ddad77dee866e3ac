"""Take the screenshots in docs/images/ of the napari plugin on the simulated sample movie.

    python scripts/screenshots.py            # needs a display; starts Xvfb itself when there is none

Builds a viewer, opens the sample data, runs the widget, selects the most doubtful track and
saves ``docs/images/napari_*.png`` so the pictures in ``docs/napari.md`` stay current.
"""

from __future__ import annotations

import os
import sys
from contextlib import nullcontext
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "docs" / "images"


def _display():
    """A virtual display when there is no real one (CI, servers)."""
    if os.environ.get("DISPLAY") or sys.platform != "linux":
        return nullcontext()
    from pyvirtualdisplay import Display

    return Display(visible=False, size=(1600, 1000))


def main() -> None:
    with _display():
        import napari
        from qtpy.QtCore import QEventLoop
        from qtpy.QtWidgets import QApplication

        from leadertrack_napari._sample import planar_invasion
        from leadertrack_napari._widget import LeaderTrackWidget

        OUT.mkdir(parents=True, exist_ok=True)
        viewer = napari.Viewer(show=True, title="leadertrack")
        viewer.window._qt_window.resize(1600, 1000)
        [(data, kwargs, _)] = planar_invasion()
        viewer.add_image(data, **kwargs)
        widget = LeaderTrackWidget(viewer)
        viewer.window.add_dock_widget(widget, name="Find leader cells", area="right")
        widget.run()
        finished = QEventLoop()
        widget.worker.finished.connect(finished.quit)
        finished.exec_()
        QApplication.processEvents()
        if widget.result is None:
            raise SystemExit(f"the analysis did not finish: {widget.status.text()}")
        middle = int(widget.result.tracks["frame"].max()) // 2
        viewer.dims.set_current_step(0, middle)
        viewer.screenshot(str(OUT / "napari_result.png"), canvas_only=False, flash=False)

        widget.select_next_doubtful()
        QApplication.processEvents()
        viewer.screenshot(str(OUT / "napari_review.png"), canvas_only=False, flash=False)
        viewer.screenshot(str(OUT / "napari_canvas.png"), canvas_only=True, flash=False)
        widget.plots.figure.savefig(OUT / "napari_plots.png", dpi=110)
        print(f"wrote {sorted(p.name for p in OUT.glob('napari_*.png'))} to {OUT}")
        viewer.close()


if __name__ == "__main__":
    main()

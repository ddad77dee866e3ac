"""Take the screenshots in docs/images/ of the napari plugin on the simulated sample movie.

    python scripts/screenshots.py      # on a machine without a screen it re-runs itself under xvfb-run

Builds a viewer, opens the sample data, runs the widget, selects the most doubtful track and
saves ``docs/images/napari_*.png`` so the pictures in ``docs/napari.md`` stay current.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "docs" / "images"


def _close_notifications(viewer) -> None:
    """Close the pop-up notifications so they do not cover the pictures."""
    from napari._qt.dialogs.qt_notification import NapariQtNotification

    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()


def main() -> None:
    if sys.platform == "linux" and not os.environ.get("DISPLAY"):
        if shutil.which("xvfb-run") is None:
            raise SystemExit("no display and no xvfb-run: install Debian's xvfb package")
        os.execvp("xvfb-run", ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, *sys.argv])

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
    name = widget.result.name
    viewer.layers.selection.active = viewer.layers[f"{name} tracks"]
    viewer.dims.set_current_step(0, int(widget.result.tracks["frame"].max()) // 2)
    viewer.reset_view()
    _close_notifications(viewer)
    QApplication.processEvents()
    viewer.screenshot(str(OUT / "napari_result.png"), canvas_only=False, flash=False)

    widget.select_next_doubtful()
    viewer.scene.camera.zoom *= 2.0
    viewer.layers.selection.active = viewer.layers[f"{name} tracks"]
    _close_notifications(viewer)
    QApplication.processEvents()
    viewer.screenshot(str(OUT / "napari_review.png"), canvas_only=False, flash=False)
    widget.plots.figure.savefig(OUT / "napari_plots.png", dpi=100)
    print(f"wrote {sorted(p.name for p in OUT.glob('napari_*.png'))} to {OUT}")
    viewer.close()


if __name__ == "__main__":
    main()

"""napari plugin for leadertrack (imported as ``leadertrack_napari``)."""

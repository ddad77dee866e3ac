import pandas as pd

from leadertrack.units import add_physical_columns, honest_column_names


def test_physical_columns_scale_positions_times_and_areas():
    table = pd.DataFrame({"frame": [0, 3], "z": [1.0, 2.0], "y": [2.0, 4.0], "x": [10.0, 0.0], "area_px": [4, 8]})
    out = add_physical_columns(table, pixel_size_um=0.5, frame_interval_min=2.0)
    assert out["time_min"].tolist() == [0.0, 6.0]
    assert out["z_um"].tolist() == [0.5, 1.0]
    assert out["x_um"].tolist() == [5.0, 0.0]
    assert out["area_um2"].tolist() == [1.0, 2.0]
    assert "time_min" not in table  # input untouched


def test_honest_names_only_rename_what_is_uncalibrated():
    columns = ["speed_um_per_min", "area_um2", "front_distance_um", "time_min", "persistence_time_min", "track_id"]
    assert honest_column_names(columns, space_calibrated=True, time_calibrated=True) == {}
    space = honest_column_names(columns, space_calibrated=False, time_calibrated=True)
    assert space == {"speed_um_per_min": "speed_px_per_min", "area_um2": "area_px2", "front_distance_um": "front_distance_px"}
    both = honest_column_names(columns, space_calibrated=False, time_calibrated=False)
    assert both["speed_um_per_min"] == "speed_px_per_frame"
    assert both["time_min"] == "time_frame"
    assert both["persistence_time_min"] == "persistence_time_frames"


def test_a_density_per_volume_is_named_in_pixels_without_a_pixel_size():
    from leadertrack.units import honest_column_names

    names = honest_column_names(["local_density_per_1000um3", "local_density_per_100um2"], space_calibrated=False,
                                time_calibrated=True)
    assert names == {"local_density_per_1000um3": "local_density_per_1000px3", "local_density_per_100um2": "local_density_per_100px2"}

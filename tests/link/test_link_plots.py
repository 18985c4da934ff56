"""Plots return figures, save files and draw the shipped map outline."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from qentangle.link.plots import (
    plot_geometry,
    plot_ground_track,
    plot_loss,
    plot_qber,
    plot_rates,
    save_pass_plots,
    world_outline,
)
from qentangle.scenarios import load_scenario


def test_every_plot_returns_a_figure_and_saves(tmp_path):
    scenario = load_scenario("micius-2017")
    slices = scenario.physics()
    stations = (scenario.alice, scenario.bob)
    for fig in (plot_geometry(slices, stations), plot_loss(slices, stations), plot_rates(slices),
                plot_qber(slices), plot_ground_track(slices, stations)):
        assert isinstance(fig, Figure)
    paths = save_pass_plots(slices, stations, tmp_path / "plots", prefix="m17-")
    assert len(paths) == 5
    assert all(p.is_file() and p.stat().st_size > 10_000 for p in paths)


def test_world_outline_covers_china():
    lon, lat = world_outline()
    inside = (lon > 73) & (lon < 135) & (lat > 18) & (lat < 54)
    assert inside.sum() > 100
    assert np.nanmin(lon) >= -180 and np.nanmax(lon) <= 180

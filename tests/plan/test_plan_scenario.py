"""Planning files: the shipped presets, marked inputs, Walker-delta elements and one-line errors."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import resources

import numpy as np
import pytest

from qentangle.errors import ValidationError
from qentangle.plan.scenario import (
    ConstellationConfig,
    list_plan_presets,
    load_plan,
    parse_plan,
    walker_delta,
)

pytestmark = pytest.mark.timeout(120)

MINIMAL = """
[constellation]
planes = 1
satellites_per_plane = 2

[[stations]]
name = "A"
latitude_deg = 40.0
longitude_deg = 10.0

[[stations]]
name = "B"
latitude_deg = 42.0
longitude_deg = 12.0
"""


def test_presets_load_with_the_acceptance_sizes():
    assert list_plan_presets() == ["europe-12", "europe-4"]
    big = load_plan("europe-12")
    assert (len(big.satellites), len(big.stations), len(big.pairs)) == (12, 10, 45)
    assert big.period.days == 365 and big.period.slice_s == 1.0
    small = load_plan("europe-4")
    assert (len(small.satellites), len(small.stations), len(small.pairs)) == (2, 4, 6)


@pytest.mark.parametrize("name", ["europe-4", "europe-12"])
def test_every_input_of_a_preset_is_marked(name):
    text = (resources.files("qentangle.plan") / "presets" / f"{name}.toml").read_text("utf-8")
    unmarked = [
        line
        for line in text.splitlines()
        if re.match(r"^\s*\w+\s*=", line)
        and not re.search(r"#.*\[[PSRADT]\]", line)
        and not line.startswith(("name", "description", "reference"))
    ]
    assert unmarked == []


def test_walker_delta_spreads_nodes_and_phases():
    config = ConstellationConfig(
        planes=3, satellites_per_plane=4, phasing=1, altitude_km=550.0, inclination_deg=53.0
    )
    sats = walker_delta(config, load_plan("europe-4").period.start_utc)
    raan = np.array([float(s.line2[17:25]) for s in sats])
    anomaly = np.array([float(s.line2[43:51]) for s in sats])
    assert np.allclose(raan, np.repeat([0.0, 120.0, 240.0], 4))
    # satellite s of plane p: 360 s / 4 + 360 * F * p / 12
    expected = (np.tile([0.0, 90.0, 180.0, 270.0], 3) + np.repeat([0.0, 30.0, 60.0], 4)) % 360
    assert np.allclose(anomaly, expected)
    assert all(float(s.line2[8:16]) == 53.0 for s in sats)


def test_minimal_file_uses_defaults():
    plan = parse_plan(MINIMAL)
    assert len(plan.satellites) == 2 and plan.pairs == [(0, 1)]
    assert plan.stations[0].cloud_free == (1.0,) * 12


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (("[constellation]", "[constellation]\ncolour = 'red'"), "constellation.colour"),
        (("planes = 1", "planes = -2"), "constellation.planes=-2"),
        (("satellites_per_plane = 2", "satellites_per_plane = -1"), "constellation.satellites_per_plane=-1"),
        (("planes = 1", "planes = 1\naltitude_km = 120.0"), "constellation.altitude_km=120.0"),
        (("latitude_deg = 40.0", "latitude_deg = 95.0"), "stations.A.latitude_deg=95.0"),
        (("longitude_deg = 12.0", "longitude_deg = 12.0\nmirror = 2"), "stations.B.mirror"),
        (("longitude_deg = 12.0", "longitude_deg = 12.0\ncloud_free = 1.5"), "stations.B.cloud_free=1.5"),
        (("longitude_deg = 12.0", "longitude_deg = 12.0\ncloud_free = [0.5, 0.5]"), "stations.B.cloud_free"),
        (("[constellation]", "[period]\ndays = -3\n[constellation]"), "period.days=-3"),
        (("[constellation]", "[payload]\nmax_links = 0\n[constellation]"), "payload.max_links=0"),
        (("[constellation]", "[schedule]\nrule = 'fastest'\n[constellation]"), "schedule.rule='fastest'"),
        (("[constellation]", "[weather]\n[constellation]"), "weather is not a known section"),
    ],
)
def test_bad_files_get_one_line_naming_the_field(edit, field):
    old, new = edit
    with pytest.raises(ValidationError) as info:
        parse_plan(MINIMAL.replace(old, new, 1))
    message = str(info.value)
    assert field in message and "\n" not in message


def test_tle_file_satellites_and_their_errors(tmp_path):
    sats = walker_delta(
        ConstellationConfig(planes=1, satellites_per_plane=2), load_plan("europe-4").period.start_utc
    )
    good = tmp_path / "good.tle"
    good.write_text("".join(f"SAT {i}\n{s.line1}\n{s.line2}\n" for i, s in enumerate(sats)))
    text = MINIMAL.replace("planes = 1\nsatellites_per_plane = 2", 'tle_files = ["good.tle"]')
    plan_path = tmp_path / "plan.toml"
    plan_path.write_text(text)
    plan = load_plan(plan_path)
    assert [s.name for s in plan.satellites] == ["SAT 0", "SAT 1"]
    bad = tmp_path / "bad.tle"
    bad.write_text(sats[0].line1[:-1] + "0\n" + sats[0].line2 + "\n")  # corrupted checksum
    plan_path.write_text(text.replace("good.tle", "bad.tle"))
    with pytest.raises(ValidationError, match=r"constellation.tle_files\[0\].*checksum"):
        load_plan(plan_path)


def test_cli_bad_file_exits_2_with_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(MINIMAL.replace("latitude_deg = 40.0", "latitude_deg = 95.0"))
    proc = subprocess.run(
        [sys.executable, "-m", "qentangle.cli.main", "plan", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "stations.A.latitude_deg=95.0" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_cli_bad_option_exits_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "qentangle.cli.main", "plan", "europe-4", "--workers", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--workers=0" in proc.stderr

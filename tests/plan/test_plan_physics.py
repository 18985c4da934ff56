"""The planner against the single-pass model and against closed forms for weather and night.

Closed forms (one satellite, one station pair, key_rule = "pass"):

* Weather: each station's night is clear with probability q, independently, so a pass counts
  with probability q^2 and the year's key K(q) has mean q^2 K(1) and variance
  q^2 (1 - q^2) sum_n k_n^2 (k_n: the key of night n with every night clear). Checked over
  three seeds within 4 standard errors.
* Night: with a daylight background that swamps the link, key is made only while the Sun is
  low at both stations. Both are dark (Sun below -12 deg) for the overlap of two intervals
  centred on local midnight, of half-length H = arccos((sin h0 - sin phi sin d) / (cos phi cos d))
  (hour angle; h0 = -12 deg, declination d of each day), shifted by the longitude difference.
  The inclined orbit (60 deg) sweeps the pass times through the solar day about five times a
  year, so the fraction of pass time in the dark follows the year-averaged overlap; the
  tolerance 0.03 covers that finite sampling of the solar day (not a random error).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from qentangle.link.passes import Window
from qentangle.plan import run_plan
from qentangle.plan.scenario import pass_scenario
from qentangle.scenarios.compare import expected_key
from qentangle.scenarios.simulate import run_pass

pytestmark = pytest.mark.timeout(300)


def _with_cloud_free(plan, q):
    import dataclasses

    stations = tuple(dataclasses.replace(s, cloud_free=(q,) * 12) for s in plan.stations)
    return dataclasses.replace(plan, stations=stations)


def test_a_planned_pass_equals_the_pass_model_on_the_same_window(client, one_pair):
    result = run_plan(one_pair, seed=3, client=client, progress=False)
    rows = result.passes
    keyed = np.flatnonzero((rows["final_key_bits"] > 0) & (rows["served_s"] == rows["visible_s"]))
    assert keyed.size >= 2
    for i in keyed:
        start, end = float(rows["start_s"][i]), float(rows["end_s"][i])
        scenario = pass_scenario(one_pair, int(rows["satellite"][i]), int(rows["pair"][i]), start, end)
        slices = scenario.physics(window=Window(one_pair.period.start_utc, start, end))
        summary = slices.summary(0.5)
        key = expected_key(summary, scenario.protocol)
        sifted = summary["sifted_rate_hz"] * summary["duration_s"]
        assert rows["served_s"][i] == pytest.approx(summary["duration_s"], rel=1e-12)
        assert rows["sifted_bits"][i] == pytest.approx(sifted, rel=1e-9)
        assert rows["errors"][i] / rows["sifted_bits"][i] == pytest.approx(summary["qber"], rel=1e-9)
        assert rows["final_key_bits"][i] == key["final_key_bits"]


def test_a_planned_pass_matches_qentangle_pass_on_the_same_inputs(client, one_pair):
    """run_pass finds the window itself (edges refined below a second): within 1 %."""
    result = run_plan(one_pair, seed=3, client=client, progress=False)
    rows = result.passes
    i = int(np.argmax(rows["final_key_bits"]))
    scenario = pass_scenario(
        one_pair,
        int(rows["satellite"][i]),
        int(rows["pair"][i]),
        float(rows["start_s"][i]),
        float(rows["end_s"][i]),
    )
    expected = run_pass(scenario, seed=1, progress=False).to_dict()["expected"]
    assert expected["duration_s"] == pytest.approx(rows["visible_s"][i], abs=1.0)
    assert expected["expected_sifted_bits"] == pytest.approx(rows["sifted_bits"][i], rel=0.01)
    assert expected["qber"] == pytest.approx(rows["errors"][i] / rows["sifted_bits"][i], rel=0.01)
    assert expected["final_key_bits"] == pytest.approx(rows["final_key_bits"][i], rel=0.03)


def _both_dark_fraction(plan) -> float:
    """Year-averaged fraction of the day when the Sun is below -12 deg at both stations."""
    days = np.arange(math.ceil(plan.period.days)) + 0.5
    start = plan.period.start_utc.timetuple().tm_yday
    declination = np.radians(23.44) * np.sin(2 * np.pi * (start + days - 81) / 365.25)
    h0 = np.radians(-12.0)
    half = []
    for s in plan.stations:
        phi = np.radians(s.station.latitude_deg)
        cos_h = (np.sin(h0) - np.sin(phi) * np.sin(declination)) / (np.cos(phi) * np.cos(declination))
        half.append(np.pi - np.arccos(np.clip(cos_h, -1.0, 1.0)))
    shift = np.radians(abs(plan.stations[0].station.longitude_deg - plan.stations[1].station.longitude_deg))
    overlap = np.minimum(half[0], shift + half[1]) - np.maximum(-half[0], shift - half[1])
    return float(np.mean(np.maximum(overlap, 0.0)) / (2 * np.pi))


def test_key_follows_the_night_fraction_over_a_year(client, one_pair):
    import dataclasses

    plan = one_pair.with_period(days=365.0, chunk_days=30.0)
    auto = run_plan(plan, seed=1, client=client, progress=False).passes
    always_night = dataclasses.replace(plan, period=dataclasses.replace(plan.period, background="night"))
    night = run_plan(always_night, seed=1, client=client, progress=False).passes
    closed = _both_dark_fraction(plan)
    assert 0.3 < closed < 0.45
    assert auto["night_s"].sum() / auto["visible_s"].sum() == pytest.approx(closed, abs=0.03)
    # every pass makes key with a night background; by day none does, at twilight some
    assert night["served_s"].sum() == pytest.approx(night["visible_s"].sum(), rel=0.01)
    ratio = auto["final_key_bits"].sum() / night["final_key_bits"].sum()
    assert ratio == pytest.approx(closed, abs=0.03)


def test_key_follows_the_cloud_free_fraction(client, one_pair):
    import dataclasses

    plan = one_pair.with_period(days=240.0, chunk_days=30.0)
    plan = dataclasses.replace(plan, period=dataclasses.replace(plan.period, background="night"))
    clear = run_plan(plan, seed=1, client=client, progress=False).passes
    nights = clear["night"]
    per_night = np.bincount(nights - nights.min(), clear["final_key_bits"].astype(float))
    total = per_night.sum()
    q = 0.6
    mean, sd = q**2 * total, math.sqrt(q**2 * (1 - q**2) * np.sum(per_night**2))
    assert sd > 0
    keys = []
    for seed in (11, 22, 33):
        rows = run_plan(_with_cloud_free(plan, q), seed=seed, client=client, progress=False).passes
        keys.append(rows["final_key_bits"].sum())
        assert abs(keys[-1] - mean) <= 4 * sd, (keys[-1], mean, sd)
        # clear-sky time follows the same law
        assert rows["clear_s"].sum() / rows["visible_s"].sum() == pytest.approx(q**2, abs=0.1)
    assert abs(np.mean(keys) - mean) <= 4 * sd / math.sqrt(len(keys))
    assert len(set(keys)) == 3  # the seed changes the weather

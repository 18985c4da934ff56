"""Click streams of a scenario's pass or of a fixed link, and the pass run through them.

:func:`click_model` turns a preset (a satellite scenario or the fixed ``lab`` link) into the
:class:`~qentangle.timetags.streams.ClickModel` of its stations: transmittances, background and
slant-range delays per slice, the joint outcome table of the source's state at the protocol's
detector settings (closed form, :func:`qentangle.theory.predicted_distribution`), detectors
and clocks. :func:`run_pass_timetags` is ``qentangle pass SCENARIO --timetags``: the pass's
click streams, synchronised with the predicted path difference removed, coincidences, then the
scenario's protocol on them, as a :class:`~qentangle.scenarios.simulate.PassResult`.

Assumptions the scenarios do not state, marked [A] as in the presets: each detector's timing
jitter is 300 ps rms (so the coincidence peak is about 420 ps rms, well inside the presets'
2.5 ns window), its dead time 50 ns, the time tagger's bin 125 ps; the stations' clocks are
GPS-disciplined (the search for the offset is +-1 us, the drift bound 1e-4 ppm) and the
orbit prediction of the path difference is exact.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qentangle.errors import ValidationError, check_choice
from qentangle.link.physics import LinkSlices
from qentangle.noise import NoiseConfig
from qentangle.protocols.clicks import coincide, detector_maps, open_parties, protocol_on_coincidences
from qentangle.rng import SeedLike, seed_sequence
from qentangle.scenarios.compare import expected_key
from qentangle.scenarios.loader import apply_overrides, list_presets, load_scenario
from qentangle.scenarios.model import Scenario
from qentangle.scenarios.simulate import PassResult
from qentangle.theory import predicted_distribution
from qentangle.timetags.events import DetectorMap
from qentangle.timetags.formats import EXTENSIONS, ClickWriter, native_header
from qentangle.timetags.lab import FIXED_LINKS, FixedLink
from qentangle.timetags.streams import (
    SPEED_OF_LIGHT_M_S,
    ClickModel,
    DetectorModel,
    LinkProfile,
    StationModel,
    iter_clicks,
    relative_clocks,
    simulate_clicks,
)

PASS_JITTER_PS = 300.0  # [A]
PASS_DEAD_TIME_NS = 50.0  # [A]
PASS_SYNC = {"max_offset_s": 1e-6, "max_drift_ppm": 1e-4}  # [A] GPS-disciplined clocks
"""Synchronisation bounds for satellite passes (clocks disciplined by GPS, as at Micius)."""


def preset_names() -> list[str]:
    """Presets that make click streams: the fixed links and the satellite scenarios."""
    return [*FIXED_LINKS, *list_presets()]


@dataclass(frozen=True)
class ClickSetup:
    """A click model with what the analysis of its streams needs to know."""

    name: str
    model: ClickModel
    protocol: str
    state: str
    window_s: float
    sync_options: dict[str, Any]
    path_knots: tuple[np.ndarray, np.ndarray] | None = None
    """Predicted path difference: (Bob's clock readings in s, Bob's minus Alice's delay in s)."""

    def path_difference(self):
        """The predicted path difference as a function of Bob's times (ps), or ``None``."""
        if self.path_knots is None:
            return None
        knots_t, difference = self.path_knots
        return lambda b_ps: np.interp(np.asarray(b_ps, dtype=float) * 1e-12, knots_t, difference) * 1e12

    def analysis_options(self) -> dict[str, Any]:
        """``sync_options`` with the path difference (for :func:`qentangle.protocols.clicks.coincide`)."""
        return {**self.sync_options, "path_difference": self.path_difference()}


def joint_table(
    state: str, visibility: float, misalignment_deg: float, maps: tuple[DetectorMap, DetectorMap]
):
    """``joint[s_a, s_b, o_a, o_b]`` of a detected pair: Werner state, Bob's arm misaligned."""
    noise = NoiseConfig(depolarizing=1.0 - visibility, misalignment_b_deg=misalignment_deg)
    a = np.asarray(maps[0].angles)[:, None]
    b = np.asarray(maps[1].angles)[None, :]
    table = predicted_distribution(state, a, b, noise)
    return table.reshape(a.shape[0], b.shape[1], 2, 2)


def click_model(
    name: str | Scenario,
    *,
    protocol: str | None = None,
    offset_s: float = 0.0,
    drift_ppm: float = 0.0,
    duration_s: float | None = None,
    overrides: Sequence[str] = (),
    repetition: int = 0,
) -> ClickSetup:
    """The click model of a preset: ``lab`` or a satellite scenario (its pass ``repetition``).

    ``duration_s`` cuts the stream (default: 10 s for ``lab``, the whole pass otherwise);
    Bob's clock is ``t_B = t_A (1 + drift_ppm 1e-6) + offset_s``.
    """
    if isinstance(name, str) and name in FIXED_LINKS:
        return _fixed(FIXED_LINKS[name], protocol or "bbm92", offset_s, drift_ppm, duration_s or 10.0)
    if isinstance(name, str) and name not in list_presets() and not Path(name).is_file():
        raise ValidationError(
            f"scenario={name!r} is not a preset: expected one of {', '.join(preset_names())} "
            "or a path to a scenario .toml file"
        )
    scenario = name if isinstance(name, Scenario) else load_scenario(name)
    scenario = apply_overrides(scenario, list(overrides)) if overrides else scenario
    slices = scenario.physics(accumulate=True)
    return _pass(scenario, slices, protocol, offset_s, drift_ppm, duration_s, repetition)


def _fixed(
    link: FixedLink, protocol: str, offset_s: float, drift_ppm: float, duration_s: float
) -> ClickSetup:
    maps = detector_maps(protocol, link.state)
    clock_a, clock_b = relative_clocks(offset_s, drift_ppm)
    alice = StationModel("alice", maps[0], detectors=link.detectors, clock=clock_a)
    bob = StationModel("bob", maps[1], detectors=link.detectors, clock=clock_b)
    model = ClickModel.constant(
        pair_rate_hz=link.pair_rate_hz,
        eta_a=link.eta_a,
        eta_b=link.eta_b,
        duration_s=duration_s,
        background_a_hz=link.background_a_hz,
        background_b_hz=link.background_b_hz,
        delay_a_s=link.delay_a_s,
        delay_b_s=link.delay_b_s,
        joint=joint_table(link.state, link.visibility, 0.0, maps),
        alice=alice,
        bob=bob,
    )
    return ClickSetup(link.name, model, protocol, link.state, link.coincidence_window_ns * 1e-9, {})


def _pass(
    scenario: Scenario, slices: LinkSlices, protocol, offset_s, drift_ppm, duration_s, repetition
) -> ClickSetup:
    protocol = protocol or scenario.protocol.kind
    maps = detector_maps(protocol, slices.state)
    reps = int(slices.pass_index.max()) + 1
    if not 0 <= repetition < reps:
        raise ValidationError(f"repetition={repetition} is out of range: expected 0 <= repetition < {reps}")
    part = slices.pass_index == repetition
    dur = slices.duration_s[part]
    start = np.concatenate([[0.0], np.cumsum(dur)[:-1]])
    if duration_s is not None:
        keep = start < duration_s
        dur = np.minimum(dur[keep], duration_s - start[keep])
        start = start[keep]
    else:
        keep = np.ones(dur.size, bool)
    mid = start + dur / 2
    detectors = DetectorModel(
        dark_count_hz=scenario.detectors.dark_count_hz,
        jitter_ps=PASS_JITTER_PS,
        dead_time_ns=PASS_DEAD_TIME_NS,
    )
    dark = scenario.detectors.dark_rate_hz
    delay_a = slices.range_a_m[part][keep] / SPEED_OF_LIGHT_M_S
    delay_b = slices.range_b_m[part][keep] / SPEED_OF_LIGHT_M_S
    link = LinkProfile(
        start,
        dur,
        slices.eta_a[part][keep],
        slices.eta_b[part][keep],
        np.maximum(slices.noise_a_hz[part][keep] - dark, 0.0),
        np.maximum(slices.noise_b_hz[part][keep] - dark, 0.0),
        mid,
        delay_a,
        delay_b,
    )
    clock_a, clock_b = relative_clocks(offset_s, drift_ppm)
    # BBM92: a passive beam splitter sends a photon to the Z detectors with probability p_z
    split = (scenario.protocol.p_z, 1.0 - scenario.protocol.p_z) if protocol == "bbm92" else ()
    alice = StationModel("alice", maps[0], split, detectors=detectors, clock=clock_a)
    bob = StationModel("bob", maps[1], split, detectors=detectors, clock=clock_b)
    joint = joint_table(slices.state, 1.0 - slices.depolarizing, slices.misalignment_b_deg, maps)
    model = ClickModel(slices.pair_rate_hz, joint, alice, bob, link)
    # the orbit's prediction of the path difference, on Bob's clock (photons reach him at t + delay_b)
    knots_b = np.array([clock_b.reading_s(t + d) for t, d in zip(mid, delay_b, strict=True)])
    path = (knots_b, delay_b - delay_a)
    window = scenario.detectors.coincidence_window_s
    sync = dict(PASS_SYNC)
    if offset_s or drift_ppm:
        sync = {"max_offset_s": abs(offset_s) + 1e-6, "max_drift_ppm": abs(drift_ppm) + 1e-4}
    return ClickSetup(scenario.name, model, protocol, slices.state, window, sync, path)


# ------------------------------------------------------------------------------------- files
def write_streams(
    setup: ClickSetup,
    out_dir: str | Path,
    *,
    format: str = "native",
    seed: SeedLike = None,
    epoch_s: float = 1.0,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Simulate both stations' streams into ``out_dir/alice.*`` and ``out_dir/bob.*``.

    Both files appear together at the end (each written to a temporary file and renamed); an
    interrupt or error removes both temporaries. Returns what was written.
    """
    check_choice("format", format, ("qcrypto", "native"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = setup.model
    if format == "qcrypto":
        for m in (model.alice, model.bob):
            if m.detector_map.detectors > 4:
                raise ValidationError(
                    f"format='qcrypto' holds 4 detectors: protocol {setup.protocol!r} needs "
                    f"{m.detector_map.detectors}; use --format native"
                )
    paths = {side: out / f"{side}{EXTENSIONS[format]}" for side in ("alice", "bob")}
    headers = {}
    for side, station in (("alice", model.alice), ("bob", model.bob)):
        extra = {
            "protocol": setup.protocol,
            "state": setup.state,
            "coincidence_window_s": setup.window_s,
            "source": setup.name,
            "sync": setup.sync_options,
        }
        if side == "bob" and setup.path_knots is not None:
            extra["predicted_path_difference"] = {
                "clock_s": setup.path_knots[0].tolist(),
                "difference_s": setup.path_knots[1].tolist(),
            }
        headers[side] = native_header(
            station=side, detector_map=station.detector_map, clock=station.clock.to_dict(), extra=extra
        )
    writers = {side: ClickWriter(paths[side], format=format, header=headers[side]) for side in paths}
    try:
        for a, b in iter_clicks(model, seed, epoch_s=epoch_s, progress=progress):
            writers["alice"].write(a)
            writers["bob"].write(b)
        for writer in writers.values():
            writer.close()
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    return {
        "source": setup.name,
        "format": format,
        "duration_s": float(model.link.duration_s.sum()),
        "files": {side: str(paths[side]) for side in paths},
        "events": {side: writers[side].events for side in paths},
        "clock_model": {"offset_s": _clock_model(model)[0], "drift_ppm": _clock_model(model)[1]},
    }


def _clock_model(model: ClickModel) -> tuple[float, float]:
    """(offset_s, drift_ppm) of t_B = t_A (1 + drift) + offset for the model's two clocks."""
    a, b = model.alice.clock, model.bob.clock
    rate = (1 + b.drift_ppm * 1e-6) / (1 + a.drift_ppm * 1e-6)
    return b.offset_s - a.offset_s * rate, (rate - 1) * 1e6


def analysis_from_header(header: dict[str, Any]) -> dict[str, Any]:
    """Sync options a native file's header suggests (bounds, predicted path difference)."""
    options: dict[str, Any] = dict(header.get("sync") or {})
    path = header.get("predicted_path_difference")
    if path:
        knots, diff = np.asarray(path["clock_s"], dtype=float), np.asarray(path["difference_s"], dtype=float)
        options["path_difference"] = lambda b_ps: (
            np.interp(np.asarray(b_ps, dtype=float) * 1e-12, knots, diff) * 1e12
        )
    return options


# ------------------------------------------------------------------------------------- pass
def run_pass_timetags(
    scenario: str | Scenario,
    *,
    overrides: Sequence[str] = (),
    seed: SeedLike = None,
    progress: bool | None = None,
    epoch_s: float = 10.0,
    engine: Any = None,
) -> PassResult:
    """``qentangle pass SCENARIO --timetags``: the pass through click streams, then its protocol.

    Every repetition of the pass (``protocol.data_time_s``) gets its own streams, its own
    synchronisation and coincidences; the protocol runs once on all coincidences. The result has
    the keys of :func:`~qentangle.scenarios.simulate.run_pass`; ``accidental_coincidences`` are
    the ones measured in off-peak windows (rounded), ``true_coincidences`` the rest. ``engine``
    is accepted for the signature of ``run_pass`` and unused: outcomes come from the clicks.
    """
    started = time.perf_counter()
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    scenario = apply_overrides(scenario, list(overrides)) if overrides else scenario
    slices = scenario.physics(accumulate=True)
    config = scenario.protocol
    reps = int(slices.pass_index.max()) + 1
    stream_seed, protocol_seed = seed_sequence(seed).spawn(2)
    rep_seeds = stream_seed.spawn(reps)
    parties = open_parties(protocol_seed)
    matched = []
    for k in range(reps):
        setup = _pass(scenario, slices, config.kind, 0.0, 0.0, None, k)
        alice, bob = simulate_clicks(setup.model, rep_seeds[k], epoch_s=epoch_s)
        matched.append(
            coincide(
                parties,
                alice,
                bob,
                window_s=setup.window_s,
                epoch_s=epoch_s,
                sync_options=setup.analysis_options(),
                progress=progress,
                fallback=matched[-1].sync if matched else None,
            )
        )
    link = slices.summary(config.p_z if config.kind == "bbm92" else None)
    link.update(expected_key(link, config))
    options = config.key_options(qber_hint=float(np.clip(link["qber"], 0.001, 0.5)))
    run = protocol_on_coincidences(
        parties, matched, protocol=config.kind, state=slices.state, key_options=options, progress=progress
    )
    accidental = round(run.coincidences["accidentals"])
    total = run.coincidences["coincidences"]
    return PassResult(
        scenario=scenario.name,
        kind=config.kind,
        link=link,
        protocol=_ProtocolView(run),
        elapsed_s=time.perf_counter() - started,
        slices=slices,
        true_counts=np.array([total - accidental]),
        accidental_counts=np.array([accidental]),
        stations=scenario.stations,
    )


@dataclass(frozen=True)
class _ProtocolView:
    """A click run seen as the pass's protocol result: its ``to_dict`` carries ``timetags``."""

    run: Any

    @property
    def aborted(self) -> bool:
        return self.run.aborted

    def to_dict(self) -> dict[str, Any]:
        data = self.run.to_dict()
        if self.run.protocol == "chsh":
            data.setdefault("qber", (1.0 - data["S"] / (2.0 * math.sqrt(2.0))) / 2.0)
        return data


__all__ = [
    "ClickSetup",
    "analysis_from_header",
    "click_model",
    "joint_table",
    "preset_names",
    "run_pass_timetags",
    "write_streams",
]

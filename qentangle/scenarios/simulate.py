"""A satellite double-downlink pass, from orbit geometry to the final key.

Per time slice the link layer gives the rates of true and accidental coincidences. Counts are
drawn per slice (Poisson). True coincidences carry the source's own imperfection (visibility,
misalignment); accidental coincidences pair photons of different pairs, so their outcomes are
uncorrelated: they are fully mixed pairs (white noise). Loss is classical, noise is quantum: the
detected rounds then run through the same protocol code as any other run (BBM92, E91 or a CHSH
test), and the key stage distils the key accumulated over the whole data time.

:class:`PassResult` keeps the protocol's own typed result (``result.protocol``: a BBM92, E91
or Bell-test result). ``to_dict()`` always carries the keys of ``qentangle pass --json``; a
figure a protocol does not produce is ``None`` (a CHSH test has no sifted key; its ``qber`` is
the one implied by S). Under ``expected`` it gives the link model's expectations, with the
deterministic key figures of :func:`qentangle.scenarios.compare.expected_key` for BBM92.

Seed layout (:mod:`qentangle.rng`): the per-slice coincidence counts come from the seed's ``link``
stream; the protocol run gets the same seed and uses its ``alice``, ``bob``, ``nature`` and
``channel`` streams.

>>> result = run_pass("micius-2017", seed=1, overrides=["protocol.data_time_s=20"])
>>> result.kind, result.protocol.to_dict()["protocol"] == result.to_dict()["protocol_result"]["protocol"]
('chsh', True)
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qentangle.engines import Engine
from qentangle.errors import ValidationError
from qentangle.limits import LONG_RUN_S, Cost
from qentangle.link.physics import LinkSlices
from qentangle.noise import NoiseConfig
from qentangle.progress import note
from qentangle.protocols.keying import KeyOptions
from qentangle.rng import SeedLike, party_streams, seed_sequence
from qentangle.scenarios.compare import comparable_figures, expected_key, figure_spread
from qentangle.scenarios.loader import apply_overrides, load_scenario
from qentangle.scenarios.model import Scenario

__all__ = [
    "ACCIDENTAL", "DATA_TIME_COST", "FAIR_SAMPLING", "QBER_FROM_S", "PassResult", "run_pass", "seed_spread",
]

ACCIDENTAL = NoiseConfig(accidental=1.0)  # two photons of different pairs: uncorrelated
DATA_TIME_COST = Cost(bytes_per_unit=400.0, units_per_second=5e3, fixed_bytes=300e6)
"""Memory and time per second of simulated data time (measured on micius-2020, 2 cores: 330 B
and 7.7e3 data-seconds per second); a run that cannot fit is refused before any work."""
SLICE_COST = Cost(bytes_per_unit=4000.0, units_per_second=700.0, fixed_bytes=300e6)
"""Memory and time per time slice (measured: 1e4 slices of micius-2020 take 13 s and 32 MB)."""
QBER_FROM_S = "implied by S: (1 - S / 2 sqrt 2) / 2 (white noise on the pairs)"
"""How a CHSH pass's ``qber`` is obtained: its settings have no matched bases to count errors in."""
FAIR_SAMPLING = (
    "fair-sampling: S and its p-value use only the coincidences detected after the link's loss "
    "(tens of dB); they hold only if the detected pairs are a fair sample of those emitted "
    "(no detection-loophole-free test)"
)
"""The assumption under which a satellite pass's S, its rigorous p-value and a key bound from S hold."""


@dataclass(frozen=True)
class PassResult:
    """One simulated pass (or several accumulated). ``to_dict()`` is what ``qentangle pass`` prints.

    ``protocol`` is the protocol's typed result (``BBM92Result``, ``E91Result`` or the Bell
    test's result), with its own ``to_dict()``.
    """

    scenario: str
    kind: str
    link: dict[str, Any]
    protocol: Any
    elapsed_s: float
    slices: LinkSlices = field(repr=False, compare=False)
    true_counts: np.ndarray = field(repr=False, compare=False)
    accidental_counts: np.ndarray = field(repr=False, compare=False)
    stations: tuple = field(default=(), repr=False, compare=False)

    @property
    def duration_s(self) -> float:
        """Data time of the pass(es)."""
        return float(self.slices.total_duration_s)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary: measured figures first, the link model's expectations under ``expected``."""
        duration = self.duration_s
        true, accidental = int(self.true_counts.sum()), int(self.accidental_counts.sum())
        proto = self.protocol.to_dict()
        data: dict[str, Any] = {
            "scenario": self.scenario,
            "protocol": self.kind,
            "duration_s": duration,
            "passes": self.link["passes"],
            "loss_db_min": self.link["loss_db_min"],
            "loss_db_max": self.link["loss_db_max"],
            "channel_loss_db_min": self.link["channel_loss_db_min"],
            "channel_loss_db_max": self.link["channel_loss_db_max"],
            "range_sum_km_min": self.link["range_sum_km_min"],
            "range_sum_km_max": self.link["range_sum_km_max"],
            "coincidences": true + accidental,
            "true_coincidences": true,
            "accidental_coincidences": accidental,
            "coincidence_rate_hz": (true + accidental) / duration,
            "accidental_rate_hz": accidental / duration,
            "snr": true / accidental if accidental else math.inf,
        }
        if self.kind == "chsh":
            data.update(
                S=proto["S"],
                S_stderr=proto["S_stderr"],
                z_score=proto["z_score"],
                p_value_rigorous=proto["p_value_rigorous"],
                assumption=FAIR_SAMPLING,
                qber=(1.0 - proto["S"] / (2.0 * math.sqrt(2.0))) / 2.0,
                qber_source=QBER_FROM_S,
                sifted_bits=None,
                sifted_rate_hz=None,
                asymptotic_key_rate_bps=None,
                finite_key_rate_bps=None,
                final_key_bits=None,
            )
        else:
            data.update(
                sifted_bits=proto["sifted_bits"],
                sifted_rate_hz=proto["sifted_bits"] / duration,
                qber=proto["qber"],
                qber_source=(
                    f"measured on a disclosed sample of {proto['qber_sample_bits']} sifted bits"
                    if proto.get("qber_sample_bits")
                    else "measured: errors found by error correction on every sifted bit"
                ),
                asymptotic_key_bits=proto.get("asymptotic_key_bits", 0),
                asymptotic_key_rate_bps=proto.get("asymptotic_key_bits", 0) / duration,
                final_key_bits=proto.get("final_key_bits", 0),
                finite_key_rate_bps=proto.get("final_key_bits", 0) / duration,
                aborted=proto["aborted"],
                abort_reason=proto["abort_reason"],
            )
            if self.kind == "e91":
                data.update(S=proto["S"], S_stderr=proto["S_stderr"], assumption=FAIR_SAMPLING)
        data["elapsed_s"] = self.elapsed_s
        data["expected"] = self.link
        data["protocol_result"] = proto
        return data

    @property
    def aborted(self) -> bool:
        """Whether the protocol stopped by its own security rule (a CHSH test never aborts)."""
        return bool(getattr(self.protocol, "aborted", False))


def run_pass(
    scenario: str | Scenario,
    *,
    overrides: Sequence[str] = (),
    seed: SeedLike = None,
    engine: str | Engine = "exact",
    progress: bool | None = None,
) -> PassResult:
    """Simulate the scenario's pass(es): counts per slice, then its protocol on the detected pairs.

    ``scenario`` is a preset name (``micius-2017``, ``micius-2020``) or a TOML path or a
    :class:`~qentangle.scenarios.Scenario`; ``overrides`` are ``section.key=value`` strings.

    >>> result = run_pass("micius-2020", seed=1)
    >>> data = result.to_dict()
    >>> type(result.protocol).__name__, data["aborted"], data["protocol_result"]["keys_match"]
    ('BBM92Result', False, True)
    >>> 2.0 < data["coincidence_rate_hz"] < 2.3, 0.03 < data["qber"] < 0.06  # published: 2.2 Hz, 4.5 %
    (True, True)
    """
    started = time.perf_counter()
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    scenario = apply_overrides(scenario, list(overrides)) if overrides else scenario
    DATA_TIME_COST.check("protocol.data_time_s", scenario.protocol.data_time_s)
    _check_slices(scenario.protocol.data_time_s, scenario.protocol.slice_s)
    if DATA_TIME_COST.estimate(scenario.protocol.data_time_s)[1] > LONG_RUN_S:
        note(f"pass {scenario.name}: protocol.data_time_s={scenario.protocol.data_time_s:g} needs "
             f"{DATA_TIME_COST.describe(scenario.protocol.data_time_s)} (estimate)", progress=progress)
    slices = scenario.physics(accumulate=True)
    protocol_seed = seed_sequence(seed)  # one SeedSequence: party_streams gives the same streams twice
    rng = party_streams(protocol_seed).link
    expected = slices.expected_counts()
    true_counts = rng.poisson(expected["coincidences"])
    accidental_counts = rng.poisson(expected["accidentals"])
    source = NoiseConfig(depolarizing=slices.depolarizing, misalignment_b_deg=slices.misalignment_b_deg)
    schedule = [
        segment
        for n_true, n_acc in zip(true_counts.tolist(), accidental_counts.tolist(), strict=True)
        for segment in ((source, n_true), (ACCIDENTAL, n_acc))
        if segment[1] > 0
    ]
    if not schedule:
        raise ValidationError(f"scenario {scenario.name!r}: no coincidence was detected during the pass")
    config = scenario.protocol
    link = slices.summary(config.p_z if config.kind == "bbm92" else None)
    link.update(expected_key(link, config))
    common = dict(schedule=schedule, state=slices.state, engine=engine, seed=protocol_seed, progress=progress)
    if config.kind == "chsh":
        from qentangle.protocols.chsh import run_bell_test

        result = run_bell_test(**common)
    else:
        options = KeyOptions(
            ec=config.ec,
            eps_sec=config.eps_sec,
            eps_cor=config.eps_cor,
            estimation=config.resolved_estimation,
            qber_hint=float(np.clip(link["qber"], 0.001, 0.5)),
        )
        if config.kind == "bbm92":
            from qentangle.protocols.bbm92 import run_bbm92

            result = run_bbm92(p_z=config.p_z, key_options=options, **common)
        else:
            from qentangle.protocols.e91 import run_e91

            result = run_e91(key_options=options, **common)
    return PassResult(
        scenario=scenario.name,
        kind=config.kind,
        link=link,
        protocol=result,
        elapsed_s=time.perf_counter() - started,
        slices=slices,
        true_counts=true_counts,
        accidental_counts=accidental_counts,
        stations=scenario.stations,
    )


def _check_slices(data_time_s: float, slice_s: float) -> None:
    """Refuse a slice length that cuts the data time (a pass: up to ~1000 s) into too many slices."""
    slices = max(data_time_s, 1000.0) / slice_s
    if slices > SLICE_COST.largest():
        smallest = max(data_time_s, 1000.0) / max(SLICE_COST.largest(), 1)
        template = (
            f"{{name}}={slice_s:g} is too small: {slices:.3g} slices need {SLICE_COST.describe(slices)}; "
            f"expected {{name}} >= {smallest:.3g} on this machine"
        )
        raise ValidationError(template.replace("{name}", "protocol.slice_s"), param="protocol.slice_s",
                              template=template)


def seed_spread(
    name: str | Scenario, seeds: Iterable[int] = range(1, 9), overrides: Sequence[str] = ()
) -> dict[str, tuple[float, float, int]]:
    """:func:`~qentangle.scenarios.compare.figure_spread` of simulated passes, one per seed."""
    return figure_spread(
        [comparable_figures(run_pass(name, seed=s, overrides=overrides).to_dict()) for s in seeds]
    )

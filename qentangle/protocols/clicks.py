"""BBM92, E91 or a CHSH test run on two stations' detector clicks instead of drawn rounds.

Each station holds only its own click stream. What crosses between them goes through the
authenticated :class:`~qentangle.channel.ClassicalChannel` and is counted:

Bulk data (timestamps, indices) travel beside the channel, which carries and authenticates
their SHA-256 digests (:func:`send_bulk`), so the transcript holds one digest per message.

1. **Synchronisation.** Alice sends the timestamps of her first ``sync_span_s`` (no detector
   information); Bob finds the clock model with :func:`qentangle.timetags.sync.synchronize`
   and announces it.
2. **Coincidences**, epoch by epoch in Alice's time: Alice sends the epoch's timestamps, Bob
   matches them with his own (:func:`qentangle.timetags.coincidences.match`), keeps tracking the
   offset (the mean delay of each epoch's coincidences re-centres the window) and sends back
   the indices of Alice's coincident clicks. Each keeps the detector patterns of its own
   coincident clicks; Bob also counts accidentals in off-peak windows.
3. **Outcomes.** Each station turns its patterns into (setting, outcome) with its detector map;
   multi-clicks get a random setting among those that fired and a random outcome (squashing).
4. **Protocol.** BBM92: bases announced, matched ones kept, key from both bases
   (:func:`qentangle.protocols.keying.finish_key`). E91: settings announced, test outcomes
   revealed by Bob, S and the device-independent floor, then the key. CHSH: Bob reveals his
   settings and outcomes, Alice tallies S.

A pair straddling an epoch boundary (within half a window of it) is not matched: a fraction
window / epoch of the coincidences (1e-10 for 1 ns and 10 s).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from qentangle.analysis import analyse_chsh, chsh_lower_bound, chsh_orientation, tally
from qentangle.channel import ClassicalChannel
from qentangle.channel_transport import run_lockstep
from qentangle.distill.finite_key import device_independent_phase_error, phase_error_failure
from qentangle.errors import AuthenticationError, ValidationError, check_choice, check_range
from qentangle.params import Param
from qentangle.progress import progress_bar
from qentangle.protocols.bbm92 import BASES, BBM92Result, basis_fields
from qentangle.protocols.e91 import (
    ALICE_ANGLES,
    BOB_ANGLES,
    BOB_FRAME,
    CHSH_INPUTS_ALICE,
    KEY_ROUNDS,
    PHASE_ESTIMATES,
    TEST_PAIRS,
    E91Result,
)
from qentangle.protocols.keying import KeyOptions, block_plan, finish_key
from qentangle.protocols.results import RunSummary
from qentangle.protocols.sifting import bbm92_sift_party, e91_sift, e91_test_index
from qentangle.rng import SeedLike, party_streams
from qentangle.states import check_state, optimal_chsh_angles
from qentangle.timetags.coincidences import ClockModel, accidentals, match
from qentangle.timetags.events import Clicks, DetectorMap, resolve
from qentangle.timetags.sync import SyncError, SyncResult, synchronize

CLICK_PROTOCOLS = ("bbm92", "e91", "chsh")
TEST_SIGNS = np.array([1.0, -1.0, 1.0, 1.0])
TRACK_MIN_COINCIDENCES = 10
EPOCH_S = Param(
    "epoch_s",
    float,
    low=1e-3,
    high=1e4,
    default=10.0,
    unit="s",
    metavar="S",
    help="coincidences are found epoch by epoch (memory grows with the epoch, not the file)",
)
EDGE_MARGIN_PS = 1_000_000  # Bob reads 1 us beyond an epoch's mapped edges


class ClickSource(Protocol):
    """What the protocol reads of a station's data: a :class:`Clicks` or an opened file."""

    def between(self, t0_ps: int, t1_ps: int) -> Clicks: ...


def detector_maps(protocol: str, state: str = "psi+") -> tuple[DetectorMap, DetectorMap]:
    """The detector maps of Alice and Bob for ``protocol`` (passive choice at each station).

    BBM92: H, V, D, A at both. CHSH: the state's optimal angles (a, a') and (b, b'). E91: three
    settings each (six detectors: the native file format only).

    >>> [m.labels for m in detector_maps("bbm92")][0]
    ('H', 'V', 'D', 'A')
    """
    check_choice("protocol", protocol, CLICK_PROTOCOLS)
    state = check_state(state)
    if protocol == "bbm92":
        return DetectorMap.bbm92(), DetectorMap.bbm92()
    if protocol == "chsh":
        a, a2, b, b2 = optimal_chsh_angles(state)
        return DetectorMap.two_settings(a, a2), DetectorMap.two_settings(b, b2)
    sign, _ = BOB_FRAME[state]
    return DetectorMap.three_settings(ALICE_ANGLES), DetectorMap.three_settings(
        tuple(sign * b for b in BOB_ANGLES)
    )


@dataclass
class _Party:
    """One station in the protocol: its generator and the key bits it keeps."""

    name: str
    rng: np.random.Generator


@dataclass
class _Parties:
    """What :func:`finish_key` needs of a session: the channel and each party's generator."""

    channel: ClassicalChannel
    alice: _Party
    bob: _Party
    started: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class MatchedClicks:
    """One stretch of data after synchronisation and coincidence finding.

    ``patterns_a`` and ``patterns_b`` are each station's own detector patterns of the
    coincident clicks, in the same order (the simulation's view of both; in the protocol each
    side holds only its own); ``dt_ps`` the delays of the coincidences (Bob minus Alice).
    """

    sync: SyncResult
    patterns_a: np.ndarray = field(repr=False)
    patterns_b: np.ndarray = field(repr=False)
    dt_ps: np.ndarray = field(repr=False)
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClickRunResult:
    """A protocol run on clicks: synchronisation, coincidences and the protocol's own result."""

    protocol: str
    matched: tuple[MatchedClicks, ...] = field(repr=False)
    coincidences: dict[str, Any]
    result: Any = field(repr=False)
    """:class:`BBM92Result`, :class:`E91Result` or a CHSH figures dict."""

    @property
    def sync(self) -> SyncResult:
        """The (first) synchronisation."""
        return self.matched[0].sync

    @property
    def dt_ps(self) -> np.ndarray:
        """Delays of every coincidence (Bob minus Alice, ps)."""
        return np.concatenate([m.dt_ps for m in self.matched])

    @property
    def aborted(self) -> bool:
        """Whether the protocol stopped by its own rule (a CHSH test never aborts)."""
        return bool(getattr(self.result, "aborted", False))

    def to_dict(self) -> dict[str, Any]:
        """The protocol's JSON with a ``timetags`` section (sync, coincidences, channel costs)."""
        body = dict(self.result) if isinstance(self.result, dict) else self.result.to_dict()
        syncs = [m.sync.to_dict() for m in self.matched]
        return {**body, "timetags": {"sync": syncs[0] if len(syncs) == 1 else syncs, **self.coincidences}}


def open_parties(seed: SeedLike = None) -> _Parties:
    """Alice, Bob (their generators) and the authenticated channel between them.

    The streams follow :func:`qentangle.rng.party_streams` (alice, bob, channel), the one seed
    layout of every protocol.
    """
    streams = party_streams(seed)
    return _Parties(
        ClassicalChannel.with_random_key(streams.channel),
        _Party("alice", streams.alice),
        _Party("bob", streams.bob),
    )


def run_on_clicks(
    alice: ClickSource,
    bob: ClickSource,
    *,
    protocol: str = "bbm92",
    state: str = "psi+",
    maps: tuple[DetectorMap, DetectorMap] | None = None,
    key_options: KeyOptions | None = None,
    window_s: float | None = None,
    epoch_s: float = 10.0,
    sync_span_s: float | None = None,
    sync_options: dict[str, Any] | None = None,
    s_sigmas: float = 3.0,
    seed: SeedLike = None,
    progress: bool | None = None,
    key_rounds: str = "chsh-inputs",
) -> ClickRunResult:
    """Synchronise, find coincidences, sift and distil (or test CHSH) from two stations' clicks.

    ``window_s`` is the full coincidence width (default: the one the synchronisation measures,
    six peak widths). ``sync_options`` go to :func:`~qentangle.timetags.sync.synchronize`
    (``max_offset_s``, ``max_drift_ppm``, ``resolution_ps``, ``path_difference``, ``prior``).
    ``key_rounds`` is E91's choice of key rounds (see :func:`qentangle.protocols.e91.run_e91`).
    """
    check_choice("protocol", protocol, CLICK_PROTOCOLS)
    state = check_state(state)
    parties = open_parties(seed)
    matched = coincide(
        parties,
        alice,
        bob,
        window_s=window_s,
        epoch_s=epoch_s,
        sync_span_s=sync_span_s,
        sync_options=sync_options,
        progress=progress,
    )
    return protocol_on_coincidences(
        parties,
        [matched],
        protocol=protocol,
        state=state,
        maps=maps,
        key_options=key_options,
        s_sigmas=s_sigmas,
        progress=progress,
        key_rounds=key_rounds,
    )


def coincide(
    parties: _Parties,
    alice: ClickSource,
    bob: ClickSource,
    *,
    window_s: float | None = None,
    epoch_s: float = 10.0,
    sync_span_s: float | None = None,
    sync_options: dict[str, Any] | None = None,
    fallback: SyncResult | None = None,
    progress: bool | None = None,
) -> MatchedClicks:
    """Steps 1 and 2 of the module docstring over the parties' channel.

    ``fallback`` is a clock model to keep when this stretch alone holds too few coincidences to
    synchronise (a short tail of a pass, after an earlier pass set the clocks); its
    ``significance`` is then reported as NaN.
    """
    epoch_s = EPOCH_S.check(epoch_s)
    channel = parties.channel
    first_a, last_a = _bounds(alice)
    if last_a <= first_a:
        raise ValidationError("Alice's stream holds fewer than two clicks: nothing to synchronise")

    # 1. synchronisation: Alice's timestamps of the sync span go to Bob
    span_end = last_a + 1 if sync_span_s is None else min(last_a + 1, first_a + int(sync_span_s * 1e12))
    a_sync = alice.between(first_a, span_end).times_ps
    received = send_bulk(channel, "alice", "sync/timestamps", a_sync)
    options = dict(sync_options or {})
    prior = options.get("prior")
    centre = 0.0 if prior is None else prior.offset_ps
    reach = options.get("max_offset_s", 1.0) * 1e12 + options.get("max_drift_ppm", 10.0) * 1e-6 * abs(
        span_end
    )
    b_sync = bob.between(int(first_a + centre - reach - 1e9), int(span_end + centre + reach + 1e9)).times_ps
    try:
        sync = synchronize(received, b_sync, **options)
    except SyncError:
        if fallback is None:
            raise
        sync = replace(fallback, coincidences=0, accidentals=0.0, significance=math.nan, levels=0)
    channel.send("bob", "sync/model", {"offset_s": sync.offset_s, "drift_ppm": sync.drift_ppm})
    if window_s is None:
        window_ps = sync.window_s * 1e12
    else:
        window_ps = check_range("window_s", window_s, 0.0, 1e-3, low_open=True) * 1e12

    # 2. coincidences, epoch by epoch
    model = sync.model
    epoch_ps = int(epoch_s * 1e12)
    starts = list(range(first_a, last_a + 1, epoch_ps))
    pattern_a: list[np.ndarray] = []
    pattern_b: list[np.ndarray] = []
    delays: list[np.ndarray] = []
    totals = {"alice_clicks": 0, "bob_clicks": 0, "accidentals": 0.0}
    with progress_bar(len(starts), progress=progress, label="coincidences", unit="epoch") as bar:
        for t0 in starts:
            t1 = min(t0 + epoch_ps, last_a + 1)
            own_a = alice.between(t0, t1)
            times_at_bob = send_bulk(channel, "alice", "coincidence/timestamps", own_a.times_ps)
            own_b, b_alice = _bob_epoch(bob, model, t0, t1)
            ia, ib, dt = match(times_at_bob, b_alice, window_ps)
            mean, _, _ = accidentals(times_at_bob, b_alice, window_ps)
            totals["accidentals"] += mean
            totals["alice_clicks"] += len(own_a)
            totals["bob_clicks"] += len(own_b)
            indices = send_bulk(channel, "bob", "coincidence/indices", ia.astype(np.int64))
            pattern_a.append(own_a.patterns[indices])
            pattern_b.append(own_b.patterns[ib])
            delays.append(dt.astype(np.int32))  # |dt| <= window / 2 < 1 ms
            if ia.size >= TRACK_MIN_COINCIDENCES:  # re-centre the window on this epoch's peak
                model = model.refined(float(np.mean(dt)), 0.0, float(t0))
            bar.update()
    patterns_a = np.concatenate(pattern_a) if pattern_a else np.zeros(0, np.uint8)
    stats = {
        "coincidences": int(patterns_a.size),
        "accidentals": totals["accidentals"],
        "window_s": window_ps * 1e-12,
        "alice_clicks": totals["alice_clicks"],
        "bob_clicks": totals["bob_clicks"],
        "duration_s": (last_a - first_a) * 1e-12,
        "epochs": len(starts),
        "final_offset_s": model.offset_s,
        "timing_bytes": int(8 * (a_sync.size + totals["alice_clicks"]) + 8 * patterns_a.size),
    }
    return MatchedClicks(
        sync,
        patterns_a,
        np.concatenate(pattern_b) if pattern_b else np.zeros(0, np.uint8),
        np.concatenate(delays) if delays else np.zeros(0, np.int64),
        stats,
    )


def protocol_on_coincidences(
    parties: _Parties,
    matched: list[MatchedClicks],
    *,
    protocol: str = "bbm92",
    state: str = "psi+",
    maps: tuple[DetectorMap, DetectorMap] | None = None,
    key_options: KeyOptions | None = None,
    s_sigmas: float = 3.0,
    progress: bool | None = None,
    key_rounds: str = "chsh-inputs",
) -> ClickRunResult:
    """Steps 3 and 4: each side's outcomes from its patterns, then the protocol over the channel.

    E91 keys on ``key_rounds`` (default ``"chsh-inputs"``, as :func:`~qentangle.protocols.e91.run_e91`).
    """
    check_choice("protocol", protocol, CLICK_PROTOCOLS)
    check_choice("key_rounds", key_rounds, tuple(KEY_ROUNDS))
    state = check_state(state)
    maps = maps or detector_maps(protocol, state)
    patterns_a = np.concatenate([m.patterns_a for m in matched])
    patterns_b = np.concatenate([m.patterns_b for m in matched])
    if patterns_a.size == 0:
        raise ValidationError("no coincidence was found: nothing to sift")
    settings_a, bits_a, multi_a = resolve(patterns_a, maps[0], parties.alice.rng)
    settings_b, bits_b, multi_b = resolve(patterns_b, maps[1], parties.bob.rng)
    acc = sum(m.stats["accidentals"] for m in matched)
    coincidences = {
        "coincidences": int(patterns_a.size),
        "accidentals": acc,
        "car": (patterns_a.size - acc) / acc if acc else math.inf,
        "window_s": matched[0].stats["window_s"],
        "alice_clicks": sum(m.stats["alice_clicks"] for m in matched),
        "bob_clicks": sum(m.stats["bob_clicks"] for m in matched),
        "duration_s": sum(m.stats["duration_s"] for m in matched),
        "multi_clicks_alice": multi_a,
        "multi_clicks_bob": multi_b,
        "multi_click_rule": "random setting among those that fired, random outcome (squashing)",
        "timing_bytes": sum(m.stats["timing_bytes"] for m in matched),
    }
    if protocol == "bbm92":
        result = _bbm92(parties, state, maps, settings_a, bits_a, settings_b, bits_b, key_options, progress)
    elif protocol == "e91":
        result = _e91(
            parties, state, settings_a, bits_a, settings_b, bits_b, key_options, s_sigmas, progress,
            key_rounds,
        )
    else:
        result = _chsh(parties, state, maps, settings_a, bits_a, settings_b, bits_b)
    return ClickRunResult(protocol, tuple(matched), coincidences, result)


def send_bulk(channel: ClassicalChannel, sender: str, kind: str, array: np.ndarray) -> np.ndarray:
    """Send bulk data (timestamps, indices) beside the channel, authenticated by their digest.

    The array travels as it is (a real link would stream it); the authenticated channel carries
    its SHA-256 digest (32 bytes, in the transcript), and the receiver checks the bytes it got
    against it. The transcript thus grows by one digest per epoch, not by every timestamp.
    """
    payload = np.ascontiguousarray(array)
    authentic = channel.send(sender, f"{kind}/sha256", hashlib.sha256(payload.tobytes()).digest())
    received = payload.copy()  # the receiver's copy, as it arrived over the bulk path
    if hashlib.sha256(received.tobytes()).digest() != authentic:
        raise AuthenticationError(
            f"{kind} from {sender} does not match its authenticated digest: run aborted"
        )
    return received


def _bounds(source: ClickSource) -> tuple[int, int]:
    if isinstance(source, Clicks):
        if not len(source):
            return 0, 0
        return int(source.times_ps[0]), int(source.times_ps[-1])
    return int(source.first_time_ps), int(source.last_time_ps)


def _bob_epoch(bob: ClickSource, model: ClockModel, t0: int, t1: int) -> tuple[Clicks, np.ndarray]:
    """Bob's clicks whose time in Alice's frame falls in [t0, t1), and those times."""
    lo = model.to_bob_ps(float(t0))
    hi = model.to_bob_ps(float(t1))
    if model.path_difference is not None:
        shift = model.path_difference(np.array([int(lo), int(hi)], dtype=np.int64))
        lo, hi = lo + float(shift.min()), hi + float(shift.max())
    part = bob.between(int(lo) - EDGE_MARGIN_PS, int(hi) + EDGE_MARGIN_PS)
    b_alice = model.to_alice(part.times_ps)
    i, j = np.searchsorted(b_alice, [t0, t1])
    return part.slice(int(i), int(j)), b_alice[i:j]


def _summary(protocol: str, parties: _Parties, state: str, pairs: int, key) -> RunSummary:
    return RunSummary(
        protocol=protocol,
        pairs=pairs,
        state=state,
        engine={"engine": "clicks"},
        noise={"source": "detector clicks"},
        attack="none",
        eve_information=0.0,
        key=key,
        elapsed_s=time.perf_counter() - parties.started,
        transcript_messages=len(parties.channel.transcript),
        auth_key_bits=parties.channel.auth_key_bits_used,
    )


def _bbm92(
    parties, state, maps, settings_a, bits_a, settings_b, bits_b, key_options, progress
) -> BBM92Result:
    """Bases announced both ways, matched ones kept, key from both bases."""
    for m in maps:
        if m.num_settings != 2 or not np.allclose(m.angles, BASES):
            raise ValidationError("BBM92 needs detector maps with the Z and X bases (angles 0 and pi/2)")
    n = settings_a.size
    # The stations' own party program (qentangle.protocols.sifting), in lockstep over the channel.
    (alice_bits, labels), (bob_bits, _) = run_lockstep(
        parties.channel,
        lambda end: bbm92_sift_party(end, settings_a, bits_a, state),
        lambda end: bbm92_sift_party(end, settings_b, bits_b, state),
    )
    options = key_options or KeyOptions(estimation="ec")
    key = finish_key(parties, alice_bits, bob_bits, options, labels=labels, key_basis=None, progress=progress)
    sifted = np.bincount(labels, minlength=2)
    return BBM92Result(
        run=_summary("bbm92", parties, state, n, key),
        p_z=float(np.mean(settings_a == 0)) if n else 0.5,  # measured: the beam splitter's Z share
        key_bases="z+x",
        **basis_fields(sifted, key),
    )


def _e91(
    parties, state, settings_a, bits_a, settings_b, bits_b, key_options, s_sigmas, progress,
    key_rounds="chsh-inputs",
) -> E91Result:
    """E91 on passive three-setting stations: key at ``key_rounds``, S from the four test pairs."""
    channel = parties.channel
    sign, orientation = BOB_FRAME[state]
    key_pairs = KEY_ROUNDS[key_rounds]
    n = settings_a.size
    b_view = channel.send("alice", "sift/settings", settings_a.astype(np.uint8))
    a_view = channel.send("bob", "sift/settings", settings_b.astype(np.uint8))
    # The one sifting rule (qentangle.protocols.sifting), each side on its own data.
    alice_key, a_key, a_test = e91_sift("alice", settings_a, a_view, bits_a, key_pairs, orientation)
    bob_key, _, b_test = e91_sift("bob", b_view, settings_b, bits_b, key_pairs, orientation)
    covered = int(np.isin(settings_a.compress(a_key), CHSH_INPUTS_ALICE).sum())
    revealed = np.unpackbits(
        channel.send("bob", "chsh/outcomes", np.packbits(bits_b.compress(b_test))), count=int(b_test.sum())
    )
    counts = tally(
        e91_test_index(settings_a.compress(a_test), a_view.compress(a_test)),
        2 * bits_a.compress(a_test) + revealed,
    )
    stats = analyse_chsh(counts, TEST_SIGNS, orientation=int(orientation))
    s_value, s_err, s_z = orientation * stats.S, stats.S_stderr, stats.z_score_raw
    channel.send("alice", "chsh/S", {"S": s_value, "S_stderr": s_err})
    options = key_options or KeyOptions()
    per_pair = counts.sum(axis=1)
    reason = None
    if np.any(per_pair == 0):
        s_z, reason = (
            math.nan,
            f"too few test rounds: {int(per_pair.sum())} in all and none at some setting pair",
        )
    elif not s_z >= s_sigmas:
        reason = f"S = {s_value:.3f} +- {s_err:.3f} is not {s_sigmas:g} standard errors above 2"
    _, eps_block, _ = block_plan(alice_key.size, options)
    s_low = chsh_lower_bound(counts, s_value, phase_error_failure(eps_block, estimates=PHASE_ESTIMATES))
    if reason is None and options.distill and s_low <= 2.0:
        reason = f"no device-independent key: the lower confidence bound on S is {s_low:.3f}, not above 2"
    s_point = min(4.0, max(-4.0, s_value)) if math.isfinite(s_value) else -4.0
    floor = (device_independent_phase_error(s_low), device_independent_phase_error(s_point))
    key = finish_key(
        parties, alice_key, bob_key, options, abort_reason=reason, phase_floor=floor, progress=progress
    )
    bob_angles = tuple(sign * b for b in BOB_ANGLES)
    return E91Result(
        run=_summary("e91", parties, state, n, key),
        sifted_bits=int(alice_key.size),
        test_rounds=int(counts.sum()),
        S=s_value,
        S_stderr=s_err,
        S_raw=s_value,
        S_raw_stderr=s_err,
        z_score=s_z,
        correlators=tuple(
            {"a": ALICE_ANGLES[i], "b": bob_angles[j], "E": float(e), "n": int(k)}
            for (i, j), e, k in zip(TEST_PAIRS, stats.E, per_pair, strict=True)
        ),
        s_sigmas=s_sigmas,
        key_rounds=key_rounds,
        key_bits_covered=covered,
    )


def _chsh(parties, state, maps, settings_a, bits_a, settings_b, bits_b) -> dict[str, Any]:
    """Bob reveals settings and outcomes of every coincidence; Alice tallies the CHSH test."""
    from qentangle.theory import predicted_S

    channel = parties.channel
    n = settings_a.size
    b_settings = np.unpackbits(channel.send("bob", "chsh/settings", np.packbits(settings_b)), count=n)
    b_bits = np.unpackbits(channel.send("bob", "chsh/outcomes", np.packbits(bits_b)), count=n)
    counts = tally(2 * settings_a.astype(np.intp) + b_settings, 2 * bits_a + b_bits)
    angles = (*maps[0].angles, *maps[1].angles)
    orientation = chsh_orientation(predicted_S(state, angles))
    stats = analyse_chsh(counts, orientation=orientation)
    channel.send("alice", "chsh/S", {"S": stats.S, "S_stderr": stats.S_stderr})
    return {
        "protocol": "chsh",
        "state": state,
        "angles": list(angles),
        "rounds": int(n),
        "S": orientation * stats.S,
        "S_stderr": stats.S_stderr,
        "z_score": stats.z_score,
        "p_value": stats.p_value,
        "p_value_rigorous": stats.p_value_rigorous,
        "correlators": [float(e) for e in stats.E],
        "settings": "passive (beam splitter), per photon",
        "transcript_messages": len(channel.transcript),
        "auth_key_bits": channel.auth_key_bits_used,
    }

"""E91 (Ekert 1991) between two endpoints that own their data.

Bloch angles: Alice {0, pi/4, pi/2}, Bob {pi/4, pi/2, 3pi/4} (for phi+; other Bell states use
Bob's frame in ``BOB_FRAME``), each chosen uniformly at random by the endpoint's own generator.
The four pairs Alice {0, pi/2} x Bob {pi/4, 3pi/4} estimate S (2*sqrt(2) for a perfect pair).
Key bits come from equal angles, with Alice's bits as the reference of error correction, so the
final key is a function of Alice's outcomes. By default (``key_rounds="chsh-inputs"``) only the
rounds at (pi/2, pi/2) give key: Alice's pi/2 is one of her CHSH inputs, so the bound from S
covers every key bit. ``key_rounds="all"`` adds the rounds at (pi/4, pi/4) (twice the key):
Alice's pi/4 is never a CHSH input, so S says nothing about those bits; they rest only on basis
symmetry (the key sample's own errors bounding the phase error), and the result and its JSON
count them under ``key_bits_basis_symmetry_only``. The rest are discarded. Both announce their
settings over the authenticated channel, reveal the test-round outcomes, and the run aborts
unless S is significantly above 2.

Key length. E91 never measures the conjugate of its key bases, so the key's own errors cannot
bound Eve's information. The phase error entering the finite-key length is never below the
device-independent floor of Acin et al. (PRL 98, 230501, 2007) evaluated at a lower confidence
bound on S. That bound holds against *collective* attacks on i.i.d. rounds: using it as a
phase-error floor is an assumption, not a proof against coherent attacks. The phase error is
the larger of two estimates, the lower bound on S (Hoeffding, per correlator) and the key
sample's own upper bound, so the phase-error budget (eps_sec/2)^2 of each block is split between
them: each fails with probability at most (eps_sec/2)^2 / 2
(:func:`qentangle.distill.estimate.phase_error_failure` with ``estimates=2``, as BBM92 does with
its two bases). A bound at or below 2 leaves no device-independent key (phase error 1/2).

>>> result = run_e91(200_000, seed=1)
>>> result.aborted, round(result.S, 1), result.qber
(False, 2.8, 0.0)
>>> data = result.to_dict()
>>> data["key_bits_covered_by_chsh_bound"] == data["sifted_bits"], data["key_bits_basis_symmetry_only"]
(True, 0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qentangle.analysis import CHSH_SIGNS, analyse_chsh, chsh_lower_bound, tally
from qentangle.distill.finite_key import device_independent_phase_error, phase_error_failure
from qentangle.engines import Engine
from qentangle.errors import check_choice
from qentangle.noise import NoiseConfig
from qentangle.pairs import CircuitStage
from qentangle.params import Param
from qentangle.protocols.keying import KeyOptions, block_plan, finish_key
from qentangle.protocols.results import ProtocolResult, RunSummary
from qentangle.protocols.session import Schedule, check_chunk_size, open_session
from qentangle.protocols.sifting import E91_KEY_PAIRS, e91_masks, e91_sift, e91_test_index
from qentangle.rng import SeedLike

ALICE_ANGLES = (0.0, math.pi / 4, math.pi / 2)
BOB_ANGLES = (math.pi / 4, math.pi / 2, 3 * math.pi / 4)
KEY_PAIRS = E91_KEY_PAIRS  # (Alice index, Bob index) at equal angles
CHSH_INPUTS_ALICE = (0, 2)  # Alice's settings that enter S
# Which equal-angle pairs give key: only those where Alice's (the reference's) setting is a CHSH
# input, or all of them (Alice's pi/4 bits then rest on basis symmetry alone).
KEY_ROUNDS = {"chsh-inputs": tuple(p for p in KEY_PAIRS if p[0] in CHSH_INPUTS_ALICE), "all": KEY_PAIRS}
PHASE_ESTIMATES = 2  # the lower bound on S and the key sample's own bound share the budget
TEST_PAIRS = ((0, 0), (0, 2), (2, 0), (2, 2))  # (a,b), (a,b'), (a',b), (a',b') of S
TEST_SIGNS = CHSH_SIGNS  # the test pairs in the order of S
S_SIGMAS = Param("s_sigmas", float, low=0.0, high=100.0, default=3.0, metavar="K",
                 help="abort unless S is K standard errors above 2")
# Bob's frame for each Bell state: (sign of his Bloch angles, sign of the correlation). In that
# frame every state looks like phi+ (E = cos(a - b)): phi- and psi+ have E = +-cos(a + b), so Bob
# measures at -b; psi- and psi+ are anti-correlated, so Bob flips his bits and S's sign.
BOB_FRAME = {"phi+": (1.0, 1.0), "phi-": (-1.0, 1.0), "psi+": (-1.0, -1.0), "psi-": (1.0, -1.0)}


@dataclass(frozen=True)
class E91Result(ProtocolResult):
    """Outcome of an E91 run; :meth:`to_dict` is what ``qentangle e91 --json`` prints.

    ``S`` is oriented (+2*sqrt(2) for the ideal state) and readout-mitigated when the engine has
    a calibration; ``z_score = (S_raw - 2) / S_raw_stderr`` tests the *raw* S, the figure the
    abort rule uses (a calibration is something an adversary could bias).
    """

    run: RunSummary
    sifted_bits: int
    test_rounds: int
    S: float
    S_stderr: float
    S_raw: float
    S_raw_stderr: float
    z_score: float
    correlators: tuple[dict[str, float], ...]
    s_sigmas: float
    key_rounds: str = "all"
    key_bits_covered: int | None = None
    """Sifted bits whose reference (Alice's) setting is a CHSH input; None when not counted."""

    @property
    def S_z(self) -> float:
        """Old name of :attr:`z_score` (kept for one release; use ``z_score``)."""
        return self.z_score

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (never any key bits)."""
        covered = self.key_bits_covered
        if covered is None:
            coverage = "key bits at Alice's pi/4 (not a CHSH input) rest on basis symmetry only (not counted)"
        elif covered == self.sifted_bits:
            coverage = "every key bit is Alice's outcome at a CHSH input, covered by the bound from S"
        else:
            coverage = "key bits at Alice's pi/4 (not a CHSH input) rest on basis symmetry only"
        return self.run.to_dict(
            {
                "sifted_bits": self.sifted_bits,
                "test_rounds": self.test_rounds,
                "S": self.S,
                "S_stderr": self.S_stderr,
                "S_raw": self.S_raw,
                "S_raw_stderr": self.S_raw_stderr,
                "z_score": self.z_score,
                "correlators": list(self.correlators),
                "abort_s_sigmas": self.s_sigmas,
                "key_rounds": self.key_rounds,
                "key_bits_covered_by_chsh_bound": covered,
                "key_bits_basis_symmetry_only": None if covered is None else self.sifted_bits - covered,
                "key_assumption": (
                    "phase error <= max(device-independent floor from a lower bound on S (collective "
                    "attacks, i.i.d. rounds), key-sample bound (basis symmetry)); " + coverage
                ),
            }
        )


def run_e91(
    pairs: int | None = None,
    *,
    schedule: Schedule | None = None,
    state: str = "phi+",
    noise: NoiseConfig | None = None,
    attacks: Sequence[CircuitStage] = (),
    engine: str | Engine = "exact",
    seed: SeedLike = None,
    s_sigmas: float = 3.0,
    key_options: KeyOptions | None = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
    key_rounds: str = "chsh-inputs",
) -> E91Result:
    """Run E91 on ``pairs`` entangled pairs and distil the key (or abort).

    Instead of ``pairs`` and ``noise``, a ``schedule`` of ``(NoiseConfig, pairs)`` segments
    runs rounds whose noise changes along the run (e.g. the slices of a satellite pass).

    The run aborts when a test setting pair has no round (S unknown), unless
    ``(S - 2) / sigma_S >= s_sigmas`` (S oriented so that the ideal state gives
    +2*sqrt(2)), when distilling with a lower confidence bound on S not above 2 (no
    device-independent key: too few test rounds), and when the key stage aborts (see
    :mod:`qentangle.protocols.keying`: the QBER threshold applies to the measured QBER; the
    phase-error floor from S only shortens the finite key).

    ``key_rounds`` is ``"chsh-inputs"`` (key only where Alice's setting is a CHSH input, so the
    bound from S covers every bit) or ``"all"`` (also Alice's pi/4, bits that rest on basis
    symmetry only; counted in the result).

    >>> import math
    >>> from qentangle.noise import NoiseConfig
    >>> run = run_e91(100_000, noise=NoiseConfig(depolarizing=0.04), seed=1)
    >>> abs(run.S - 2 * math.sqrt(2) * (1 - 0.04)) < 4 * run.S_stderr  # S = 2 sqrt 2 (1 - p)
    True
    >>> run.aborted, run.to_dict()["keys_match"], run.to_dict()["final_key_bits"] > 0
    (False, True, True)
    """
    chunk = check_chunk_size(chunk_size)
    check_choice("state", state, tuple(BOB_FRAME))
    check_choice("key_rounds", key_rounds, tuple(KEY_ROUNDS))
    key_pairs = KEY_ROUNDS[key_rounds]
    angle_sign, orientation = BOB_FRAME[state]
    bob_angles = tuple(angle_sign * b for b in BOB_ANGLES)
    s_sigmas = S_SIGMAS.check(s_sigmas)
    options = key_options or KeyOptions()
    session = open_session(
        pairs=pairs,
        schedule=schedule,
        state=state,
        noise=noise,
        attacks=attacks,
        engine=engine,
        seed=seed,
        angles_alice=ALICE_ANGLES,
        angles_bob=bob_angles,
    )
    alice, bob, channel = session.alice, session.bob, session.channel
    alice_counts = np.zeros((4, 4), dtype=np.int64)  # Alice's tally of the test rounds
    covered = 0  # key bits whose reference (Alice's) setting is a CHSH input

    for _ in session.stream(chunk, progress=progress, label="e91"):
        # Public discussion: settings cross the channel, each side derives the same masks.
        bob_settings = session.announce_settings("alice")
        alice_view_of_bob = session.announce_settings("bob")
        # The one sifting rule (qentangle.protocols.sifting), each side on its own data.
        alice_key, a_key, a_test = e91_sift(
            "alice", alice.settings, alice_view_of_bob, alice.bits, key_pairs, orientation
        )
        bob_key, _, b_test = e91_sift("bob", bob_settings, bob.settings, bob.bits, key_pairs, orientation)
        covered += int(np.isin(alice.settings.compress(a_key), CHSH_INPUTS_ALICE).sum())
        alice.key_parts.append(alice_key)
        bob.key_parts.append(bob_key)
        # Test rounds: Bob reveals his outcomes; Alice tallies the joint outcomes per pair.
        bob_test_bits = channel.send("bob", "chsh/outcomes", np.packbits(bob.bits.compress(b_test)))
        revealed = np.unpackbits(bob_test_bits, count=int(a_test.sum()))
        pair_index = e91_test_index(alice.settings.compress(a_test), alice_view_of_bob.compress(a_test))
        alice_counts += tally(pair_index, 2 * alice.bits.compress(a_test) + revealed)

    statistics = analyse_chsh(
        alice_counts, TEST_SIGNS, orientation=int(orientation), confusion=session.engine.readout_confusion()
    )
    s_value, s_err = orientation * statistics.S, statistics.S_stderr
    # The abort rule uses the raw S: mitigation leans on a calibration the adversary may bias.
    s_raw, s_raw_err = orientation * statistics.S_raw, statistics.S_raw_stderr
    s_z = statistics.z_score_raw
    channel.send("alice", "chsh/S", {"S": s_value, "S_stderr": s_err, "S_raw": s_raw})
    per_pair = alice_counts.sum(axis=1)
    abort_reason = None
    if np.any(per_pair == 0):
        s_z = math.nan
        abort_reason = (
            f"too few test rounds: {int(per_pair.sum())} in all and none at some setting pair, "
            "so S is unknown"
        )
    elif not s_z >= s_sigmas:
        abort_reason = f"S = {s_raw:.3f} +- {s_raw_err:.3f} is not {s_sigmas:g} standard errors above 2"
    alice_key = alice.key()
    _, eps_block, _ = block_plan(alice_key.size, options)
    s_low = chsh_lower_bound(alice_counts, s_raw, phase_error_failure(eps_block, estimates=PHASE_ESTIMATES))
    if abort_reason is None and options.distill and s_low <= 2.0:
        abort_reason = (
            f"no device-independent key: the lower confidence bound on S from {int(per_pair.sum())} "
            f"test rounds is {s_low:.3f}, not above 2 (too few test rounds for S = {s_raw:.3f})"
        )
    s_point = min(4.0, max(-4.0, s_raw)) if math.isfinite(s_raw) else -4.0
    floor = (device_independent_phase_error(s_low), device_independent_phase_error(s_point))
    bob_key = bob.key()
    alice.key_parts, bob.key_parts = [alice_key], [bob_key]
    key = finish_key(
        session, alice_key, bob_key, options, abort_reason=abort_reason, phase_floor=floor, progress=progress
    )
    return E91Result(
        run=RunSummary.of(
            "e91", session, state, attacks, key, [(ALICE_ANGLES[i], 1.0) for i, _ in key_pairs]
        ),
        sifted_bits=int(sum(part.size for part in alice.key_parts)),
        test_rounds=int(alice_counts.sum()),
        S=s_value,
        S_stderr=s_err,
        S_raw=s_raw,
        S_raw_stderr=s_raw_err,
        z_score=s_z,
        correlators=tuple(
            {"a": ALICE_ANGLES[i], "b": bob_angles[j], "E": float(e), "stderr": float(se), "n": int(n)}
            for (i, j), e, se, n in zip(
                TEST_PAIRS, statistics.E, statistics.E_stderr, statistics.n, strict=True
            )
        ),
        s_sigmas=s_sigmas,
        key_rounds=key_rounds,
        key_bits_covered=covered,
    )


# Old private names (their home is now qentangle.protocols.sifting); kept for one release.
_masks, _test_index = e91_masks, e91_test_index

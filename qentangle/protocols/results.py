"""What every E91/BBM92 run reports besides its own figures, in one place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qentangle.pairs import CircuitStage
from qentangle.protocols.attacks import describe_attacks, eve_information
from qentangle.protocols.keying import KeyOutcome

if TYPE_CHECKING:
    from qentangle.protocols.session import Session


@dataclass(frozen=True)
class RunSummary:
    """The run's setting, the eavesdropper's gain, the key stage and the channel's costs."""

    protocol: str
    pairs: int
    state: str
    engine: dict[str, Any]
    noise: dict[str, Any]
    attack: str
    eve_information: float
    """Eve's information per key bit, averaged over the key bases (bits)."""
    key: KeyOutcome
    elapsed_s: float
    transcript_messages: int
    auth_key_bits: int

    @classmethod
    def of(
        cls,
        protocol: str,
        session: Session,
        state: str,
        attacks: Sequence[CircuitStage],
        key: KeyOutcome,
        key_angles: Sequence[tuple[float, float]],
    ) -> RunSummary:
        """Collect the summary at the end of a run.

        ``key_angles`` lists Alice's key-basis angles with their share of the key; Eve's
        information is averaged over them.
        """
        information = 0.0
        if attacks:
            total = sum(weight for _, weight in key_angles) or 1.0
            information = (
                sum(weight * eve_information(session.setup, angle) for angle, weight in key_angles) / total
            )
        return cls(
            protocol=protocol,
            pairs=session.pairs,
            state=state,
            engine=session.engine.info(),
            noise=session.noise_summary(),
            attack=describe_attacks(attacks),
            eve_information=information,
            key=key,
            elapsed_s=session.elapsed_s,
            transcript_messages=len(session.channel.transcript),
            auth_key_bits=session.channel.auth_key_bits_used,
        )

    def to_dict(self, figures: dict[str, Any]) -> dict[str, Any]:
        """The JSON of a run: this summary around the protocol's own ``figures``."""
        key = self.key.to_dict()
        return {
            "protocol": self.protocol,
            "pairs": self.pairs,
            "state": self.state,
            **self.engine,
            "noise": self.noise,
            "attack": self.attack,
            **figures,
            "eve_information": self.eve_information,
            **key,
            "elapsed_s": self.elapsed_s,
            "transcript_messages": self.transcript_messages,
            "auth_key_bits": self.auth_key_bits,
            # Wegman-Carter tags consume pre-shared key; a run gains key only beyond that.
            "net_key_bits": key["final_key_bits"] - self.auth_key_bits,
        }


class ProtocolResult:
    """Shortcuts shared by the E91 and BBM92 results (which hold a ``run`` summary)."""

    run: RunSummary

    @property
    def key(self) -> KeyOutcome:
        """Estimation and distillation figures."""
        return self.run.key

    @property
    def aborted(self) -> bool:
        """True when the run stopped by its own security rule."""
        return self.run.key.aborted

    @property
    def qber(self) -> float:
        """QBER of the key, as estimated by the key stage."""
        return self.run.key.qber

    @property
    def eve_information(self) -> float:
        """Eve's information about each key bit (bits), 0 without an attack."""
        return self.run.eve_information

    @property
    def pairs(self) -> int:
        """Pairs distributed."""
        return self.run.pairs

    @property
    def state(self) -> str:
        """The Bell state of the source."""
        return self.run.state

    @property
    def elapsed_s(self) -> float:
        """Wall time of the run."""
        return self.run.elapsed_s

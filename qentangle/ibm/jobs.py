"""A small local record of backend jobs, from which results are rebuilt later.

Every job appends JSON lines to ``$QENTANGLE_HOME/jobs.jsonl`` (default
``~/.qentangle/jobs.jsonl``; directory mode 0700, file mode 0600): a ``submitted`` entry
*before* waiting for the result (backend, qubits, Bell state, setting pairs, shots, the seed of
the per-setting subsampling, the pair's error figures and the prediction), then ``completed``
(per-circuit counts and each setting pair's counts after the shot subsampling: what a
re-analysis needs, no per-round outcome) or ``failed``. The parties' per-round outcomes (for a
BBM92/E91 run: the raw key) are written only on request (``record_outcomes=True``, the CLI's
``--record-outcomes``); such an entry says so in ``"stores"``. Each entry is one ``write`` on
a file opened with ``O_APPEND`` under an exclusive ``flock``, so concurrent runs never interleave
lines; a line cut off by an earlier crash is closed with a newline first, and reading skips
damaged lines (recovering an entry glued onto a fragment by older versions). The record holds no credentials.

:func:`fetch` rebuilds a result: from the stored counts (correlators, S, QBER: everything but a
key, which needs each round's outcomes), from stored outcomes when they were asked for, or for
IBM hardware from ``QiskitRuntimeService().job(JOB_ID)`` (the outcomes live on IBM's side).

>>> import numpy as np
>>> codes = np.array([0, 3, 1, 2, 3], dtype=np.uint8)
>>> decode_codes(encode_codes(codes), 5).tolist()
[0, 3, 1, 2, 3]
"""

from __future__ import annotations

import base64
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qentangle.analysis import (
    CHSH_SIGNS,
    codes_from_counts,
    confusion_from_codes,
    confusion_from_counts,
    correlator,
    mitigated_probabilities,
    qber_stats,
)
from qentangle.errors import BackendError, ValidationError
from qentangle.states import ideal_correlator, optimal_chsh_angles

HOME_ENV = "QENTANGLE_HOME"
#: The predicted-S fields a job carries (raw: compare with S_raw; mitigated: with S).
PREDICTION_KEYS = ("predicted_S", "predicted_S_band", "predicted_S_mitigated", "predicted_S_mitigated_band")
BASIS_LABELS = {0.0: "z", round(math.pi / 2, 12): "x"}
RECORD_NAME = "jobs.jsonl"
RECORD_VERSION = 1
#: What an entry holding per-round outcomes says it stores (``"stores"``).
OUTCOMES_STORED = "raw per-round outcomes of both parties (key material for a BBM92/E91 run)"


def jobs_home() -> Path:
    """``$QENTANGLE_HOME`` or ``~/.qentangle``."""
    home = os.environ.get(HOME_ENV)
    return Path(home).expanduser() if home else Path.home() / ".qentangle"


def record_path() -> Path:
    """The JSON-lines job record."""
    return jobs_home() / RECORD_NAME


def append_entry(entry: dict[str, Any], path: Path | None = None) -> Path:
    """Append one JSON line to the record (created 0600 in a 0700 directory).

    Under the lock, a record whose last line was cut off (a crash mid-write) gets its newline
    first, so the new entry starts a line of its own.
    """
    path = record_path() if path is None else Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    line = (json.dumps(entry, separators=(",", ":"), allow_nan=False) + "\n").encode()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
        _lock(fd)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        written = 0
        while written < len(line):
            written += os.write(fd, line[written:])
    finally:
        os.close(fd)
    return path


def _lock(fd: int) -> None:
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)  # released by close
    except (ImportError, OSError):  # pragma: no cover - non-POSIX: O_APPEND alone
        pass


def read_entries(path: Path | None = None) -> list[dict[str, Any]]:
    """Every well-formed entry of the record; damaged lines are skipped, the others kept."""
    path = record_path() if path is None else Path(path)
    if not path.exists():
        return []
    entries = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            entry = _parse_line(line.strip())
            if entry is not None:
                entries.append(entry)
    return entries


def _parse_line(line: str) -> dict[str, Any] | None:
    """The entry on one line, or the entry a cut-off fragment was glued to, or None.

    A fragment glued in front of a whole entry (records written before the newline check)
    leaves the entry as the line's only suffix, starting at a ``{``, that parses to the end.
    """
    decoder = json.JSONDecoder()
    start = 0
    while start != -1 and line:
        try:
            entry, end = decoder.raw_decode(line, start)
        except json.JSONDecodeError:
            entry, end = None, -1
        if end == len(line) and isinstance(entry, dict) and "job_id" in entry:
            return entry
        start = line.find("{", start + 1)
    return None


def job_entries(job_id: str, path: Path | None = None) -> dict[str, Any]:
    """The merged entries of one job: ``submitted`` fields plus the latest outcome entry."""
    merged: dict[str, Any] = {}
    for entry in read_entries(path):
        if entry["job_id"] == job_id:
            merged.update(entry)
            merged.setdefault("events", []).append(entry.get("event"))
    if not merged:
        raise ValidationError(f"job_id={job_id!r} is not in the job record {record_path()}")
    return merged


def list_jobs(path: Path | None = None) -> list[dict[str, Any]]:
    """One summary per job (newest last): id, time, backend, qubits, status."""
    jobs: dict[str, dict[str, Any]] = {}
    for entry in read_entries(path):
        summary = jobs.setdefault(entry["job_id"], {"job_id": entry["job_id"]})
        for key in ("time", "backend", "kind", "qubits", "state"):
            if key in entry and key not in summary:
                summary[key] = entry[key]
        summary["status"] = entry.get("event", "unknown")
    return list(jobs.values())


# ------------------------------------------------------------------------ outcome encoding
def encode_codes(codes: np.ndarray) -> str:
    """Codes 0..3 packed four to a byte, base64."""
    codes = np.asarray(codes, dtype=np.uint8)
    padded = np.zeros(4 * math.ceil(codes.size / 4), dtype=np.uint8)
    padded[: codes.size] = codes
    quads = padded.reshape(-1, 4)
    packed = (quads[:, 0] << 6) | (quads[:, 1] << 4) | (quads[:, 2] << 2) | quads[:, 3]
    return base64.b64encode(packed.astype(np.uint8).tobytes()).decode("ascii")


def decode_codes(text: str, size: int) -> np.ndarray:
    """Inverse of :func:`encode_codes`."""
    packed = np.frombuffer(base64.b64decode(text), dtype=np.uint8)
    quads = np.stack([(packed >> s) & 3 for s in (6, 4, 2, 0)], axis=1).ravel()
    return quads[:size].astype(np.uint8)


def codes_from_result(result: Any) -> list[np.ndarray]:
    """Joint codes (2*bit_a + bit_b) of every pub of a Sampler result (register ``meas``)."""
    arrays = []
    try:
        for k, pub in enumerate(result):
            data = pub.data
            bits = getattr(data, "meas", None)
            if bits is None:
                raise BackendError(f"result of circuit {k} has no 'meas' register: {list(data)}")
            if bits.num_bits != 2:
                raise BackendError(f"result of circuit {k}: 'meas' has {bits.num_bits} bits, expected 2")
            arrays.append(codes_from_counts(bits.array.reshape(-1)))
    except TypeError:
        raise BackendError(
            f"unexpected result type {type(result).__name__}: expected a Sampler result"
        ) from None
    return arrays


# ------------------------------------------------------------------------ assembling a result
def subsample(
    pub_codes: Sequence[np.ndarray],
    wanted: Sequence[int],
    shots: Sequence[int],
    seed: int,
    repeats: Sequence[int] | None = None,
) -> list[np.ndarray]:
    """Each setting pair's outcomes, drawn without replacement from its circuits' shots.

    All circuits of a job share one shot count; setting pair ``wanted[k]`` ran in
    ``repeats[k]`` consecutive copies of its circuit (default 1) and keeps ``shots[i]`` of
    their pooled shots, chosen uniformly (time order kept) by a generator seeded with ``seed``,
    so a rebuild reproduces the live result exactly.
    """
    repeats = [1] * len(wanted) if repeats is None else list(repeats)
    rng = np.random.default_rng(seed)
    drawn = [np.zeros(0, dtype=np.uint8) for _ in shots]
    start = 0
    for i, r in zip(wanted, repeats, strict=True):
        codes = np.concatenate([np.asarray(c, dtype=np.uint8) for c in pub_codes[start : start + r]])
        start += r
        n = int(shots[i])
        if n > codes.size:
            raise BackendError(f"setting pair {i} returned {codes.size} shots, fewer than the {n} requested")
        drawn[i] = codes if n == codes.size else codes[np.sort(rng.choice(codes.size, n, replace=False))]
    return drawn


def assemble(
    meta: dict[str, Any], pub_codes: Sequence[np.ndarray]
) -> tuple[list[np.ndarray], tuple[np.ndarray, np.ndarray] | None]:
    """Per-setting outcomes and the readout confusion (or None) from a job's circuits."""
    wanted = meta["wanted"]
    repeats = meta.get("repeats", [1] * len(wanted))
    settings = sum(repeats)
    drawn = subsample(pub_codes[:settings], wanted, meta["shots"], meta["subsample_seed"], repeats)
    confusion = None
    if meta.get("calibration"):
        confusion = confusion_from_codes(pub_codes[settings : settings + 4])
    return drawn, confusion


@dataclass(frozen=True)
class JobResult:
    """A job's result rebuilt from the record: per-setting counts, correlators, CHSH S, QBER.

    ``S_raw``/``S`` are set when the job's setting pairs include the state's CHSH-optimal
    pairs (CHSH runs, and E91's test pairs); ``S`` is readout-mitigated if the job carried
    calibration circuits. ``qber_raw``/``qber_mitigated`` hold the error rate of every setting
    pair measured in one basis by both (BBM92's Z and X: keys ``z``, ``x``; other angles by
    their value); ``qber_mitigated`` is empty without calibration.
    """

    job_id: str
    backend: str
    kind: str
    qubits: tuple[int, int]
    state: str
    pairs: tuple[tuple[float, float], ...]
    counts: tuple[tuple[int, int, int, int], ...]
    E_raw: tuple[float, ...]
    E: tuple[float, ...]
    S_raw: float | None
    S: float | None
    mitigated: bool
    source: str
    info: dict[str, Any] = field(default_factory=dict)
    qber_raw: dict[str, float] = field(default_factory=dict)
    qber_mitigated: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "job_id": self.job_id,
            "job_ids": [self.job_id],
            "backend": self.backend,
            "kind": self.kind,
            "qubits": list(self.qubits),
            "state": self.state,
            "pairs": [list(p) for p in self.pairs],
            "counts": [list(c) for c in self.counts],
            "E_raw": list(self.E_raw),
            "E": list(self.E),
            "S_raw": self.S_raw,
            "S": self.S,
            "mitigated": self.mitigated,
            "source": self.source,
            **{key: self.info.get(key) for key in PREDICTION_KEYS},
            "pair_errors": self.info.get("pair_errors"),
            **{f"qber_{basis}_raw": value for basis, value in self.qber_raw.items()},
            **{f"qber_{basis}_mitigated": self.qber_mitigated.get(basis) for basis in self.qber_raw},
        }


def chsh_from_correlators(state: str, pairs: Sequence[Sequence[float]], E: Sequence[float]) -> float | None:
    """S = E(a,b) - E(a,b') + E(a',b) + E(a',b') if all four optimal pairs of ``state`` are present."""
    a, a2, b, b2 = optimal_chsh_angles(state)
    index = {(round(float(x), 12), round(float(y), 12)): k for k, (x, y) in enumerate(pairs)}
    keys = [(a, b), (a, b2), (a2, b), (a2, b2)]
    try:
        e = [E[index[(round(x, 12), round(y, 12))]] for x, y in keys]
    except KeyError:
        return None
    return float(np.asarray(e) @ CHSH_SIGNS)


def result_from_outcomes(meta: dict[str, Any], pub_codes: Sequence[np.ndarray], source: str) -> JobResult:
    """A :class:`JobResult` from a job's metadata and every circuit's outcome codes."""
    drawn, confusion = assemble(meta, pub_codes)
    return result_from_counts(meta, counts_of(drawn), confusion, source)


def calibration_counts(
    meta: dict[str, Any], circuit_counts: Sequence[Sequence[int]]
) -> list[list[int]] | None:
    """The four calibration circuits' counts (after the setting circuits), or None without them."""
    if not meta.get("calibration"):
        return None
    settings = sum(meta.get("repeats", [1] * len(meta["wanted"])))
    return [list(map(int, row)) for row in circuit_counts[settings : settings + 4]]


def completed_entry(
    meta: dict[str, Any],
    pub_codes: Sequence[np.ndarray],
    drawn: Sequence[np.ndarray],
    *,
    record_outcomes: bool = False,
) -> dict[str, Any]:
    """The ``completed`` entry of a job: counts per circuit, per setting pair (after the
    subsampling) and of the calibration circuits, and only when ``record_outcomes`` the
    per-round outcomes (marked in ``stores``).

    >>> import numpy as np
    >>> meta = {"job_id": "j", "wanted": [0], "calibration": False}
    >>> codes = [np.array([0, 3, 3, 1], dtype=np.uint8)]
    >>> entry = completed_entry(meta, codes, codes)
    >>> entry["setting_counts"], "codes" in entry
    ([[1, 1, 0, 2]], False)
    >>> completed_entry(meta, codes, codes, record_outcomes=True)["stores"] == OUTCOMES_STORED
    True
    """
    entry: dict[str, Any] = {
        "version": RECORD_VERSION,
        "event": "completed",
        "job_id": meta["job_id"],
        "time": now(),
        "counts": counts_of(pub_codes),
        "setting_counts": counts_of(drawn),
    }
    calibration = calibration_counts(meta, entry["counts"])
    if calibration is not None:
        entry["calibration_counts"] = calibration
    if record_outcomes:
        entry["codes"] = [encode_codes(c) for c in pub_codes]
        entry["stores"] = OUTCOMES_STORED
    return entry


def result_from_counts(
    meta: dict[str, Any],
    setting_counts: Sequence[Sequence[int]],
    confusion: tuple[np.ndarray, np.ndarray] | None,
    source: str,
) -> JobResult:
    """A :class:`JobResult` from each setting pair's outcome counts and the readout confusion."""
    counts = np.asarray(setting_counts, dtype=float).reshape(-1, 4)
    probabilities = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    E_raw = correlator(probabilities)
    E = correlator(mitigated_probabilities(counts, confusion)) if confusion is not None else E_raw
    pairs = [tuple(p) for p in meta["pairs"]]
    return JobResult(
        job_id=meta["job_id"],
        backend=meta["backend"],
        kind=meta["kind"],
        qubits=tuple(meta["qubits"]),
        state=meta["state"],
        pairs=tuple(pairs),
        counts=tuple(tuple(int(x) for x in row) for row in counts),
        E_raw=tuple(float(x) for x in E_raw),
        E=tuple(float(x) for x in E),
        S_raw=chsh_from_correlators(meta["state"], pairs, E_raw),
        S=chsh_from_correlators(meta["state"], pairs, E),
        mitigated=confusion is not None,
        source=source,
        info={k: meta.get(k) for k in (*PREDICTION_KEYS, "pair_errors")},
        qber_raw=_basis_qbers(meta["state"], pairs, counts, None),
        qber_mitigated=_basis_qbers(meta["state"], pairs, counts, confusion) if confusion is not None else {},
    )


def _basis_qbers(
    state: str, pairs: Sequence[Sequence[float]], counts: np.ndarray, confusion: Any
) -> dict[str, float]:
    """Error rate of each setting pair where both measured in the same basis (a == b)."""
    rates = {}
    for (a, b), row in zip(pairs, counts, strict=True):
        ideal = ideal_correlator(state, a, a)
        if not math.isclose(a, b, abs_tol=1e-12) or row.sum() == 0 or abs(ideal) < 1e-9:
            continue
        sign = 1.0 if ideal > 0 else -1.0
        label = BASIS_LABELS.get(round(float(a), 12), f"{float(a):.4f}")
        rates[label] = float(qber_stats(row, sign, confusion)[0])
    return rates


def fetch(
    job_id: str, *, path: Path | None = None, service: Any = None, timeout: float | None = None
) -> JobResult:
    """Rebuild the result of ``job_id`` from the record, or from IBM for hardware jobs.

    Local (fake-device) jobs are rebuilt from the counts stored in the record (or the outcomes,
    if the run asked to store them); they cannot be fetched from anywhere else. Hardware jobs
    (unless their outcomes were stored) are fetched through ``service`` (default:
    :func:`qentangle.ibm.backend.runtime_service`) and a ``completed`` entry is appended.
    """
    meta = job_entries(job_id, path)
    if "wanted" not in meta:
        raise BackendError(f"job {job_id}: the record has no 'submitted' entry to rebuild it from")
    if "codes" in meta:
        pub_codes = [decode_codes(text, meta["shots_per_circuit"]) for text in meta["codes"]]
        return result_from_outcomes(meta, pub_codes, source="record outcomes")
    if "setting_counts" in meta and meta.get("kind") != "ibm":
        calibration = meta.get("calibration_counts")
        confusion = confusion_from_counts(np.asarray(calibration)) if calibration is not None else None
        return result_from_counts(meta, meta["setting_counts"], confusion, source="record counts")
    if meta.get("kind") != "ibm":
        raise BackendError(
            f"job {job_id} ran locally on {meta.get('backend')} and has no stored counts (the run did "
            "not complete); local jobs cannot be fetched later: run again"
        )
    from qentangle.ibm.backend import runtime_service, scrub

    service = runtime_service() if service is None else service
    try:
        job = service.job(job_id)
        result = job.result(timeout=timeout) if timeout is not None else job.result()
    except Exception as error:
        raise BackendError(f"could not fetch job {job_id} from IBM: {scrub(str(error))}") from None
    pub_codes = codes_from_result(result)
    drawn, _confusion = assemble(meta, pub_codes)
    append_entry(completed_entry(meta, pub_codes, drawn), path)
    return result_from_outcomes(meta, pub_codes, source="service")


def counts_of(pub_codes: Sequence[np.ndarray]) -> list[list[int]]:
    """Counts of codes 0..3 per circuit."""
    return [np.bincount(np.asarray(c, dtype=np.intp), minlength=4)[:4].tolist() for c in pub_codes]


def now() -> str:
    """UTC time stamp, ISO 8601."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

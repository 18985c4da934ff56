"""Time-tag files: qcrypto raw events bit-exact, the native format, malformed files, squashing."""

from __future__ import annotations

import numpy as np
import pytest

from qentangle.cli.main import main
from qentangle.timetags.events import Clicks, DetectorMap, resolve
from qentangle.timetags.formats import (
    NATIVE_DATA_OFFSET,
    TimeTagFileError,
    native_header,
    open_clicks,
    read_clicks,
    write_clicks,
)

SIGMAS = 4.0


def _random_qcrypto_bytes(rng: np.random.Generator, n: int) -> bytes:
    """n valid raw events: increasing 49-bit times, any bits 4-14, a non-empty 4-bit pattern."""
    times = np.cumsum(rng.integers(0, 1 << 20, n, dtype=np.uint64))
    aux = rng.integers(0, 1 << 11, n, dtype=np.uint64)
    pattern = rng.integers(1, 16, n, dtype=np.uint64)
    value = (times << np.uint64(15)) | (aux << np.uint64(4)) | pattern
    words = np.empty((n, 2), "<u4")
    words[:, 0] = value >> np.uint64(32)
    words[:, 1] = value & np.uint64(0xFFFFFFFF)
    return words.tobytes()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_qcrypto_round_trip_is_bit_exact(tmp_path, seed):
    raw = _random_qcrypto_bytes(np.random.default_rng(seed), 50_000)
    source = tmp_path / "in.raw"
    source.write_bytes(raw)
    clicks = read_clicks(source, format="qcrypto")
    write_clicks(tmp_path / "out.raw", clicks, format="qcrypto")
    assert (tmp_path / "out.raw").read_bytes() == raw
    # the layout: two 32-bit words, most significant first; time in the top 49 bits (125 ps)
    first = np.frombuffer(raw[:8], "<u4")
    value = (int(first[0]) << 32) | int(first[1])
    assert clicks.times_ps[0] == (value >> 15) * 125 and clicks.patterns[0] == value & 0xF


def test_qcrypto_word_layout(tmp_path):
    path = tmp_path / "one.raw"
    write_clicks(path, Clicks(np.array([125 * 3]), np.array([0b0101])), format="qcrypto")
    hi, lo = np.frombuffer(path.read_bytes(), "<u4")
    assert (int(hi) << 32 | int(lo)) == (3 << 15) | 0b0101


def test_native_round_trip_with_metadata(tmp_path):
    rng = np.random.default_rng(4)
    clicks = Clicks(np.cumsum(rng.integers(1, 10**6, 1000)), rng.integers(1, 64, 1000))
    header = native_header(
        station="bob",
        detector_map=DetectorMap.three_settings((0.0, 0.5, 1.0)),
        clock={"offset_s": 0.1, "drift_ppm": 2.0},
    )
    write_clicks(tmp_path / "b.qtt", clicks, format="native", header=header)
    opened = open_clicks(tmp_path / "b.qtt")
    assert opened.format == "native" and opened.events == 1000 and opened.station == "bob"
    assert opened.detector_map == DetectorMap.three_settings((0.0, 0.5, 1.0))
    back = opened.read()
    assert np.array_equal(back.times_ps, clicks.times_ps) and np.array_equal(back.patterns, clicks.patterns)
    assert [len(c) for c in opened.chunks(300)] == [300, 300, 300, 100]
    assert np.array_equal(
        opened.between(int(clicks.times_ps[10]), int(clicks.times_ps[20])).times_ps, clicks.times_ps[10:20]
    )


def _malformed(tmp_path):
    good = _random_qcrypto_bytes(np.random.default_rng(5), 10)
    truncated = tmp_path / "truncated.raw"
    truncated.write_bytes(good[:-3])
    backwards = tmp_path / "backwards.raw"
    words = bytearray(good)
    words[5 * 8 : 6 * 8], words[6 * 8 : 7 * 8] = good[6 * 8 : 7 * 8], good[5 * 8 : 6 * 8]
    backwards.write_bytes(bytes(words))
    empty = tmp_path / "empty.raw"
    value = np.frombuffer(good, "<u4").copy()
    value[2 * 3 + 1] &= ~np.uint32(0xF)  # event 3 without any detector bit
    empty.write_bytes(value.tobytes())
    native = tmp_path / "cut.qtt"
    write_clicks(native, Clicks(np.arange(10) * 1000, np.ones(10)), format="native")
    native.write_bytes(native.read_bytes()[: NATIVE_DATA_OFFSET + 9 * 7])
    return {truncated: 72, backwards: 48, empty: 24, native: NATIVE_DATA_OFFSET + 9 * 7}


def test_malformed_files_name_the_byte_offset(tmp_path):
    for path, offset in _malformed(tmp_path).items():
        with pytest.raises(TimeTagFileError) as info:
            open_clicks(path).read()
        message = str(info.value)
        assert str(path) in message and f"byte offset {offset}" in message, message


def test_malformed_files_on_the_command_line(tmp_path, capsys):
    good = tmp_path / "good.raw"
    good.write_bytes(_random_qcrypto_bytes(np.random.default_rng(6), 10))
    for path in _malformed(tmp_path):
        for command in ("sync", "key"):
            status = main(["timetags", command, str(path), str(good)])
            captured = capsys.readouterr()
            assert status == 2, captured.err
            lines = captured.err.strip().splitlines()
            assert len(lines) == 1 and "byte offset" in lines[0] and "Traceback" not in captured.err


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_multi_clicks_follow_the_squashing_rule(seed):
    rng = np.random.default_rng(seed)
    n = 20_000
    m = DetectorMap.bbm92()  # bits: H V D A
    same_basis = np.full(n, 0b0011, np.uint8)  # H and V
    settings, bits, count = resolve(same_basis, m, rng)
    assert count == n and np.all(settings == 0)
    assert abs(bits.mean() - 0.5) <= SIGMAS * 0.5 / np.sqrt(n)
    cross = np.full(n, 0b0101, np.uint8)  # H and D: random basis, random bit
    settings, bits, count = resolve(cross, m, rng)
    assert count == n
    for values in (settings, bits):
        assert abs(values.mean() - 0.5) <= SIGMAS * 0.5 / np.sqrt(n)
    single, _, count = resolve(np.array([1, 2, 4, 8], np.uint8), m, rng)
    assert count == 0 and single.tolist() == [0, 0, 1, 1]


def test_patterns_beyond_the_detector_map_are_refused():
    from qentangle.errors import ValidationError

    with pytest.raises(ValidationError, match="only 4 detectors"):
        resolve(np.array([16], np.uint8), DetectorMap.bbm92(), np.random.default_rng(0))

"""The channel's canonical encoding is injective: a verified tag covers the exact value received."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qentangle.channel import ClassicalChannel, encode_payload
from qentangle.errors import AuthenticationError, ValidationError

DISTINCT = [
    {1: "x"},
    {"1": "x"},
    {True: "x"},
    {1.0: "x"},
    [1, 2],
    (1, 2),
    1,
    True,
    1.0,
    "1",
    b"1",
    bytearray(b"1"),
    np.int64(1),
    np.int32(1),
    np.float64(1.0),
    None,
    np.array([1], dtype=np.uint8),
    np.array([1], dtype=np.int64),
    np.array([[1]], dtype=np.uint8),
]


def test_values_that_python_calls_equal_encode_differently():
    encodings = [encode_payload(value) for value in DISTINCT]
    for (i, a), (j, b) in itertools.combinations(enumerate(encodings), 2):
        assert a != b, (DISTINCT[i], DISTINCT[j])


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5),
    st.binary(max_size=5),
)
payloads = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.tuples(children, children),
        st.dictionaries(st.one_of(st.integers(), st.text(max_size=3)), children, max_size=3),
    ),
    max_leaves=8,
)


def _typed(value):
    """The value with every type spelled out, to compare two payloads exactly."""
    if isinstance(value, dict):
        return ("dict", sorted((repr(_typed(k)), repr(_typed(v))) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_typed(v) for v in value])
    return (type(value).__name__, repr(value))


@given(payloads, payloads)
def test_encoding_is_injective(a, b):
    if _typed(a) != _typed(b):
        assert encode_payload(a) != encode_payload(b)
    else:
        assert encode_payload(a) == encode_payload(b)


def test_unsupported_types_are_refused():
    with pytest.raises(ValidationError, match="set"):
        encode_payload({1, 2})


def test_swapping_a_dict_key_type_on_the_wire_is_caught():
    def retype(message):
        payload = {str(k): v for k, v in message.payload.items()}
        return message.__class__(**{**message.__dict__, "payload": payload})

    channel = ClassicalChannel.with_random_key(np.random.default_rng(1), adversary=retype)
    with pytest.raises(AuthenticationError):
        channel.send("alice", "counts", {1: 5})

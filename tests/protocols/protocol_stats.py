"""Statistical helpers shared by the protocol tests."""

import math


def within(observed: float, expected: float, n: int, sigmas: float = 4.0) -> bool:
    """|observed - expected| within ``sigmas`` binomial standard errors of a rate over n trials."""
    se = math.sqrt(max(expected * (1 - expected), 1.0 / n) / n)
    return abs(observed - expected) <= sigmas * se

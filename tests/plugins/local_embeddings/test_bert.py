"""The numpy pieces of the encoder, checked against the standard library."""

from __future__ import annotations

import math

import numpy as np
from treadle_local_embeddings.bert import erf, gelu


def test_erf_matches_math_erf() -> None:
    xs = np.linspace(-6, 6, 2001, dtype=np.float32)
    expected = np.array([math.erf(float(x)) for x in xs])
    np.testing.assert_allclose(erf(xs), expected, atol=5e-7)


def test_gelu_is_the_exact_erf_form() -> None:
    xs = np.linspace(-5, 5, 101, dtype=np.float32)
    expected = np.array([0.5 * float(x) * (1 + math.erf(float(x) / math.sqrt(2))) for x in xs])
    np.testing.assert_allclose(gelu(xs), expected, atol=1e-6)
    assert gelu(xs).dtype == np.float32

"""Fixtures of the tenancy tests."""

from __future__ import annotations

import pytest
from treadle.tenancy import Argon2Parameters, PasswordHasher, SecretCipher

#: The cheapest argon2 parameters the hasher accepts (OWASP's floor), so that tests hash quickly.
FLOOR = Argon2Parameters(time_cost=2, memory_kib=19 * 1024, parallelism=1)


@pytest.fixture(scope="session")
def hasher() -> PasswordHasher:
    """A password hasher at the floor parameters."""
    return PasswordHasher(FLOOR)


@pytest.fixture
def cipher() -> SecretCipher:
    """A workspace cipher with a fixed server secret."""
    return SecretCipher(server_secret=b"s" * 32)

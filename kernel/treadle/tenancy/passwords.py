"""Account passwords: Dify's password rule, and argon2id hashes.

The rule is Dify's (at least 8 characters, with at least one letter and one digit); a password
longer than :data:`MAX_PASSWORD_LENGTH` is refused too, so that hashing cannot be made to work on
megabytes. Hashes are argon2id with RFC 9106's second recommended profile (64 MiB, 3 passes,
4 lanes) unless the operator chooses other parameters; a hash made with weaker parameters than the
current ones is reported by :meth:`PasswordHasher.needs_rehash`, so the caller can store a new one
when the user next signs in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import argon2
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from .errors import WeakPassword

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "Argon2Parameters",
    "PasswordHasher",
    "check_password_rules",
]

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024

_LETTER = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"\d")


def check_password_rules(password: str, *, field: str = "password") -> None:
    """Raise :class:`WeakPassword` naming ``field`` and the rule broken, if ``password`` breaks one."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            f"{field}: a password needs at least {MIN_PASSWORD_LENGTH} characters, this one has {len(password)}",
            rule="length",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(
            f"{field}: a password has at most {MAX_PASSWORD_LENGTH} characters, this one has {len(password)}",
            rule="length",
        )
    if not _LETTER.search(password):
        raise WeakPassword(f"{field}: a password needs at least one letter (A-Z or a-z)", rule="letters")
    if not _DIGIT.search(password):
        raise WeakPassword(f"{field}: a password needs at least one digit (0-9)", rule="digits")


@dataclass(frozen=True)
class Argon2Parameters:
    """The cost of an argon2id hash: ``memory_kib`` KiB of memory, ``time_cost`` passes over it,
    ``parallelism`` lanes. The defaults are RFC 9106's second recommended profile."""

    time_cost: int = RFC_9106_LOW_MEMORY.time_cost
    memory_kib: int = RFC_9106_LOW_MEMORY.memory_cost
    parallelism: int = RFC_9106_LOW_MEMORY.parallelism

    def __post_init__(self) -> None:
        # OWASP's floor for argon2id: 19 MiB with two passes (or more memory with one).
        if self.memory_kib < 19 * 1024 or self.time_cost < 1 or self.parallelism < 1:
            raise ValueError(
                f"argon2 parameters too weak for passwords: memory_kib={self.memory_kib} (at least 19456), "
                f"time_cost={self.time_cost} (at least 1), parallelism={self.parallelism} (at least 1)"
            )
        if self.memory_kib < 46 * 1024 and self.time_cost < 2:
            raise ValueError(f"argon2 with memory_kib={self.memory_kib} needs time_cost of at least 2")


class PasswordHasher:
    """Hashes and checks account passwords with argon2id.

    Only hashes are stored; :meth:`verify` takes ``None`` for an account that does not exist (or has
    no password yet) and still spends the time of a real check, so a sign-in does not reveal which
    emails have accounts.
    """

    def __init__(self, parameters: Argon2Parameters | None = None) -> None:
        self.parameters = parameters or Argon2Parameters()
        self._hasher = argon2.PasswordHasher(
            time_cost=self.parameters.time_cost,
            memory_cost=self.parameters.memory_kib,
            parallelism=self.parameters.parallelism,
            type=argon2.Type.ID,
        )
        self._decoy: str | None = None

    def hash(self, password: str) -> str:
        """The encoded hash (``$argon2id$...``) of ``password``, after checking the password rules."""
        check_password_rules(password)
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored_hash``; ``False`` for no hash, a damaged one, or a
        password too long to be one of ours."""
        if len(password) > MAX_PASSWORD_LENGTH:
            return False
        if stored_hash is None:
            if self._decoy is None:
                self._decoy = self._hasher.hash("decoy password 0")
            stored_hash, matches = self._decoy, False
        else:
            matches = True
        try:
            self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return matches

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether ``stored_hash`` was made with other parameters than the current ones (or is not an
        argon2 hash at all): hash the password again on the next good sign-in."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

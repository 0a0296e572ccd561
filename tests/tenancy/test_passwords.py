from __future__ import annotations

import pytest
from treadle.tenancy import (
    MAX_PASSWORD_LENGTH,
    Argon2Parameters,
    PasswordHasher,
    WeakPassword,
    check_password_rules,
)

from .conftest import FLOOR


@pytest.mark.parametrize(
    ("password", "rule", "message"),
    [
        ("", "length", "at least 8 characters, this one has 0"),
        ("abc1234", "length", "at least 8 characters, this one has 7"),
        ("a1" * (MAX_PASSWORD_LENGTH // 2 + 1), "length", f"at most {MAX_PASSWORD_LENGTH} characters"),
        ("12345678", "letters", "at least one letter"),
        ("ééééééé1", "letters", "at least one letter"),
        ("abcdefgh", "digits", "at least one digit"),
    ],
)
def test_password_rules_say_which_rule_is_broken(password: str, rule: str, message: str) -> None:
    with pytest.raises(WeakPassword, match=message) as caught:
        check_password_rules(password, field="new_password")
    assert caught.value.rule == rule
    assert caught.value.message.startswith("new_password: ")
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("password", ["abcdefg1", "1234567a", "pass word 2 with spaces", "Ünïcode-Pässwort-9"])
def test_passwords_of_letters_and_digits_of_eight_characters_or_more_pass(password: str) -> None:
    check_password_rules(password)


def test_default_parameters_are_rfc_9106_low_memory_argon2id() -> None:
    hasher = PasswordHasher()
    stored = hasher.hash("correct horse 1")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert hasher.verify(stored, "correct horse 1")
    assert not hasher.verify(stored, "correct horse 2")
    assert not hasher.needs_rehash(stored)


def test_hash_salts_every_password(hasher: PasswordHasher) -> None:
    first, second = hasher.hash("same password 1"), hasher.hash("same password 1")
    assert first != second
    assert hasher.verify(first, "same password 1") and hasher.verify(second, "same password 1")


def test_hash_refuses_a_password_that_breaks_the_rules(hasher: PasswordHasher) -> None:
    with pytest.raises(WeakPassword, match=r"^password: a password needs at least one digit"):
        hasher.hash("no digits here")


def test_verify_is_false_for_no_account_a_damaged_hash_or_an_overlong_password(hasher: PasswordHasher) -> None:
    stored = hasher.hash("abcdefg1")
    assert not hasher.verify(None, "abcdefg1")
    assert not hasher.verify(None, "decoy password 0")
    assert not hasher.verify("not a hash", "abcdefg1")
    assert not hasher.verify(stored[:-8], "abcdefg1")
    assert not hasher.verify(stored, "a1" * MAX_PASSWORD_LENGTH)


def test_a_hash_made_with_other_parameters_needs_rehash(hasher: PasswordHasher) -> None:
    stronger = PasswordHasher(Argon2Parameters(time_cost=3, memory_kib=FLOOR.memory_kib, parallelism=1))
    old = hasher.hash("abcdefg1")
    # The old hash still signs in, and says it should be replaced.
    assert stronger.verify(old, "abcdefg1")
    assert stronger.needs_rehash(old)
    assert not stronger.needs_rehash(stronger.hash("abcdefg1"))
    assert stronger.needs_rehash("$2b$12$not-an-argon2-hash")


@pytest.mark.parametrize(
    ("time_cost", "memory_kib", "parallelism", "message"),
    [
        (3, 8 * 1024, 1, "memory_kib=8192 \\(at least 19456\\)"),
        (0, 64 * 1024, 1, "time_cost=0"),
        (1, 64 * 1024, 0, "parallelism=0"),
        (1, 19 * 1024, 1, "needs time_cost of at least 2"),
    ],
)
def test_parameters_below_owasp_floor_are_refused(
    time_cost: int, memory_kib: int, parallelism: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Argon2Parameters(time_cost=time_cost, memory_kib=memory_kib, parallelism=parallelism)

"""The failed sign-in throttle against the database, with a clock the test moves: five failures
within a minute lock an email out until the oldest of them is a minute old; the count lives in
``login_failures``, so two throttles (two server processes) on one database share it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from support.databases import migrated_database
from support.service_api import another_process
from treadle.api.console.throttle import LoginThrottle
from treadle.runtime import DEFAULT_OWNER_EMAIL
from treadle.store import Database, LoginFailure

from .conftest import OWNER_PASSWORD, Console, error_of


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with migrated_database(request.param, tmp_path) as database:
        yield database


async def _rows(db: Database, email: str | None = None) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(LoginFailure)
        if email is not None:
            query = query.where(LoginFailure.email == email)
        return await session.scalar(query) or 0


async def test_five_failures_within_the_window_lock_the_email_until_the_oldest_expires(db: Database) -> None:
    clock = Clock()
    start = clock.now
    throttle = LoginThrottle(db, clock=clock)
    for _ in range(4):
        await throttle.failed("A@example.com")
        clock.now += timedelta(seconds=10)
    assert await throttle.retry_after("a@example.com") == 0
    await throttle.failed("a@example.com")
    assert await throttle.retry_after("a@example.com") == 20.0  # the first failure, at +0 s, ends at +60 s
    assert await throttle.retry_after("A@EXAMPLE.COM") == 20.0
    assert await throttle.retry_after("b@example.com") == 0
    assert await _rows(db, "a@example.com") == 5  # kept lowercased
    clock.now = start + timedelta(seconds=60)
    assert await throttle.retry_after("a@example.com") == 0
    assert await _rows(db, "a@example.com") == 4  # the expired one was deleted by the check


async def test_the_wait_counts_from_the_limit_th_newest_failure(db: Database) -> None:
    """Failures beyond the limit keep the email locked until the fifth newest is a minute old."""
    clock = Clock()
    start = clock.now
    throttle = LoginThrottle(db, clock=clock)
    for _ in range(7):
        await throttle.failed("a@example.com")
        clock.now += timedelta(seconds=5)
    # Failures at +0 .. +30 s, now +35 s: the fifth newest is at +10 s, so the wait ends at +70 s.
    assert await throttle.retry_after("a@example.com") == 35.0
    clock.now = start + timedelta(seconds=69)
    assert await throttle.retry_after("a@example.com") == 1.0
    clock.now = start + timedelta(seconds=70)
    assert await throttle.retry_after("a@example.com") == 0


async def test_a_success_forgets_the_failures_and_old_rows_are_deleted(db: Database) -> None:
    clock = Clock()
    throttle = LoginThrottle(db, clock=clock)
    for _ in range(5):
        await throttle.failed("a@example.com")
    await throttle.failed("b@example.com")
    await throttle.succeeded("A@example.com")
    assert await throttle.retry_after("a@example.com") == 0
    assert await _rows(db, "a@example.com") == 0 and await _rows(db, "b@example.com") == 1
    clock.now += timedelta(seconds=61)
    await throttle.failed("c@example.com")
    assert await throttle.retry_after("c@example.com") == 0
    assert await _rows(db) == 1  # b's expired failure went when c was checked


async def test_two_throttles_on_one_database_share_the_count(db: Database) -> None:
    """What two server processes do: failures recorded by one lock the email out in the other, and a
    success in the other forgets them for both."""
    clock = Clock()
    first, second = LoginThrottle(db, clock=clock), LoginThrottle(db, clock=clock)
    for throttle in (first, second, first, second, first):
        await throttle.failed("a@example.com")
    assert await second.retry_after("a@example.com") == 60.0
    await second.succeeded("a@example.com")
    assert await first.retry_after("a@example.com") == 0


async def test_failed_sign_ins_through_one_application_count_in_another(console: Console) -> None:
    """Two server applications on one database (two worker processes): five failed sign-ins through
    the first lock the email out of the second, whatever the password."""
    for _ in range(5):
        wrong = await console.client.post("/login", json={"email": DEFAULT_OWNER_EMAIL, "password": "wrong-password"})
        assert wrong.status_code == 401, wrong.text
    async with another_process(console.api, base_url="http://treadle.test/console/api") as (_, other):
        locked = await other.post("/login", json={"email": DEFAULT_OWNER_EMAIL.upper(), "password": OWNER_PASSWORD})
        assert locked.status_code == 429, locked.text
        assert error_of(locked)["code"] == "too_many_requests"
        assert 0 < int(locked.headers["Retry-After"]) <= 60
        # Another email is not affected.
        someone = await other.post("/login", json={"email": "someone@example.com", "password": "wrong-password"})
        assert someone.status_code == 401, someone.text

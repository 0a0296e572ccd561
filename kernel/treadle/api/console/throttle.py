"""Failed sign-ins per email: after five within a minute, that email is refused until the oldest of
them is a minute old (429 ``too_many_requests``), whatever the password.

The failures are ``login_failures`` rows, so the count is shared by every server process on the
database (several workers, or several servers on one PostgreSQL): a request may land on any of them.
Emails are compared lowercased. Checking an email deletes every failure older than the window, of
any email, so the table holds no more than one window's failures (plus those of a window with no
sign-in at all).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from ...store import Database, LoginFailure, utcnow

__all__ = ["LoginThrottle"]

#: The longest email the table keeps (``login_failures.email`` is VARCHAR(255)).
_EMAIL_LENGTH = 255


class LoginThrottle:
    """Counts failed sign-ins per email over a sliding window, in the database.

    ``clock`` gives the current time (an aware UTC datetime); tests pass one they move.
    """

    def __init__(
        self,
        db: Database,
        *,
        limit: int = 5,
        window: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.limit = limit
        self.window = window
        self._clock = clock

    async def retry_after(self, email: str) -> float:
        """Seconds until ``email`` may try again; 0 when it may now."""
        now = self._clock()
        window = timedelta(seconds=self.window)
        async with self.db.session() as session:
            await session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - window))
            recent = list(
                await session.scalars(
                    select(LoginFailure.failed_at)
                    .where(LoginFailure.email == _key(email), LoginFailure.failed_at > now - window)
                    .order_by(LoginFailure.failed_at.desc())
                    .limit(self.limit)
                )
            )
        if len(recent) < self.limit:
            return 0.0
        return max((recent[-1] + window - now).total_seconds(), 0.0)

    async def failed(self, email: str) -> None:
        """Record a failed sign-in of ``email``."""
        async with self.db.session() as session:
            session.add(LoginFailure(email=_key(email), failed_at=self._clock()))

    async def succeeded(self, email: str) -> None:
        """Forget the failures of ``email`` (it signed in)."""
        async with self.db.session() as session:
            await session.execute(delete(LoginFailure).where(LoginFailure.email == _key(email)))


def _key(email: str) -> str:
    """The email as the table keeps it: lowercased, cut to the column's length (lowercasing may
    lengthen some characters; two such emails alike in their first 255 characters share a count)."""
    return email.lower()[:_EMAIL_LENGTH]

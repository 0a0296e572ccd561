"""Failed sign-ins per email: after five within a minute, that email is refused until the oldest of
them is a minute old (429 ``too_many_requests``), whatever the password.

Kept in this process's memory: with several API replicas each counts its own failures. Emails are
compared lowercased; the table is bounded, dropping the emails whose failures are oldest.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["LoginThrottle"]


class LoginThrottle:
    """Counts failed sign-ins per email over a sliding window."""

    def __init__(
        self,
        *,
        limit: int = 5,
        window: float = 60.0,
        max_emails: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_emails = max_emails
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, email: str) -> float:
        """Seconds until ``email`` may try again; 0 when it may now."""
        failures = self._recent(email.lower())
        if len(failures) < self.limit:
            return 0.0
        return max(failures[-self.limit] + self.window - self._clock(), 0.0)

    def failed(self, email: str) -> None:
        """Record a failed sign-in of ``email``."""
        key = email.lower()
        failures = self._recent(key)
        failures.append(self._clock())
        self._failures[key] = failures
        self._failures.move_to_end(key)
        while len(self._failures) > self.max_emails:
            self._failures.popitem(last=False)

    def succeeded(self, email: str) -> None:
        """Forget the failures of ``email`` (it signed in)."""
        self._failures.pop(email.lower(), None)

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures.get(key, deque())
        cutoff = self._clock() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            self._failures.pop(key, None)
        return failures

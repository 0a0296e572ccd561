"""The failed sign-in throttle on its own, with a clock the test moves: five failures within a minute
lock an email out until the oldest of them is a minute old."""

from __future__ import annotations

from treadle.api.console.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_within_the_window_lock_the_email_until_the_oldest_expires() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(4):
        throttle.failed("A@example.com")
        clock.now += 10
    assert throttle.retry_after("a@example.com") == 0
    throttle.failed("a@example.com")
    assert throttle.retry_after("a@example.com") == 20.0  # the first failure, at 1000, ends at 1060
    assert throttle.retry_after("b@example.com") == 0
    clock.now = 1060.0
    assert throttle.retry_after("a@example.com") == 0


def test_a_success_forgets_the_failures_and_the_table_is_bounded() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock, max_emails=3)
    for _ in range(5):
        throttle.failed("a@example.com")
    throttle.succeeded("a@example.com")
    assert throttle.retry_after("a@example.com") == 0
    for name in ("b", "c", "d", "e"):
        for _ in range(5):
            throttle.failed(f"{name}@example.com")
    assert throttle.retry_after("b@example.com") == 0  # dropped: the oldest of four over a bound of three
    assert throttle.retry_after("e@example.com") > 0

"""Failed-login throttling: the schedule of waits (fake clock) — the real server is in tests/e2e."""

from __future__ import annotations

from rag.ui.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_growing_delay_then_lockout_then_forgiven() -> None:
    clock = Clock()
    t = LoginThrottle(free=3, base_s=1, cap_s=30, lockout_after=10, lockout_s=900, forget_s=3600, clock=clock)
    waits = []
    for _ in range(10):
        assert t.retry_after("a") == 0
        waits.append(t.failed("a"))
        clock.now += waits[-1]
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 30, 900]
    clock.now -= 1
    assert t.retry_after("a") == 1  # still locked out one second before the window ends
    assert t.retry_after("b") == 0  # another client is not affected
    clock.now += 1 + 3601
    assert t.retry_after("a") == 0 and t.failed("a") == 0  # an hour of quiet after the lockout: forgiven


def test_success_clears_and_memory_is_bounded() -> None:
    clock = Clock()
    t = LoginThrottle(free=0, base_s=5, clock=clock, max_clients=100)
    t.failed("a")
    assert t.retry_after("a") == 5
    t.succeeded("a")
    assert t.retry_after("a") == 0
    for i in range(1000):
        t.failed(f"10.0.{i // 256}.{i % 256}")
        clock.now += 10  # each wait has passed: evictable
    assert len(t._clients) <= 100

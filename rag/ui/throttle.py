"""Failed-login throttling for the UI's ``/login`` route: a growing delay per client, then a lockout.

An ASGI middleware in front of Gradio's app: it watches ``POST /login`` answers, counts failures
per client address, and answers 429 with ``Retry-After`` while a client must wait. No gradio here.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

__all__ = ["LoginThrottle", "ThrottleMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class _Client:
    failures: int = 0
    wait_until: float = 0.0
    last: float = 0.0


class LoginThrottle:
    """Per-client failures: after failure ``n`` wait ``base · 2^(n-free-1)`` s (capped at ``cap_s``),
    after ``lockout_after`` failures wait ``lockout_s``; a success or ``forget_s`` of quiet clears a client."""

    def __init__(
        self,
        *,
        free: int = 3,
        base_s: float = 1.0,
        cap_s: float = 30.0,
        lockout_after: int = 10,
        lockout_s: float = 900.0,
        forget_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.free, self.base_s, self.cap_s = free, base_s, cap_s
        self.lockout_after, self.lockout_s, self.forget_s = lockout_after, lockout_s, forget_s
        self.clock = clock
        self.max_clients = max_clients
        self._clients: dict[str, _Client] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> float:
        """Seconds ``client`` must still wait before its next try (0 when it may try now)."""
        now = self.clock()
        with self._lock:
            c = self._clients.get(client)
            if c is None:
                return 0.0
            if now - c.last > self.forget_s and now >= c.wait_until:
                del self._clients[client]
                return 0.0
            return max(0.0, c.wait_until - now)

    def failed(self, client: str) -> float:
        """Record a failed login; returns the wait imposed before the next try."""
        now = self.clock()
        with self._lock:
            if len(self._clients) >= self.max_clients and client not in self._clients:
                self._evict(now)
            c = self._clients.setdefault(client, _Client())
            c.failures += 1
            c.last = now
            if c.failures >= self.lockout_after:
                wait = self.lockout_s
            elif c.failures > self.free:
                wait = min(self.cap_s, self.base_s * 2 ** (c.failures - self.free - 1))
            else:
                wait = 0.0
            c.wait_until = now + wait
            return wait

    def succeeded(self, client: str) -> None:
        """A correct login clears the client's record."""
        with self._lock:
            self._clients.pop(client, None)

    def _evict(self, now: float) -> None:
        # Keep memory bounded under a spray of addresses: drop the clients not locked out, oldest first.
        free = sorted((c.last, k) for k, c in self._clients.items() if c.wait_until <= now)
        for _, k in free[: max(1, len(free) // 2)]:
            del self._clients[k]


class ThrottleMiddleware:
    """ASGI middleware: throttles ``POST /login`` per client address with a :class:`LoginThrottle`."""

    def __init__(self, app: ASGIApp, throttle: LoginThrottle | None = None, path: str = "/login") -> None:
        self.app = app
        self.throttle = throttle or LoginThrottle()
        self.path = path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or scope.get("method") != "POST" or self._path(scope) != self.path:
            await self.app(scope, receive, send)
            return
        # The address the connection comes from: a proxy's X-Forwarded-For is client-chosen, so not trusted.
        client = str((scope.get("client") or ("unknown", 0))[0])
        wait = self.throttle.retry_after(client)
        if wait > 0:
            # A try during the wait counts as a failure too: hammering only brings the lockout closer.
            await _too_many(send, max(wait, self.throttle.failed(client)))
            return
        status: list[int] = []

        async def watch(message: Message) -> None:
            if message.get("type") == "http.response.start":
                status.append(int(message.get("status", 0)))
            await send(message)

        await self.app(scope, receive, watch)
        if status and 200 <= status[0] < 300:
            self.throttle.succeeded(client)
        elif status and status[0] in (400, 401, 403):
            self.throttle.failed(client)

    def _path(self, scope: Scope) -> str:
        path = str(scope.get("path", ""))
        root = str(scope.get("root_path", "") or "")
        if root and path.startswith(root):
            path = path[len(root) :]
        return path.rstrip("/")


async def _too_many(send: Send, wait: float) -> None:
    seconds = max(1, math.ceil(wait))
    body = json.dumps({"detail": f"Too many failed logins: try again in {seconds} s."}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"retry-after", str(seconds).encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

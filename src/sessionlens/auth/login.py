"""Checking a login: throttled, and hashed on threads of its own.

scrypt costs ~30-60 ms of CPU per guess. Run on Starlette's shared thread
pool, a login flood starved ingest (which uses that pool too). Here the
password check runs on a small executor of its own (login_hash_workers
threads) with a bounded queue (login_hash_queue): when full, a login is
answered 503 at once instead of waiting, so a flood costs at most that
many cores and a bounded amount of memory.
"""

from __future__ import annotations

import asyncio
import math
import threading
from concurrent.futures import ThreadPoolExecutor

from sessionlens.auth.throttle import FailureThrottle, address_key
from sessionlens.auth.users import Accounts, User
from sessionlens.settings import Settings


class LoginRefused(Exception):
    """The attempt was not checked at all; status is 429 or 503."""

    def __init__(self, status: int, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


class PasswordCheckPool:
    def __init__(self, workers: int, queue: int) -> None:
        self._executor = ThreadPoolExecutor(max(1, workers), thread_name_prefix="login-check")
        self._slots = threading.BoundedSemaphore(max(1, workers) + max(0, queue))

    async def run(self, accounts: Accounts, name: str, password: str) -> User | None:
        if not self._slots.acquire(blocking=False):
            raise LoginRefused(503, "too many logins being checked; try again in a moment", 1)
        future = self._executor.submit(accounts.authenticate, name, password)
        # Released when the check ends, not when the caller stops waiting:
        # a client that hangs up does not free a slot still in use.
        future.add_done_callback(lambda _: self._slots.release())
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class LoginGate:
    def __init__(self, accounts: Accounts, settings: Settings) -> None:
        self.accounts = accounts
        self.by_name = FailureThrottle(settings.login_max_failures, settings.login_lockout_seconds)
        self.by_address = FailureThrottle(
            settings.login_max_failures_per_address, settings.login_lockout_seconds
        )
        self.pool = PasswordCheckPool(settings.login_hash_workers, settings.login_hash_queue)

    async def check(self, name: str, password: str, address: str) -> User | None:
        """The user when the password is right, None when it is wrong.

        Raises LoginRefused (without checking the password) while the name
        or the address is locked, or when the check queue is full.
        """
        # Names are looked up case-sensitively but locked case-insensitively,
        # so "Ada" and "ADA" do not buy an attacker more guesses.
        name_key, addr_key = name[:64].lower(), address_key(address)
        wait = max(self.by_name.retry_after(name_key), self.by_address.retry_after(addr_key))
        if wait > 0:
            raise LoginRefused(
                429, f"too many failed logins; try again in {math.ceil(wait)} s", math.ceil(wait)
            )
        self.by_name.begin(name_key)
        self.by_address.begin(addr_key)
        try:
            user = await self.pool.run(self.accounts, name, password)
        except LoginRefused:
            self.by_name.forgive(name_key)
            self.by_address.forgive(addr_key)
            raise
        if user is not None:
            self.by_name.clear(name_key)
            self.by_address.forgive(addr_key)
        return user

    def close(self) -> None:
        self.pool.close()

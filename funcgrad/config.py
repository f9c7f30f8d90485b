"""Settings: `funcgrad.config.debug_nans`, per thread.

Each setting lives in a context variable, so setting it affects the current thread (and
asyncio task) only: two threads can run with and without debug_nans at the same time.
A new thread starts from the defaults.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_debug_nans: ContextVar[bool] = ContextVar("funcgrad_debug_nans", default=False)

checking_nans = _debug_nans.get
"""Whether debug_nans is on in this thread: a plain call, for the hot paths that ask."""


class Config:
    """funcgrad's settings. debug_nans: raise at the first primitive that makes a nan or inf."""

    @property
    def debug_nans(self) -> bool:
        """Whether primitives check their outputs for nan and inf (in this thread)."""
        return _debug_nans.get()

    @debug_nans.setter
    def debug_nans(self, enabled: bool) -> None:
        _debug_nans.set(bool(enabled))


config = Config()


@contextmanager
def debug_nans(enabled: bool = True) -> Iterator[None]:
    """Within the block, the first primitive producing a nan or inf raises FloatingPointError."""
    token = _debug_nans.set(bool(enabled))
    try:
        yield
    finally:
        _debug_nans.reset(token)

"""Global switches: `funcgrad.config.debug_nans`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class Config:
    """funcgrad's settings. debug_nans: raise at the first primitive that makes a nan or inf."""

    def __init__(self) -> None:
        self.debug_nans = False


config = Config()


@contextmanager
def debug_nans(enabled: bool = True) -> Iterator[None]:
    """Within the block, the first primitive producing a nan or inf raises FloatingPointError."""
    previous = config.debug_nans
    config.debug_nans = enabled
    try:
        yield
    finally:
        config.debug_nans = previous

"""Timing helpers shared by the benchmark scripts (overhead.py, conv.py, mnist.py, ...).

`compare_rates` times several zero-argument functions in interleaved rounds, so that a
slow phase of the machine (other processes, frequency scaling) hits every contender
alike and ratios taken from one run stay meaningful. `LoadMeter` measures the CPU that
other processes used meanwhile (all CPU time in /proc/stat minus this process's own), in
cores: on a 2-core machine one busy neighbour slows multi-threaded BLAS by 2-10x, so a
round above 0.3 foreign cores is marked, and `wait_for_quiet` waits for a quiet machine
before timing starts; `QuietRounds` picks the rounds whose results may be reported, and
says when none was quiet. Each round times one block of calls per function; a block is
sized to last at least `min_time` seconds. Objects alive before timing (imported
libraries, inputs) are moved out of the garbage collector's view (gc.freeze), so a
collection costs each contender only for its own garbage rather than for walking the
heap of whatever large libraries happen to be imported.
"""

from __future__ import annotations

import gc
import math
import os
import resource
import statistics
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["LOAD_HEADERS", "QUIET", "LoadMeter", "QuietRounds", "best_rate", "busy_rounds",
           "calls_per_block", "compare_rates", "format_rate", "format_table", "load_cells",
           "median_rate", "time_block", "wait_for_quiet", "wait_report"]

QUIET = 0.3
"""Foreign load (cores) above which a timing is marked as taken on a busy machine."""


def _busy_seconds() -> float:
    """CPU seconds all processes have spent busy since boot (Linux /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    """CPU seconds this process (all its threads) and its finished children have used."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class LoadMeter:
    """Measures how many cores other processes kept busy between start() and stop()."""

    def __init__(self) -> None:
        self._start = (0.0, 0.0, 0.0)
        self.available = os.path.exists("/proc/stat")

    def start(self) -> None:
        """Begin a measurement."""
        if self.available:
            self._start = (time.perf_counter(), _busy_seconds(), _own_seconds())

    def stop(self) -> float:
        """Foreign cores used on average since start() (0.0 where it cannot be measured)."""
        if not self.available:
            return 0.0
        t0, busy0, own0 = self._start
        wall = time.perf_counter() - t0
        foreign = (_busy_seconds() - busy0) - (_own_seconds() - own0)
        return max(foreign / wall, 0.0) if wall > 0 else 0.0


def wait_for_quiet(max_wait: float = 120.0, window: float = 1.0) -> float:
    """Wait (up to max_wait seconds) until other processes use under QUIET cores over a
    window; returns the last measured foreign load."""
    meter = LoadMeter()
    deadline = time.perf_counter() + max_wait
    while True:
        meter.start()
        time.sleep(window)
        load = meter.stop()
        if load < QUIET or time.perf_counter() > deadline:
            return load


def wait_report(load: float) -> str:
    """The line to print about the load wait_for_quiet returned."""
    gave_up = " (still busy: gave up waiting for a quiet machine)" if load >= QUIET else ""
    return f"foreign load before timing: {load:.2f} cores{gave_up}"


def time_block(fn: Callable[[], object], n: int) -> float:
    """Seconds taken by `n` consecutive calls of fn (garbage collected beforehand)."""
    gc.collect()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - start


def calls_per_block(fn: Callable[[], object], min_time: float) -> int:
    """How many calls of fn take about `min_time` seconds (this also warms fn up)."""
    n = 1
    while True:
        elapsed = time_block(fn, n)
        if elapsed >= min_time / 4:
            return max(1, math.ceil(n * min_time / elapsed))
        n *= 4 if elapsed < min_time / 40 else 2


def compare_rates(fns: Mapping[str, Callable[[], object]], *, min_time: float = 0.2,
                  rounds: int = 5, warmup: int = 3,
                  loads: dict[str, list[float]] | None = None) -> dict[str, list[float]]:
    """Calls per second of each function, one entry per round (rounds interleave the
    functions); with `loads`, the foreign load (cores) during each block is recorded
    there, per function, alongside."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    gc.collect()
    gc.freeze()
    sizes = {name: calls_per_block(fn, min_time) for name, fn in fns.items()}
    rates: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        # Rotate the order so no function always runs right after the same neighbour.
        for name in names[r % len(names):] + names[:r % len(names)]:
            meter = LoadMeter()
            meter.start()
            rates[name].append(sizes[name] / time_block(fns[name], sizes[name]))
            if loads is not None:
                loads.setdefault(name, []).append(meter.stop())
    return rates


def best_rate(fn: Callable[[], object], *, min_time: float = 0.2, rounds: int = 5) -> float:
    """The best calls per second of fn over `rounds` blocks."""
    return max(compare_rates({"fn": fn}, min_time=min_time, rounds=rounds)["fn"])


def median_rate(rates: Sequence[float]) -> float:
    """Median of per-block rates (as returned by compare_rates)."""
    return statistics.median(rates)


def format_rate(rate: float) -> str:
    """Calls per second for a table: thousands separated, a decimal below 100."""
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:,.1f}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                 right: Collection[int] = ()) -> str:
    """A plain-text table; columns whose index is in `right` are right-aligned."""
    widths = [max(len(str(cell)) for cell in col) for col in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


LOAD_HEADERS = ("foreign cores (median)", "busy rounds")
"""Column headers for `load_cells`."""


def busy_rounds(loads: Sequence[float]) -> int:
    """How many blocks ran while other processes used more than QUIET cores."""
    return sum(load > QUIET for load in loads)


def load_cells(loads: Sequence[float]) -> list[str]:
    """One contender's foreign load for a table row, under LOAD_HEADERS."""
    return [f"{statistics.median(loads):.2f}", f"{busy_rounds(loads)}/{len(loads)}"]


@dataclass(frozen=True)
class QuietRounds:
    """The rounds of one compare_rates run that its results are taken from.

    Those are the rounds in which every contender's block was quiet: a ratio of blocks
    from a round where only one side was slowed down by a neighbour says nothing about
    the code. If no round was quiet, every round is used and `under_load` is set; such
    a result may be shown, but it cannot establish that a target is met.
    """

    indices: tuple[int, ...]
    total: int
    under_load: bool

    @classmethod
    def of(cls, loads: Mapping[str, Sequence[float]]) -> QuietRounds:
        """From the loads that compare_rates recorded."""
        per_name = list(loads.values())
        total = min((len(blocks) for blocks in per_name), default=0)
        quiet = tuple(r for r in range(total) if all(b[r] <= QUIET for b in per_name))
        return cls(quiet or tuple(range(total)), total, not quiet)

    def pick(self, values: Sequence[float]) -> list[float]:
        """The entries of a per-round list (rates, loads) that belong to these rounds."""
        return [values[r] for r in self.indices]

    def met(self, met: bool) -> bool | None:
        """Whether a target is met, or None when the machine was too busy to tell."""
        return None if self.under_load else met

    def verdict(self, met: bool) -> str:
        """A target's verdict for a report."""
        if self.under_load:
            return "not established (machine busy)"
        return "met" if met else "NOT MET"

    def describe(self) -> str:
        """Which rounds the results come from, as a line under their table."""
        if self.under_load:
            return (f"UNDER LOAD: no round was quiet (each of the {self.total} had a block "
                    f"above {QUIET} foreign cores); results taken from all rounds, so no "
                    f"target can be established")
        return (f"results from the {len(self.indices)}/{self.total} rounds in which every "
                f"block ran at <= {QUIET} foreign cores")

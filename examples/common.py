"""Shared helpers for the example scripts: command line, tables, figures, progress, running a
script."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import io
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only, no display needed

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

# Run from a checkout without `pip install -e .`: make the funcgrad beside examples/ importable.
if importlib.util.find_spec("funcgrad") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Piped stdout (a log file, CI) is block-buffered, so lines printed there would land long
# after the progress lines written to stderr meanwhile; line by line keeps them in order.
if isinstance(sys.stdout, io.TextIOWrapper) and not sys.stdout.isatty():
    sys.stdout.reconfigure(line_buffering=True)

__all__ = ["Progress", "explain", "make_parser", "plt", "print_table", "progress_bar",
           "run_example", "save_figure", "section"]


def make_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every example shares: --out, --quick, --seed."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("out"),
                        help="folder for the PNG figures (default: out/)")
    parser.add_argument("--quick", action="store_true",
                        help="a smaller, faster run (used by the tests)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    return parser


def section(title: str) -> None:
    """Print a heading."""
    print(f"\n{title}\n{'=' * len(title)}")


def explain(text: str) -> None:
    """Print a paragraph of explanation, dedented and wrapped to 88 columns."""
    for paragraph in textwrap.dedent(text).strip().split("\n\n"):
        print(textwrap.fill(" ".join(paragraph.split()), width=88))
        print()


def _cell(value: Any, digits: int) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value) + 0.0:.{digits}f}"  # + 0.0 turns -0.0 into 0.0
    return str(value)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 6) -> None:
    """Print rows as an aligned text table; floats get `digits` decimals."""
    cells = [[_cell(v, digits) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    print(line)
    for r in cells:
        print("  ".join(c.rjust(w) if _numeric(c) else c.ljust(w)
                        for c, w in zip(r, widths)).rstrip())
    print()


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def save_figure(fig: Any, out_dir: Path, name: str) -> Path:
    """Write fig as out_dir/name (PNG), close it, print and return the path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(f"figure written: {path}")
    return path


class Progress(Protocol):
    """What progress_bar returns: the part of tqdm's interface the examples use."""

    def update(self, n: int = 1) -> None: ...

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None: ...

    def close(self) -> None: ...


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


class _LineProgress:
    """One line when done (for logs and pipes: no carriage returns, no redrawing)."""

    def __init__(self, desc: str, total: int | None, unit: str, initial: int,
                 stream: IO[str]) -> None:
        self._desc, self._total, self._unit, self._stream = desc, total, unit, stream
        self._initial = self._done = initial
        self._postfix = ""

    def update(self, n: int = 1) -> None:
        self._done += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self._postfix = s

    def close(self) -> None:
        if self._done > self._initial:
            self._stream.write(self._line() + "\n")
            self._stream.flush()
        self._initial = self._done  # closing twice writes once

    def _amount(self) -> str:
        if self._unit == "B":
            return f"{self._done / 2**20:.1f} MiB" if self._done >= 2**20 else f"{self._done:,} B"
        if self._total:
            return f"{self._done}/{self._total} {self._unit}"
        return f"{self._done} {self._unit}"

    def _line(self) -> str:
        return f"{self._desc}: {self._amount()}" + (f", {self._postfix}" if self._postfix else "")


class _PercentProgress(_LineProgress):
    """A line redrawn in place on a terminal, for when tqdm is not installed."""

    def __init__(self, desc: str, total: int | None, unit: str, initial: int,
                 stream: IO[str]) -> None:
        super().__init__(desc, total, unit, initial, stream)
        self._shown = ""

    def update(self, n: int = 1) -> None:
        super().update(n)
        # Redraw only when the percentage (or amount) changes, to keep writes rare.
        shown = f"{100 * self._done // self._total:3d}%" if self._total else self._amount()
        if shown != self._shown:
            self._shown = shown
            self._stream.write(f"\r{self._desc}: {shown}")
            self._stream.flush()

    def close(self) -> None:
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()
        self._shown = ""


def _import_tqdm() -> Callable[..., Any] | None:
    # Imported by name: tqdm is an optional dependency without type stubs.
    try:
        factory = importlib.import_module("tqdm").tqdm
    except (ImportError, AttributeError):
        return None
    return factory if callable(factory) else None


def progress_bar(total: int | None, desc: str, unit: str, *, initial: int = 0,
                 enabled: bool = True) -> Progress:
    """Progress on stderr: a tqdm bar on a terminal (a percentage without tqdm), one line
    when done where stderr is a file or pipe, nothing if not enabled; unit "B" counts bytes."""
    if not enabled:
        return _Silent()
    stream = sys.stderr
    if not stream.isatty():
        return _LineProgress(desc, total, unit, initial, stream)
    factory = _import_tqdm()
    if factory is None:
        return _PercentProgress(desc, total, unit, initial, stream)
    scale = {"unit_scale": True, "unit_divisor": 1024} if unit == "B" else {}
    bar: Progress = factory(total=total, initial=initial, desc=desc, unit=unit, file=stream,
                            dynamic_ncols=True, **scale)
    return bar


def run_example(name: str, cwd: Path, *args: str, timeout: float = 600.0
                ) -> subprocess.CompletedProcess[str]:
    """Run examples/NAME.py with this Python in cwd, as a student would (used by the tests)."""
    script = Path(__file__).resolve().parent / f"{name}.py"
    return subprocess.run([sys.executable, str(script), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False)

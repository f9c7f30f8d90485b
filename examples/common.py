"""Shared helpers for the example scripts: command line, tables, figures, running a script."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only, no display needed

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

# Run from a checkout without `pip install -e .`: make the funcgrad beside examples/ importable.
if importlib.util.find_spec("funcgrad") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

__all__ = ["explain", "make_parser", "plt", "print_table", "run_example", "save_figure", "section"]


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


def run_example(name: str, cwd: Path, *args: str, timeout: float = 600.0
                ) -> subprocess.CompletedProcess[str]:
    """Run examples/NAME.py with this Python in cwd, as a student would (used by the tests)."""
    script = Path(__file__).resolve().parent / f"{name}.py"
    return subprocess.run([sys.executable, str(script), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False)

#!/usr/bin/env python3
"""The project's two commands: `python3 dev.py examples` and `python3 dev.py test`.

Each sets up a local virtual environment in .venv on first use (and again when
pyproject.toml changes), so a fresh machine with Python 3.10+ needs nothing else.
Only the standard library is used here, because this runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".funcgrad-installed"

# The examples in the order a student meets them on the sheet, each with its own arguments
# before the ones passed on; the MNIST run is last because it is the long one, and keeps
# its network in a checkpoint that mnist_analysis.py then draws.
MNIST_CHECKPOINT = Path("out") / "mnist_cnn.npz"
EXAMPLES = [("ascent.py",), ("softmax_xent.py",), ("gradcam.py",),
            ("mnist_cnn.py", "--checkpoint", str(MNIST_CHECKPOINT), "--overwrite"),
            ("mnist_analysis.py", str(MNIST_CHECKPOINT))]


# OpenBLAS's idle threads otherwise spin for about a tenth of a second after every matrix
# product, taking a core of a small machine from the rest of the training step (the MNIST
# step runs about 13% faster without; see README, Threads). A value set by the user wins.
ENV = {"OPENBLAS_THREAD_TIMEOUT": "4", **os.environ}


def run(*cmd: str | Path) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True, env=ENV)


def setup() -> None:
    """Create .venv and install funcgrad with its dev and examples extras, once per pyproject."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[dev,examples]")
    STAMP.write_text(wanted)


def examples(extra: list[str]) -> None:
    (ROOT / MNIST_CHECKPOINT).parent.mkdir(exist_ok=True)
    for name, *own in EXAMPLES:
        if (ROOT / "examples" / name).exists():
            run(PYTHON, ROOT / "examples" / name, *own, *extra)


def test(extra: list[str]) -> None:
    run(PYTHON, "-m", "mypy")
    run(PYTHON, "-m", "pytest", *extra)


def main() -> int:
    commands = {"examples": examples, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        print("usage: python3 dev.py {examples|test} [extra arguments passed on]")
        return 2
    setup()
    try:
        commands[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as err:
        return err.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

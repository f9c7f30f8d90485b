"""funcgrad's types as a user's mypy sees them, through the installed package.

mypy runs once, as a subprocess with this Python, in a temporary directory outside the
checkout: funcgrad must be found the way a user's project finds it (the editable install
of dev.py or `pip install -e .`), not through the checkout's own search path. It checks
tests/typed_usage.py (correct code, with assert_type) beside MISUSE below, whose lines
marked `# E: code: text` must each give exactly errors of that code and text, and whose
other lines none.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

MISUSE = '''\
from typed_usage import F64, loss, loss_aux
import funcgrad as fg


def misuse(w: F64, x: F64) -> None:
    fg.grad(loss)("w", x)  # E: arg-type: Argument 1 has incompatible type "str"
    fg.value_and_grad(loss)(w, x, 3)  # E: call-arg: Too many arguments
    fg.vmap(loss)(w)  # E: call-arg: Too few arguments
    fg.jit(loss)(w, y=x)  # E: call-arg: Unexpected keyword argument "y"
    fg.jacrev(loss)(w, "x")  # E: arg-type: Argument 2 has incompatible type "str"
    fg.jacfwd(loss)(w)  # E: call-arg: Too few arguments
    fg.hessian(loss)(w, x, x)  # E: call-arg: Too many arguments
    fg.checkpoint(loss)(w, "x")  # E: arg-type: Argument 2 has incompatible type "str"
    fg.jit(loss)(w, x).no_such_method()  # E: union-attr: has no attribute "no_such_method"
    fg.value_and_grad(loss)(w, x)[0].item_  # E: union-attr: has no attribute "item_"
    fg.grad(loss_aux)(w, x)  # E: arg-type: Argument 1 to "grad" has incompatible type
    fg.grad(loss, has_aux=True)(w, x)  # E: call-overload: No overload variant of "grad"
'''

ERROR = re.compile(r"^(?P<file>[\w.]+):(?P<line>\d+): error: (?P<text>.*?)  \[(?P<code>[\w-]+)\]$")


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    """mypy --strict on typed_usage.py and misuse.py, run where only the install is visible."""
    work = tmp_path_factory.mktemp("user_project")
    shutil.copy(HERE / "typed_usage.py", work / "typed_usage.py")
    (work / "misuse.py").write_text(MISUSE)
    (work / "mypy.ini").write_text("[mypy]\nstrict = True\n")
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--cache-dir",
         str(work / ".mypy_cache"), "typed_usage.py", "misuse.py"],
        cwd=work, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert result.stderr == "", result.stderr
    return result.stdout


def _errors(output: str, file: str) -> dict[int, list[tuple[str, str]]]:
    found: dict[int, list[tuple[str, str]]] = {}
    for line in output.splitlines():
        m = ERROR.match(line)
        if m and m["file"] == file:
            found.setdefault(int(m["line"]), []).append((m["code"], m["text"]))
    return found


def test_installed_funcgrad_is_visible_to_mypy(mypy_output: str) -> None:
    assert "import-not-found" not in mypy_output and "import-untyped" not in mypy_output, (
        "mypy does not see the installed funcgrad (install it as dev.py does, or with "
        f"`pip install -e .`):\n{mypy_output}")


def test_correct_user_code_passes(mypy_output: str) -> None:
    assert _errors(mypy_output, "typed_usage.py") == {}, mypy_output


def test_misuse_gives_exactly_the_marked_errors(mypy_output: str) -> None:
    expected = {}
    for number, line in enumerate(MISUSE.splitlines(), start=1):
        if "# E: " in line:
            code, text = line.split("# E: ")[1].split(": ", 1)
            expected[number] = (code, text)
    found = _errors(mypy_output, "misuse.py")
    assert sorted(found) == sorted(expected), mypy_output
    for number, (code, text) in expected.items():
        for got_code, got_text in found[number]:
            assert got_code == code and text in got_text, (number, found[number])

"""The examples' shared plumbing (examples/common.py): every script answers --help with the
options all of them share; progress is drawn on a terminal and logged as lines elsewhere."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

import ascent
import common
import gradcam
import softmax_xent

Main = Callable[[Sequence[str] | None], None]


@pytest.mark.parametrize("main", [ascent.main, softmax_xent.main, gradcam.main],
                         ids=["ascent", "softmax_xent", "gradcam"])
def test_help_lists_the_shared_options(main: Main, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--quick" in text and "--out" in text and "--seed" in text


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# Three "epochs" of four steps, each reported by a progress bar and then a printed line.
EPOCHS = """
import common
for epoch in (1, 2, 3):
    bar = common.progress_bar(4, f"epoch {epoch}/3", "batch")
    for _ in range(4):
        bar.update(1)
        bar.set_postfix_str(f"loss {0.5 / epoch:.3f}", refresh=False)
    bar.close()
    print(f"epoch {epoch}/3 done")
"""


def test_progress_in_a_pipe_is_one_line_per_epoch_in_order() -> None:
    # stderr into stdout's pipe, as `python script.py 2>&1 | tee log` does
    result = subprocess.run([sys.executable, "-c", EPOCHS], cwd=EXAMPLES, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=120, check=True)
    assert "\r" not in result.stdout
    assert result.stdout.splitlines() == [
        "epoch 1/3: 4/4 batch, loss 0.500", "epoch 1/3 done",
        "epoch 2/3: 4/4 batch, loss 0.250", "epoch 2/3 done",
        "epoch 3/3: 4/4 batch, loss 0.167", "epoch 3/3 done"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_is_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake_tqdm(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return common._Silent()

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(common, "_import_tqdm", lambda: fake_tqdm)
    common.progress_bar(10, "epoch 1/2", "batch", initial=3).close()
    assert calls == [dict(total=10, initial=3, desc="epoch 1/2", unit="batch", file=terminal,
                          dynamic_ncols=True)]


def test_progress_on_a_terminal_without_tqdm_redraws_a_percentage(
        monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(common, "_import_tqdm", lambda: None)
    bar = common.progress_bar(4, "epoch 1/2", "batch", initial=2)
    bar.update(1)
    bar.update(1)
    bar.close()
    assert terminal.getvalue() == "\repoch 1/2:  75%\repoch 1/2: 100%\n"


def test_progress_disabled_or_idle_writes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    bar = common.progress_bar(4, "silent", "batch", enabled=False)
    bar.update(4)
    bar.close()
    common.progress_bar(4, "no steps", "batch", initial=4).close()
    assert capsys.readouterr() == ("", "")

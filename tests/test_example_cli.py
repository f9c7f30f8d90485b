"""Every example script answers --help with the options all of them share."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

import ascent
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

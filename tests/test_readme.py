"""The README's neural-network code runs as written (its blocks in order, one namespace)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def section(title: str) -> str:
    """The README's text from the heading `title` to the next heading of the same level."""
    text = README.read_text()
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    return text[start:end if end >= 0 else None]


def test_neural_network_section_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", section("## Neural networks"), flags=re.S)
    assert len(blocks) >= 3, "the README's neural-network section lost its code"
    monkeypatch.chdir(tmp_path)  # the checkpoint example writes ckpt.npz
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["out_shape"] == (32, 10)
    assert np.isfinite(namespace["value"]) and namespace["logits"].shape == (32, 10)
    assert (tmp_path / "ckpt.npz").exists() and namespace["ckpt"]["step"] == 10


def test_explain_section_shows_the_real_output(capsys: pytest.CaptureFixture[str]) -> None:
    text = section("## Explaining a gradient")
    (code,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    (shown,) = re.findall(r"```text\n(.*?)```", text, flags=re.S)
    namespace: dict[str, Any] = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert capsys.readouterr().out.rstrip("\n") == shown.rstrip("\n")
    np.testing.assert_allclose(namespace["grad"],
                               np.exp(namespace["z"]) / np.exp(namespace["z"]).sum()
                               - np.eye(5)[1])

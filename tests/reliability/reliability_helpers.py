"""Assertions shared by the reliability tests (imported as ``reliability_helpers``)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (hidden files, .hydra/ and logs included)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("snnvis: error:")]


def assert_one_error(stderr: str, expected_start: str) -> None:
    """stderr is exactly one line, the ``snnvis: error:`` line, and it starts as expected."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines == error_lines(stderr) and len(lines) == 1, stderr
    assert lines[0].startswith(expected_start), lines[0]
    assert "Traceback" not in stderr

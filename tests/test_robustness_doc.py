"""docs/robustness.md names only tests that exist, and at least 30 faults (#16)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_test_the_fault_table_names_exists():
    text = (ROOT / "docs" / "robustness.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`tests/" in line]
    named = {pair for row in rows for pair in re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", row)}
    missing = []
    for path, name in sorted(named):
        tree = ast.parse((ROOT / path).read_text()) if (ROOT / path).is_file() else None
        functions = (
            {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)} if tree else set()
        )
        if name not in functions:
            missing.append(f"{path}::{name}")
    assert not missing, missing
    assert len(rows) >= 30

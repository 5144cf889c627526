"""No loading path unpickles: a model, checkpoint or data file is data, never code (#16)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "msfdiff"


def keyword(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value.value if isinstance(kw.value, ast.Constant) else kw.value
    return None


def unsafe_loads(source: str) -> list[str]:
    """The calls in ``source`` that could run code from a file."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value.id if isinstance(node.func.value, ast.Name) else None
        call = f"{owner}.{node.func.attr}"
        if call == "torch.load" and keyword(node, "weights_only") is not True:
            found.append(f"line {node.lineno}: torch.load without weights_only=True")
        elif call in ("np.load", "numpy.load") and keyword(node, "allow_pickle") is True:
            found.append(f"line {node.lineno}: np.load(allow_pickle=True)")
        elif call in ("pickle.load", "pickle.loads", "joblib.load", "dill.load"):
            found.append(f"line {node.lineno}: {call}")
    return found


def test_the_check_finds_what_it_looks_for():
    bad = "torch.load(p)\nnp.load(p, allow_pickle=True)\npickle.loads(b)\njoblib.load(p)"
    assert len(unsafe_loads(bad)) == 4
    good = "torch.load(p, weights_only=True)\nnp.load(p)\nnp.load(p, allow_pickle=False)"
    assert unsafe_loads(good) == []


def test_no_module_loads_with_pickle():
    found = {
        str(path.relative_to(PACKAGE)): unsafe
        for path in sorted(PACKAGE.rglob("*.py"))
        if (unsafe := unsafe_loads(path.read_text()))
    }
    assert not found, found

"""The declared layer order (docs/architecture.md) holds: imports only point down, no circles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "msfdiff"

# lowest first; a module may import its own layer and the layers before it
LAYERS = [
    (
        "base",
        [
            "_version",
            "errors",
            "_io",
            "config",
            "layout",
            "progress",
            "checkpoints",
            "plotting",
            "processes",
        ],
    ),
    ("data", ["data"]),
    ("unmixing", ["unmixing"]),
    ("generator", ["generator"]),
    ("diffusion", ["diffusion"]),
    ("baselines", ["baselines"]),
    ("fusion", ["fusion", "generate"]),
    ("evaluation", ["evaluation"]),
    ("report", ["report"]),
    ("pipeline", ["pipeline"]),
    ("downstream", ["downstream"]),
    ("api", ["__init__", "__main__"]),
    ("cli", ["cli"]),
]
RANK = {part: rank for rank, (_, parts) in enumerate(LAYERS) for part in parts}


def _part(module: str) -> str:
    """``msfdiff.data.readers`` → ``data``; ``msfdiff`` → ``__init__``."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def _module_name(path: Path) -> str:
    """Dotted name; a package's ``__init__.py`` is the package itself."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every msfdiff module ``path`` imports, at any depth (lazy imports count too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "msfdiff"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.split(".")[0] == "msfdiff":
                found.add(name)
                found |= {f"{name}.{a.name}" for a in node.names}
    return found


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_has_a_layer():
    unknown = sorted({_part(m) for m in _modules()} - set(RANK))
    assert not unknown, f"add these to LAYERS and docs/architecture.md: {unknown}"


def test_imports_point_down():
    wrong = []
    for module, path in _modules().items():
        own = RANK[_part(module)]
        for target in _imports(path):
            part = _part(target)
            if part in RANK and RANK[part] > own:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports that point up:\n" + "\n".join(sorted(set(wrong)))


def test_no_import_cycles_between_modules():
    modules = _modules()
    graph = {m: {t for t in _imports(p) if t in modules and t != m} for m, p in modules.items()}
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if seen.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in seen:
                visit(nxt)
        stack.pop()
        seen[node] = 2

    for module in graph:
        if module not in seen:
            visit(module)


def test_no_global_matplotlib_backend():
    offenders = [
        m
        for m, p in _modules().items()
        if "matplotlib.use(" in p.read_text() or "import matplotlib.pyplot" in p.read_text()
    ]
    assert not offenders, f"use msfdiff.plotting (object API), not pyplot: {offenders}"

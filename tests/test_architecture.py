"""The package's shape, read off its imports: layers that only point down, no import cycle,
small modules that say what they own.

Every ``import`` and ``from ... import`` in ``monitor/`` counts, also those inside
functions and ``TYPE_CHECKING`` blocks: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "monitor"

#: Wings from the bottom up. A module may import its own wing and the wings of lower
#: layers, never a wing of its own layer or of a higher one.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("monitor", "monitor.errors"),
    ("monitor.model", "monitor.settings", "monitor.log"),
    ("monitor.http_headers",),
    ("monitor.matching", "monitor.ingest", "monitor.store"),
    ("monitor.stories",),
    ("monitor.delivery",),
    ("monitor.config",),
    ("monitor.polling",),
    ("monitor.web",),
    ("monitor.app",),
    ("monitor.cli",),
    ("monitor.__main__",),
)
#: Most lines a module of the package may have.
MAX_LINES = 600


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(name: str) -> str:
    """The most specific module of the package that ``name`` names (``a.b.C`` -> ``a.b``)."""
    while name not in modules():
        name = name.rpartition(".")[0]
    return name


def imports_of(module: str) -> Iterator[str]:
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from monitor.x import y`` may import the submodule ``monitor.x.y``.
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
            names = [n if n in modules() else base for n in names]
        else:
            continue
        for name in names:
            if name == "monitor" or name.startswith("monitor."):
                yield resolve(name)


@cache
def graph() -> dict[str, frozenset[str]]:
    return {m: frozenset(d for d in imports_of(m) if d != m) for m in modules()}


def wing_of(module: str) -> tuple[int, str]:
    """(layer, wing) of a module: the longest wing name that is a prefix of it."""
    best: tuple[int, str] | None = None
    for layer, wings in enumerate(LAYERS):
        for wing in wings:
            if (module == wing or module.startswith(wing + ".")) and (
                best is None or len(wing) > len(best[1])
            ):
                best = (layer, wing)
    assert best is not None, f"{module} belongs to no layer: add its wing to LAYERS"
    return best


def cycles(edges: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_every_module_belongs_to_a_layer() -> None:
    for module in modules():
        wing_of(module)


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for module, deps in graph().items():
        layer, wing = wing_of(module)
        for dep in deps:
            dep_layer, dep_wing = wing_of(dep)
            if dep_wing != wing and dep_layer >= layer:
                wrong.append(f"{module} (layer {layer}) imports {dep} (layer {dep_layer})")
    assert not wrong, "imports that do not point down:\n" + "\n".join(sorted(wrong))


def test_there_is_no_import_cycle() -> None:
    assert cycles(graph()) == []


def test_modules_are_small_and_say_what_they_own() -> None:
    too_long = {
        m: n for m, p in modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"
    undocumented = [
        m
        for m, p in modules().items()
        if p.stat().st_size and ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None
    ]
    assert not undocumented, f"modules without a docstring: {undocumented}"


def test_the_package_root_stays_small() -> None:
    root = [p.name for p in PACKAGE.glob("*.py")]
    assert len(root) <= 9, f"modules at the package root: {sorted(root)}"


def test_the_checks_catch_what_they_are_for() -> None:
    """The cycle finder and the layer map would report a circle and an upward import."""
    assert cycles({"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"})}) == [
        ["a", "b", "c"]
    ]
    assert cycles({"a": frozenset({"b"}), "b": frozenset()}) == []
    assert wing_of("monitor.delivery.channels.slack") == (5, "monitor.delivery")
    assert wing_of("monitor.config.models")[0] > wing_of("monitor.delivery.worker")[0]
    assert resolve("monitor.model.Article") == "monitor.model"

"""The package's import graph: no cycles, and no module reaching into another package's private modules."""

import ast
from pathlib import Path

import mixmo

SRC = Path(mixmo.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """module -> the mixmo modules it imports (at any depth of its body), resolved to modules that exist."""
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mixmo"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("mixmo")}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _package(module: str) -> str:
    """The package a module belongs to: its parent, or itself for a package's __init__."""
    return module if (SRC.parent / module.replace(".", "/") / "__init__.py").exists() else module.rpartition(".")[0]


def test_no_import_cycles():
    graph = _imports()
    # a package's __init__ re-exporting its own modules is not a cycle of concern; drop those edges
    edges = {m: {d for d in deps if not (_package(m) == m and d.startswith(m + "."))} for m, deps in graph.items()}
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for dep in edges[node]:
            if state.get(dep) == "open":
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = "done"

    for node in edges:
        if node not in state:
            visit(node)
    assert not cycles, cycles


def test_no_import_of_another_packages_private_module():
    offences = []
    for module, deps in _imports().items():
        for dep in deps:
            private = dep.rpartition(".")[2].startswith("_")
            if private and _package(dep) != _package(module):
                offences.append(f"{module} -> {dep}")
    assert not offences, offences

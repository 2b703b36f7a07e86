"""The house's layers hold: no library module imports a front end, protocol sits below
transport below sessions (import-linter's contracts in pyproject.toml), and no syncsh
module imports another that imports it back, imports inside functions included."""

import ast
import os
import shutil
import subprocess
import sys

from conftest import ROOT


def imports_of_every_module() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    package = os.path.join(ROOT, "syncsh")
    for folder, _, files in os.walk(package):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
            module = module.removesuffix(".__init__")
            found = set()
            for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
                if isinstance(node, ast.ImportFrom) and node.module and \
                        node.module.startswith("syncsh"):
                    found.add(node.module)
                    for alias in node.names:      # `from syncsh.x import y` of a module y
                        if os.path.exists(os.path.join(ROOT, *node.module.split("."),
                                                       alias.name + ".py")):
                            found.add(f"{node.module}.{alias.name}")
                elif isinstance(node, ast.Import):
                    found |= {a.name for a in node.names if a.name.startswith("syncsh")}
            graph[module] = found
    return {m: {i for i in found if i in graph and i != m} for m, found in graph.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_among_syncsh_modules():
    assert cycles(imports_of_every_module()) == []


def test_the_import_linter_contracts_hold():
    linter = shutil.which("lint-imports", path=os.path.dirname(sys.executable)) or \
        shutil.which("lint-imports")
    assert linter, "import-linter is a test requirement (pip install .[test])"
    done = subprocess.run([linter], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout


def test_every_syncsh_module_is_placed_in_the_contracts():
    """A new module cannot escape the layering by not being named: every top-level module
    or package is either a front end or a library module the forbidden contract covers."""
    import tomllib
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        contracts = tomllib.load(handle)["tool"]["importlinter"]["contracts"]
    forbidden = next(c for c in contracts if c["type"] == "forbidden")
    named = set(forbidden["source_modules"]) | set(forbidden["forbidden_modules"])
    top = {f"syncsh.{name.removesuffix('.py')}" for name in os.listdir(os.path.join(ROOT, "syncsh"))
           if (name.endswith(".py") and name not in ("__init__.py", "__main__.py"))
           or os.path.isfile(os.path.join(ROOT, "syncsh", name, "__init__.py"))}
    assert top - named == set()

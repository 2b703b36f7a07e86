"""Short functions and small modules, checked on every source file of the package (issue 19):
a function or method of more than 60 lines, or a module of more than 500, fails the suite,
each one named with where it is and how long, so none can slip back in unseen."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "syncsh"
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 500


def function_lengths(source: str):
    """(name, first line, length) of every function and method, nested ones too; a length
    runs from the ``def`` line to the body's last line (decorators are not counted)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.lineno, node.end_lineno - node.lineno + 1


def oversized(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        where = path.relative_to(root.parent)
        lines = len(source.splitlines())
        if lines > MAX_MODULE_LINES:
            found.append(f"{where}: module of {lines} lines (limit {MAX_MODULE_LINES})")
        for name, first, length in function_lengths(source):
            if length > MAX_FUNCTION_LINES:
                found.append(f"{where}:{first}: {name}() is {length} lines "
                             f"(limit {MAX_FUNCTION_LINES})")
    return found


def test_the_measure_counts_from_def_to_the_last_line_without_decorators(tmp_path):
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES - 1))
    source = ("import functools\n\n\n@functools.cache\n@functools.wraps(print)\n"
              f"def exactly_at_the_limit():\n{body}\n\n"
              f"class Holder:\n    async def one_over(self):\n"
              + body.replace("    ", "        ") + "        pass\n")
    assert [(name, length) for name, _, length in function_lengths(source)] == [
        ("exactly_at_the_limit", MAX_FUNCTION_LINES), ("one_over", MAX_FUNCTION_LINES + 1)]
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "small.py").write_text(source)
    (package / "big.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    assert oversized(package) == [
        f"pkg/big.py: module of {MAX_MODULE_LINES + 1} lines (limit {MAX_MODULE_LINES})",
        f"pkg/small.py:69: one_over() is {MAX_FUNCTION_LINES + 1} lines "
        f"(limit {MAX_FUNCTION_LINES})"]


def test_no_function_over_60_lines_and_no_module_over_500():
    found = oversized(PACKAGE)
    assert not found, "too long (split it into short, well-named parts):\n" + "\n".join(found)

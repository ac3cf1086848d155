"""The public surface: sorted, importable, documented."""

from __future__ import annotations

import inspect

import pytest

import omnimsg
import omnimsg_sim


def test_all_is_sorted_and_unique() -> None:
    names = [n for n in omnimsg.__all__ if n != "__version__"]
    assert names == sorted(names, key=str.lower) or names == sorted(names)
    assert len(set(omnimsg.__all__)) == len(omnimsg.__all__)


@pytest.mark.parametrize("module", [omnimsg, omnimsg_sim])
def test_every_public_name_exists_and_has_a_docstring(module: object) -> None:
    for name in module.__all__:  # type: ignore[attr-defined]
        obj = getattr(module, name)
        if name.startswith("__") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        assert inspect.getdoc(obj), f"{module.__name__}.{name} has no docstring"  # type: ignore[attr-defined]


def test_public_methods_have_docstrings() -> None:
    for name in omnimsg.__all__:
        obj = getattr(omnimsg, name)
        if not inspect.isclass(obj) or issubclass(obj, BaseException):
            continue
        for attr, member in vars(obj).items():
            if attr.startswith("_") or not callable(member):
                continue
            assert inspect.getdoc(member), f"omnimsg.{name}.{attr} has no docstring"


def test_exception_tree() -> None:
    assert issubclass(omnimsg.PolicyViolation, omnimsg.OmniMsgError)
    assert issubclass(omnimsg.Timeout, omnimsg.TransportError)
    for cls in (
        omnimsg.AuthenticationError,
        omnimsg.PermissionDenied,
        omnimsg.NotFound,
        omnimsg.InvalidRequest,
        omnimsg.PolicyRejected,
        omnimsg.RateLimited,
        omnimsg.ServerError,
    ):
        assert issubclass(cls, omnimsg.PlatformError)


def test_the_error_tree_and_the_rules_import_each_other_without_a_circle() -> None:
    """``exceptions`` needs only the ``Violation`` value (a leaf), the rules need the errors:
    every module of the two imports at the top, and no cycle runs through them."""
    import ast
    from pathlib import Path

    src = Path(omnimsg.__file__).parent

    def imports(path: Path) -> tuple[set[str], bool]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = ".".join(path.relative_to(src.parent).with_suffix("").parts[:-1])
        found: set[str] = set()
        nested = False
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                found.add(f"{base}.{node.module}" if node.module else base)
                nested = nested or (node.col_offset > 0 and not _in_type_checking(tree, node))
        return found, nested

    graph: dict[str, set[str]] = {}
    modules = ("exceptions", "_violation", "rules/__init__", "rules/_core", "rules/whatsapp")
    for name in (*modules, "rules/messenger"):
        path = src / f"{name}.py"
        found, nested = imports(path)
        assert not nested, f"{name}.py hides an import inside a function or TYPE_CHECKING"
        graph[f"omnimsg.{name.replace('/__init__', '').replace('/', '.')}"] = found
    assert not any(m.startswith("omnimsg.rules") for m in graph["omnimsg.exceptions"])
    assert graph["omnimsg._violation"] <= {"omnimsg._types"}
    assert "omnimsg.exceptions" in graph["omnimsg.rules.whatsapp"]
    assert "omnimsg.exceptions" in graph["omnimsg.rules.messenger"]


def _in_type_checking(tree: object, node: object) -> bool:
    import ast

    return any(
        isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test) and node in ast.walk(n)
        for n in ast.walk(tree)  # type: ignore[arg-type]
    )

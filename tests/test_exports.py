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

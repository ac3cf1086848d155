"""docs/testing.md: the test files the page shows pass when pytest runs them, as a user would."""

from __future__ import annotations

import pytest

from docsnippets import ROOT, titled

PAGE = ROOT / "docs" / "testing.md"


@pytest.mark.parametrize(("name", "tests"), [("test_support.py", 1), ("test_my_app.py", 1)])
def test_page_test_files_pass(pytester: pytest.Pytester, name: str, tests: int) -> None:
    pytester.makepyfile(**{name.removesuffix(".py"): titled(PAGE, name)})
    result = pytester.runpytest_subprocess("-W", "error", "-p", "no:cacheprovider", name)
    result.assert_outcomes(passed=tests)

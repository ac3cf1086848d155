"""Developer sessions: ``nox -s tests lint typing docs demo bench``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typing", "docs"]
nox.options.default_venv_backend = "venv"


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite (the README's command)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and format check."""
    session.install("ruff")
    paths = ["src", "tests", "examples", "benchmarks", "scripts", "docs/_hooks"]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict on src/."""
    session.install("-e", ".[test,lint]")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation, warnings as errors."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict")


@nox.session
def demo(session: nox.Session) -> None:
    """Run the README's demo."""
    session.install("-e", ".[sim]")
    session.run("python", "examples/whatsapp_support_demo.py")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks, side by side with peers (not part of the tests)."""
    session.install("-e", ".[bench,sim]")
    session.run("python", "benchmarks/run.py", *session.posargs)

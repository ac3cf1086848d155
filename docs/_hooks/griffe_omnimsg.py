"""A griffe extension for the API reference (loaded by mkdocstrings, see mkdocs.yml).

Static analysis cannot see two things that omnimsg relies on:

* **attrs classes.** ``@attrs.define`` / ``@attrs.frozen`` generate ``__init__`` at import
  time, so griffe finds no signature and the ``Args:`` section of the class docstring would
  describe parameters that "do not appear in the signature". This extension re-creates the
  ``__init__`` signature from the annotated fields (defaults, ``factory=``, ``kw_only``,
  ``init=False``, ``alias=``, private-name stripping and inherited fields), like griffe's
  built-in dataclasses extension does for dataclasses.
* **lazy exports.** A package may list in ``__all__`` a name that its module-level
  ``__getattr__`` imports on first use (``omnimsg_sim.Simulator`` needs aiohttp, so it is
  imported lazily). Such a name is added as an alias to the submodule that defines it, so
  ``::: omnimsg_sim`` documents it like any other export.

* **reStructuredText in docstrings.** The docstrings are Google style but cross-reference with
  Sphinx roles (``:class:`Client```, ``:meth:`~omnimsg.Client.send```) and introduce examples
  with ``::``. Roles become mkdocs-autorefs links (resolved in the object's scope; a target that
  is not documented stays plain code), and ``::`` blocks become fenced code blocks (Python,
  TOML or plain text, whichever parses).

Only the reference's rendering changes; nothing is imported or executed.
"""

from __future__ import annotations

import ast
import html
import logging
import re
import textwrap
import tomllib
from typing import Any

import griffe

_ATTRS_DECORATORS = {
    "attrs.define",
    "attrs.frozen",
    "attrs.mutable",
    "attr.define",
    "attr.frozen",
    "attr.mutable",
    "attr.s",
    "attr.attrs",
    "attr.dataclass",
}
_FIELD_CALLS = {"attrs.field", "attr.field", "attr.ib", "attr.attrib"}

# Under "mkdocs", so a warning fails `mkdocs build --strict`.
logger = logging.getLogger("mkdocs.plugins.griffe_omnimsg")


def _call_args(expr: Any) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if isinstance(expr, griffe.ExprCall):
        for argument in expr.arguments:
            if isinstance(argument, griffe.ExprKeyword):
                args[argument.name] = argument.value
    return args


def _attrs_decorator(cls: griffe.Class) -> griffe.Expr | None:
    for decorator in cls.decorators:
        value = decorator.value
        if isinstance(value, griffe.Expr) and value.canonical_path in _ATTRS_DECORATORS:
            return value
    return None


def _field_args(attribute: griffe.Attribute) -> dict[str, Any] | None:
    value = attribute.value
    if isinstance(value, griffe.ExprCall) and value.canonical_path in _FIELD_CALLS:
        return _call_args(value)
    return None


def _is_true(value: Any) -> bool:
    return str(value) == "True"


def _own_parameters(cls: griffe.Class) -> list[griffe.Parameter]:
    decorator = _attrs_decorator(cls)
    if decorator is None:
        return []
    dec_args = _call_args(decorator)
    if str(dec_args.get("init", "True")) == "False":
        return []
    class_kw_only = _is_true(dec_args.get("kw_only"))
    parameters = []
    for member in list(cls.members.values()):
        if member.is_alias or not member.is_attribute:
            continue
        attribute: griffe.Attribute = member  # type: ignore[assignment]
        field = _field_args(attribute)
        if attribute.annotation is None and field is None:
            continue  # a plain class attribute such as ``platform = "whatsapp"``
        if "property" in attribute.labels:
            continue
        if "class-attribute" in attribute.labels and "instance-attribute" not in attribute.labels:
            continue  # ClassVar
        field = field or {}
        if str(field.get("init", "True")) == "False":
            continue
        kind = (
            griffe.ParameterKind.keyword_only
            if class_kw_only or _is_true(field.get("kw_only"))
            else griffe.ParameterKind.positional_or_keyword
        )
        if "default" in field:
            default: Any = field["default"]
        elif "factory" in field:
            default = griffe.ExprCall(function=field["factory"], arguments=[])
        elif field or _field_args(attribute) is not None:
            default = None
        else:
            default = attribute.value
        name = str(field["alias"]).strip("'\"") if "alias" in field else attribute.name.lstrip("_")
        try:
            parameter = griffe.Parameter(
                name,
                annotation=attribute.annotation,
                kind=kind,
                default=default,
                docstring=attribute.docstring,
            )
        except TypeError:  # older griffe: no per-parameter docstring
            parameter = griffe.Parameter(
                name, annotation=attribute.annotation, kind=kind, default=default
            )
        parameters.append(parameter)
    return parameters


def _set_attrs_init(cls: griffe.Class) -> None:
    if _attrs_decorator(cls) is None or "__init__" in cls.members:
        return
    try:
        mro = cls.mro()
    except (ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        mro = []
    collected: dict[str, griffe.Parameter] = {}
    for parent in [*reversed(mro), cls]:
        for parameter in _own_parameters(parent):
            collected[parameter.name] = parameter
    ordered = sorted(collected.values(), key=lambda p: p.kind is griffe.ParameterKind.keyword_only)
    # Python requires defaults last among positional parameters; attrs enforces the same.
    init = griffe.Function(
        "__init__",
        lineno=cls.lineno,
        endlineno=cls.lineno,
        parent=cls,
        parameters=griffe.Parameters(
            griffe.Parameter(
                "self", annotation=None, kind=griffe.ParameterKind.positional_or_keyword
            ),
            *ordered,
        ),
        returns="None",
    )
    cls.set_member("__init__", init)


def _find_definition(pkg: griffe.Module, name: str) -> str | None:
    for submodule in pkg.modules.values():
        member = submodule.members.get(name)
        if member is not None and not member.is_alias:
            return member.path
    return None


def _add_lazy_exports(mod: griffe.Module) -> None:
    exports = [str(export) for export in (mod.exports or [])]
    for name in exports:
        if name in mod.members:
            continue
        target = _find_definition(mod, name)
        if target is None:
            logger.warning("%s lists %r in __all__ but no submodule defines it", mod.path, name)
            continue
        mod.set_member(name, griffe.Alias(name, target, parent=mod))


_ROLE = re.compile(
    r":(?:py:)?(?:class|meth|func|mod|attr|data|exc|obj|const|type):`(?P<target>[^`]+)`"
)
_LITERAL_INTRO = re.compile(r"^(?P<indent>\s*)(?P<text>.*?)\s*::\s*$")


def _identifier(obj: griffe.Object, target: str) -> str:
    """The documented path for ``target`` as written in ``obj``'s docstring."""
    name = target.lstrip(".")
    first, _, rest = name.partition(".")
    try:
        base = obj.resolve(first)
    except Exception:  # not in scope: an absolute path, or an external name
        base = first
    path = f"{base}.{rest}" if rest else base
    if target.startswith(".") and isinstance(obj, griffe.Module):
        path = f"{obj.package.path}.{name}"
    try:
        found = obj.modules_collection[path]
        return str(found.canonical_path)
    except Exception:  # not loaded here (e.g. the standard library): keep it as written
        return name


def _roles_to_autorefs(obj: griffe.Object, text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        target = match.group("target").strip()
        shown = target.lstrip("~")
        if target.startswith("~"):
            shown = shown.rsplit(".", 1)[-1]
        identifier = html.escape(_identifier(obj, target.lstrip("~")), quote=True)
        # "optional": a target that is documented nowhere renders as plain code, no warning.
        return (
            f'<autoref identifier="{identifier}" optional>'
            f"<code>{html.escape(shown)}</code></autoref>"
        )

    return _ROLE.sub(replace, text)


def _language(code: str) -> str:
    try:
        ast.parse(code)
    except SyntaxError:
        pass
    else:
        return "python"
    try:
        tomllib.loads(code)
    except tomllib.TOMLDecodeError:
        return "text"
    return "toml"


def _literal_blocks(text: str) -> str:
    """``Intro::`` + an indented block  ->  ``Intro:`` + a fenced code block."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _LITERAL_INTRO.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        indent = len(match.group("indent"))
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        block_start = j
        while j < len(lines) and (
            not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent
        ):
            j += 1
        block = lines[block_start:j]
        while block and not block[-1].strip():
            block.pop()
        if not block:
            out.append(lines[i])
            i += 1
            continue
        intro = match.group("text")
        pad = " " * indent
        if intro:
            out += [f"{pad}{intro}:", ""]
        code = textwrap.dedent("\n".join(block))
        out += [f"{pad}```{_language(code)}"]
        out += [f"{pad}{line}" if line else "" for line in code.split("\n")]
        out += [f"{pad}```", ""]
        i = j
    return "\n".join(out)


def _rewrite_docstring(obj: griffe.Object) -> None:
    docstring = obj.docstring
    if docstring is None or not docstring.value:
        return
    value = docstring.value
    if "::" in value:
        value = _literal_blocks(value)
    if ":`" in value:
        value = _roles_to_autorefs(obj, value)
    docstring.value = value


def _walk(obj: griffe.Object, seen: set[str]) -> None:
    if obj.path in seen:
        return
    seen.add(obj.path)
    if isinstance(obj, griffe.Class):
        _set_attrs_init(obj)
    elif isinstance(obj, griffe.Module) and obj.is_package:
        _add_lazy_exports(obj)
    _rewrite_docstring(obj)
    for member in list(obj.members.values()):
        if not member.is_alias:
            _walk(member, seen)  # type: ignore[arg-type]


class OmnimsgExtension(griffe.Extension):
    """attrs ``__init__`` signatures and lazy ``__all__`` exports, for the reference."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        _walk(pkg, set())


if not hasattr(griffe.Extension, "on_package"):  # older griffe names the event differently
    OmnimsgExtension.on_package_loaded = OmnimsgExtension.on_package  # type: ignore[attr-defined]

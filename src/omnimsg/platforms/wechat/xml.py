"""WeChat's XML, both ways: a hardened parser for webhook bodies, a renderer for replies.

WeChat's documents are flat: ``<xml>`` and one element per field, a few fields nested one or
two levels (``ScanCodeInfo``, ``SendPicsInfo/PicList/item``, ``SendLocationInfo``; a
reply's ``Articles/item``). :func:`parse` reads exactly that and nothing more, with
``xml.parsers.expat`` driven so that nothing is ever expanded or fetched (DESIGN §6):

* a document type declaration is refused **when it starts** (``StartDoctypeDeclHandler``),
  before its internal subset is read, so no entity is ever declared: no billion laughs, no
  quadratic blowup, no external entity (``file://``, ``http://``), no external DTD.
  Entity declarations and external entity references raise too (belt and braces), and
  parameter entities are never parsed. Without a DTD the only references expat knows are
  the five predefined ones and character references; any other ``&name;`` is an error.
* the body is at most ``max_bytes`` long; at most :data:`MAX_DEPTH` levels and
  :data:`MAX_ELEMENTS` elements (each checked as the element starts, so a deep or long
  document stops early).
* it is UTF-8 (a declared other encoding or a UTF-16 byte-order mark is refused; expat
  checks every byte, and refuses
  surrogates and the characters XML forbids, ``&#xD800;`` or ``&#0;`` included); the root
  is ``<xml>``; it is complete (truncated documents are refused).

What it gives: a ``dict`` of the root's children; a leaf is its text (``str``, CDATA or
not, white space kept; an empty element is ``""``); an element with children is a ``dict``
of them; an element named ``item`` is always a ``list`` of them, and any other name that
repeats becomes a list (the reader then sees a value of the wrong type). Attributes,
comments and processing instructions are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from xml.parsers import expat

from ...exceptions import ConfigurationError, WebhookParseError

__all__ = ["MAX_DEPTH", "MAX_ELEMENTS", "parse", "render"]

MAX_DEPTH = 8
"""The deepest nesting :func:`parse` takes, ``<xml>`` being level 1 (WeChat's deepest is 5:
``xml/SendPicsInfo/PicList/item/PicMd5Sum``)."""

MAX_ELEMENTS = 512
"""The most elements :func:`parse` takes in one document (WeChat's bodies have about 10)."""

_UTF8 = frozenset({"utf-8", "utf8"})
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class _Refused(Exception):
    """Raised inside an expat handler to stop the parse; carries the reason."""


class _Reader:
    """The handlers of one parse: builds the nested dicts as elements start and end."""

    __slots__ = ("count", "max_depth", "max_elements", "root", "stack", "texts")

    def __init__(self, max_depth: int, max_elements: int) -> None:
        self.max_depth = max_depth
        self.max_elements = max_elements
        self.count = 0
        self.root: dict[str, Any] | None = None
        # One frame per open element: (name, its children, its text pieces).
        self.stack: list[tuple[str, dict[str, Any], list[str]]] = []
        self.texts: list[str] = []

    def start(self, name: str, attributes: object) -> None:
        self.count += 1
        if self.count > self.max_elements:
            raise _Refused(f"more than {self.max_elements} elements")
        if len(self.stack) >= self.max_depth:
            raise _Refused(f"nested deeper than {self.max_depth} levels")
        if not self.stack and name != "xml":
            raise _Refused(f"the root element is <{_shown(name)}>, not <xml>")
        self.stack.append((name, {}, []))

    def end(self, name: str) -> None:
        _, children, texts = self.stack.pop()
        value: Any = children if children else "".join(texts)
        if not self.stack:
            self.root = children
            return
        siblings = self.stack[-1][1]
        if name == "item":
            siblings.setdefault("item", []).append(value)
            return
        if name in siblings:
            previous = siblings[name]
            if type(previous) is _Repeated:
                previous.append(value)
            else:
                siblings[name] = _Repeated((previous, value))
            return
        siblings[name] = value

    def text(self, data: str) -> None:
        if self.stack:
            self.stack[-1][2].append(data)


class _Repeated(list[Any]):
    """A field that appeared more than once (a plain ``list`` once parsed)."""


def _shown(name: str) -> str:
    return name if len(name) <= 40 else name[:37] + "..."


def _doctype(*_: object) -> None:
    raise _Refused("a document type declaration (DOCTYPE) is not allowed")


def _entity(*_: object) -> None:
    raise _Refused("entity declarations are not allowed")


def _external(*_: object) -> int:
    raise _Refused("external entities are not allowed")


def _declaration(version: str | None, encoding: str | None, standalone: int) -> None:
    if encoding is not None and encoding.lower() not in _UTF8:
        raise _Refused(f"the body must be UTF-8, not {_shown(encoding)}")


def _plain(value: Any) -> Any:
    """``_Repeated`` lists as plain lists, all the way down."""
    if type(value) is dict:
        return {k: _plain(v) for k, v in value.items()}
    if type(value) is _Repeated or type(value) is list:
        return [_plain(v) for v in value]
    return value


def parse(
    body: bytes,
    *,
    max_bytes: int,
    max_depth: int = MAX_DEPTH,
    max_elements: int = MAX_ELEMENTS,
) -> dict[str, Any]:
    """The fields of a WeChat XML document (see the module docstring for what is refused).

    Raises:
        WebhookParseError: the body is too large, not well-formed UTF-8 XML, has a DOCTYPE,
            an entity or an external reference, a root other than ``<xml>``, is nested
            deeper than ``max_depth`` or has more than ``max_elements`` elements.
    """
    if len(body) > max_bytes:
        raise WebhookParseError(f"webhook body is larger than {max_bytes} bytes")
    if body[:2] in _UTF16_BOMS:  # expat would honour the mark over the UTF-8 it is told
        raise WebhookParseError("refused XML: the body must be UTF-8, not UTF-16")
    reader = _Reader(max_depth, max_elements)
    # The document's own encoding declaration is overridden: every byte is read as UTF-8.
    parser = expat.ParserCreate(encoding="UTF-8")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _doctype
    parser.EntityDeclHandler = _entity
    parser.UnparsedEntityDeclHandler = _entity
    parser.NotationDeclHandler = _entity
    parser.ExternalEntityRefHandler = _external
    parser.XmlDeclHandler = _declaration
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    try:
        parser.Parse(body, True)
    except _Refused as exc:
        raise WebhookParseError(f"refused XML: {exc}") from None
    except expat.ExpatError as exc:
        raise WebhookParseError(f"not well-formed XML: {exc}") from None
    except (ValueError, TypeError, UnicodeError, RecursionError) as exc:  # pragma: no cover
        raise WebhookParseError(f"not well-formed XML: {type(exc).__name__}") from None
    if reader.root is None:  # pragma: no cover - expat refuses a document without a root
        raise WebhookParseError("not well-formed XML: no root element")
    root = reader.root
    if any(type(v) is not str for v in root.values()):
        return {k: _plain(v) for k, v in root.items()}
    return root


# --- render (passive replies, spec §3.5) --------------------------------------------------------

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What XML 1.0 cannot carry at all, not even in CDATA (C0 controls but tab, CR and LF;
# surrogates; U+FFFE and U+FFFF).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _cdata(text: str) -> str:
    """``text`` as CDATA: a ``]]>`` inside is split across two sections (``]]`` ends one,
    ``>`` starts the next), so any XML parser reads back exactly ``text``."""
    if _FORBIDDEN.search(text):
        raise ConfigurationError(
            "a WeChat reply cannot carry control characters (other than tab, CR and LF), "
            "lone surrogates, U+FFFE or U+FFFF: XML has no way to write them"
        )
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _element(name: str, value: Any, out: list[str]) -> None:
    if not _NAME.fullmatch(name):
        raise ConfigurationError(f"{name!r} is not an XML element name")
    if isinstance(value, list | tuple):
        for item in value:
            _element(name, item, out)
        return
    out.append(f"<{name}>")
    if isinstance(value, bool):
        raise ConfigurationError(f"<{name}> must be text, a number or elements, not a bool")
    if isinstance(value, str):
        out.append(_cdata(value))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, Mapping):
        for key, child in value.items():
            _element(key, child, out)
    else:
        raise ConfigurationError(
            f"<{name}> must be text, an integer or elements, not {type(value).__name__}"
        )
    out.append(f"</{name}>")


def render(fields: Mapping[str, Any]) -> bytes:
    """The UTF-8 ``<xml>...</xml>`` of ``fields``, in their order.

    A ``str`` is written as CDATA (``]]>`` inside split safely), an ``int`` as digits
    (``CreateTime``, ``ArticleCount``), a mapping as nested elements, a list or tuple as the
    same element repeated (``Articles: {"item": [...]}``).

    Raises:
        ConfigurationError: a name is not an element name, a value is of another type, or a
            text holds a character XML cannot carry (NUL and the other C0 controls but tab,
            CR and LF; lone surrogates; U+FFFE, U+FFFF).
    """
    out: list[str] = ["<xml>"]
    for key, value in fields.items():
        _element(key, value, out)
    out.append("</xml>")
    return "".join(out).encode("utf-8")

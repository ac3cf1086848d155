"""The shape of inbound WhatsApp message objects, checked before a webhook is built.

``POST /_sim/inbound`` takes a message object from the test and turns it into a webhook. A
known type with a wrong shape (``{"type": "text", "text": "hello"}``) would become a webhook
that real clients cannot parse: pywa raises ``KeyError`` inside its dispatcher and the update
silently disappears. So each known type is checked against what WhatsApp sends for it
(spec/whatsapp.md §2, the required fields of its table) and refused with the field's path
(``message.text.body: missing``). Unknown types pass through untouched on purpose: apps must
survive them (DESIGN §4).

Media objects are checked for their shape here; whether an ``id`` names stored media, and
decoding ``data_base64``, is the caller's business (it owns the media store).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

from ...safejson import BadJSON, loads
from .state import Customer, Number

__all__ = [
    "MEDIA_KINDS",
    "MIME_TYPE",
    "Refused",
    "check_context",
    "check_message",
    "check_reply",
    "decode_base64",
    "message_object",
    "quote_interactive",
]

MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")

MIME_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*"
    r"(?:\s*;\s*[A-Za-z0-9!#$&^_.+-]+=(?:[A-Za-z0-9!#$&^_.+-]+|\"[^\"\\\x00-\x1f\x7f]*\"))*"
)
"""A MIME type as RFC 9110 §8.3.1 writes one: ``type/subtype`` and ``; name=value`` pairs.

Media MIME types end up in a ``Content-Type`` header of the download, so anything else
(CR/LF above all) is refused where it comes in.
"""

_TIMESTAMP = re.compile(r"[0-9]{1,11}")  # §2: unix seconds as a string (no later than year 5138)


class Refused(Exception):
    """A message object of a known type in the wrong shape; the message names the field."""


Checker = Callable[[dict[str, Any], str], None]


# --- field helpers ------------------------------------------------------------------------


def _get(parent: dict[str, Any], key: str, where: str, kind: str, required: bool) -> Any:
    if key not in parent or (required and parent[key] is None):
        if required:
            raise Refused(f"{where}.{key}: missing")
        return None
    value = parent[key]  # an explicit null is refused below: WhatsApp never sends one
    ok = {
        "object": isinstance(value, dict),
        "string": isinstance(value, str),
        "list": isinstance(value, list),
        "bool": isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
    }[kind]
    if not ok:
        expected = {
            "object": "an object",
            "string": "a string",
            "list": "a list",
            "bool": "true or false",
            "number": "a number",
        }[kind]
        raise Refused(f"{where}.{key}: expected {expected}")
    return value


def _obj(parent: dict[str, Any], key: str, where: str, *, required: bool = True) -> Any:
    return _get(parent, key, where, "object", required)


def _text(parent: dict[str, Any], key: str, where: str, *, required: bool = True) -> Any:
    return _get(parent, key, where, "string", required)


def _texts(parent: dict[str, Any], where: str, *keys: str) -> None:
    """Optional string fields: absent is fine, anything but a string is not."""
    for key in keys:
        _text(parent, key, where, required=False)


def _flag(parent: dict[str, Any], key: str, where: str) -> None:
    _get(parent, key, where, "bool", False)


def _number(parent: dict[str, Any], key: str, where: str, low: float, high: float) -> None:
    value = _get(parent, key, where, "number", True)
    # A chained comparison is false for NaN and exact for integers of any size.
    if not low <= value <= high:
        raise Refused(f"{where}.{key}: must be between {low:g} and {high:g}")


def _items(parent: dict[str, Any], key: str, where: str, *, required: bool = True) -> list[Any]:
    """A list of objects (non-empty when required)."""
    items = _get(parent, key, where, "list", required)
    if items is None:
        return []
    if required and not items:
        raise Refused(f"{where}.{key}: must not be empty")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise Refused(f"{where}.{key}[{i}]: expected an object")
    return list(items)


# --- the message types of spec §2 -------------------------------------------------------------


def _text_message(message: dict[str, Any], where: str) -> None:
    _text(_obj(message, "text", where), "body", f"{where}.text")


def _media(kind: str) -> Checker:
    def check(message: dict[str, Any], where: str) -> None:
        here = f"{where}.{kind}"
        obj = _obj(message, kind, where)
        _texts(obj, here, "id", "sha256", "caption", "filename", "url", "data_base64")
        _flag(obj, "voice", here)
        _flag(obj, "animated", here)
        mime = _text(obj, "mime_type", here, required=False)
        if mime is not None and not MIME_TYPE.fullmatch(mime):
            raise Refused(f"{here}.mime_type: not a MIME type")
        if not obj.get("id") and not obj.get("data_base64"):
            raise Refused(f"{here}: give id or data_base64")

    return check


def _location(message: dict[str, Any], where: str) -> None:
    here = f"{where}.location"
    obj = _obj(message, "location", where)
    _number(obj, "latitude", here, -90, 90)
    _number(obj, "longitude", here, -180, 180)
    _texts(obj, here, "name", "address", "url")


def _contacts(message: dict[str, Any], where: str) -> None:
    for i, contact in enumerate(_items(message, "contacts", where)):
        here = f"{where}.contacts[{i}]"
        _text(_obj(contact, "name", here), "formatted_name", f"{here}.name")
        for key in ("phones", "emails", "urls", "addresses"):
            _items(contact, key, here, required=False)
        _obj(contact, "org", here, required=False)
        _texts(contact, here, "birthday")


def check_reply(reply: Any, where: str, *, description: bool = False) -> None:
    """A ``button_reply`` or ``list_reply`` object: ``{id, title}`` (and ``description?``)."""
    if not isinstance(reply, dict):
        raise Refused(f"{where}: expected an object")
    _text(reply, "id", where)
    _text(reply, "title", where)
    if description:
        _texts(reply, where, "description")


def _interactive(message: dict[str, Any], where: str) -> None:
    here = f"{where}.interactive"
    obj = _obj(message, "interactive", where)
    kind = _text(obj, "type", here)
    if kind in ("button_reply", "list_reply"):
        check_reply(_obj(obj, kind, here), f"{here}.{kind}", description=kind == "list_reply")
    elif kind == "nfm_reply":
        reply = _obj(obj, "nfm_reply", here)
        _text(reply, "name", f"{here}.nfm_reply")
        _text(reply, "body", f"{here}.nfm_reply")
        raw = _text(reply, "response_json", f"{here}.nfm_reply")
        try:
            response = loads(raw)
        except BadJSON:
            response = None
        if not isinstance(response, dict):
            raise Refused(f"{here}.nfm_reply.response_json: expected a JSON object in a string")
    # Other interactive kinds pass through, as unknown message types do.


def _button(message: dict[str, Any], where: str) -> None:
    obj = _obj(message, "button", where)
    _text(obj, "payload", f"{where}.button")
    _text(obj, "text", f"{where}.button")


def _reaction(message: dict[str, Any], where: str) -> None:
    obj = _obj(message, "reaction", where)
    _text(obj, "message_id", f"{where}.reaction")
    _texts(obj, f"{where}.reaction", "emoji")  # "" or absent: the reaction was removed


def _order(message: dict[str, Any], where: str) -> None:
    here = f"{where}.order"
    obj = _obj(message, "order", where)
    _text(obj, "catalog_id", here)
    _texts(obj, here, "text")
    for i, item in enumerate(_items(obj, "product_items", here)):
        at = f"{here}.product_items[{i}]"
        _text(item, "product_retailer_id", at)
        _number(item, "quantity", at, 0, 1e9)
        _number(item, "item_price", at, 0, 1e15)
        _text(item, "currency", at)


def _system(message: dict[str, Any], where: str) -> None:
    here = f"{where}.system"
    obj = _obj(message, "system", where)
    kind = _text(obj, "type", here)
    _text(obj, "body", here)
    _texts(obj, here, "wa_id", "customer", "user_id")
    if kind == "customer_identity_changed":
        here = f"{where}.identity"
        identity = _obj(message, "identity", where)
        if not isinstance(identity.get("acknowledged"), bool):
            raise Refused(f"{here}.acknowledged: expected true or false")
        _text(identity, "hash", here)
        created = identity.get("created_timestamp")
        if isinstance(created, str) and _TIMESTAMP.fullmatch(created):
            return
        if isinstance(created, bool) or not isinstance(created, int) or not 0 <= created < 10**11:
            raise Refused(f"{here}.created_timestamp: expected unix seconds")


def _unsupported(message: dict[str, Any], where: str) -> None:
    obj = _obj(message, "unsupported", where, required=False)
    if obj is not None:
        _text(obj, "type", f"{where}.unsupported")


def _edit(message: dict[str, Any], where: str) -> None:
    obj = _obj(message, "edit", where)
    _text(obj, "original_message_id", f"{where}.edit")
    inner = _obj(obj, "message", f"{where}.edit")
    check_message(inner, f"{where}.edit.message")


def _revoke(message: dict[str, Any], where: str) -> None:
    _text(_obj(message, "revoke", where), "original_message_id", f"{where}.revoke")


_CHECKS: dict[str, Checker] = {
    "text": _text_message,
    **{kind: _media(kind) for kind in MEDIA_KINDS},
    "location": _location,
    "contacts": _contacts,
    "interactive": _interactive,
    "button": _button,
    "reaction": _reaction,
    "order": _order,
    "system": _system,
    "unsupported": _unsupported,
    "edit": _edit,
    "revoke": _revoke,
}


# --- the fields every message has --------------------------------------------------------------


def _common(message: dict[str, Any], where: str) -> None:
    """Fields shared by every type (§2): ids, timestamp, context, referral, errors."""
    for key in ("id", "from", "from_user_id"):
        value = _text(message, key, where, required=False)
        if value == "":
            raise Refused(f"{where}.{key}: must not be empty")
    timestamp = _text(message, "timestamp", where, required=False)
    if timestamp is not None and not _TIMESTAMP.fullmatch(timestamp):
        raise Refused(f"{where}.timestamp: expected unix seconds as a string of digits")
    if "context" in message:
        check_context(message["context"], f"{where}.context")
    _obj(message, "referral", where, required=False)
    for i, error in enumerate(_items(message, "errors", where, required=False)):
        here = f"{where}.errors[{i}]"
        code = error.get("code")
        if not isinstance(code, int) or isinstance(code, bool):
            raise Refused(f"{here}.code: expected an integer")
        _text(error, "message", here)
    if "errors" in message and not message["errors"]:
        raise Refused(f"{where}.errors: must not be empty")


def check_context(context: Any, where: str) -> None:
    """A ``context`` (the quoted message, §2): an object with string ``id``/``from``."""
    if not isinstance(context, dict):
        raise Refused(f"{where}: expected an object")
    _texts(context, where, "id", "from")
    _flag(context, "forwarded", where)
    _flag(context, "frequently_forwarded", where)
    _obj(context, "referred_product", where, required=False)


def check_message(message: dict[str, Any], where: str = "message") -> None:
    """Refuse a known message type whose object lacks what WhatsApp always sends (§2).

    Raises:
        Refused: naming the first wrong field, e.g. ``message.text.body: missing``.
    """
    kind = _text(message, "type", where)
    _common(message, where)
    check = _CHECKS.get(kind)
    if check is not None:
        check(message, where)


def decode_base64(text: str, where: str) -> bytes:
    """The bytes of a ``data_base64`` field."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Refused(f"{where}: not valid base64") from None


def message_object(spec: dict[str, Any]) -> dict[str, Any]:
    """The message part of an inbound request: ``message`` in full, or a shorthand.

    Raises:
        Refused: when neither is given, or a shorthand or the ``context`` is malformed.
    """
    message = spec.get("message")
    if isinstance(message, dict):
        if "type" not in message:
            raise Refused("message.type: missing")
        out = dict(message)
    elif message is not None:
        raise Refused("message: expected an object")
    elif isinstance(spec.get("text"), str):
        out = {"type": "text", "text": {"body": spec["text"]}}
    elif spec.get("button_reply") is not None:
        check_reply(spec["button_reply"], "button_reply")
        out = {
            "type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": spec["button_reply"]},
        }
    elif spec.get("list_reply") is not None:
        check_reply(spec["list_reply"], "list_reply", description=True)
        out = {
            "type": "interactive",
            "interactive": {"type": "list_reply", "list_reply": spec["list_reply"]},
        }
    else:
        raise Refused(
            "give 'message' (a WhatsApp message object) or a shorthand: 'text', "
            "'button_reply', 'list_reply'"
        )
    if spec.get("context") is not None:
        check_context(spec["context"], "context")
        out["context"] = spec["context"]
    return out


def quote_interactive(
    message: dict[str, Any], number: Number, customer: Customer, new_wamid: Callable[[], str]
) -> None:
    """Give a button or list reply the ``context`` real ones always carry (spec §2).

    ``{"from": <the business's display number>, "id": <the interactive message replied
    to>}``: the last interactive message the business sent this customer, a generated wamid
    when there was none; a context given without ``from`` or ``id`` is completed the same way.
    pywa's ``CallbackSelection`` reads ``context`` unconditionally.
    """
    interactive = message.get("interactive")
    if message.get("type") != "interactive" or not isinstance(interactive, dict):
        return
    if interactive.get("type") not in ("button_reply", "list_reply"):
        return
    given = message.get("context") if isinstance(message.get("context"), dict) else {}
    assert isinstance(given, dict)
    message["context"] = {
        "from": given.get("from") or number.cfg.display_phone_number,
        "id": given.get("id") or customer.last_interactive or new_wamid(),
        **{k: v for k, v in given.items() if k not in ("from", "id")},
    }

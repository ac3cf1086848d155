"""The Messenger Profile API (research §5.1): how a Page offers its FAQ menu.

``POST /me/messenger_profile`` sets properties (``{"result": "success"}``), ``GET`` with
``fields=`` answers ``{"data": [{property: value}, ...]}``, one object per property set, and
``DELETE`` with ``{"fields": [...]}`` removes them. Checked here: the property names, the
greeting's 160 characters and its ``default`` locale, at most 4 ice breakers (in one format,
never both), a persistent menu only with a Get Started button and at most 20 items.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omnimsg.platforms.messenger.flows import PROFILE_FIELDS

from .errors import invalid, too_few, too_long, too_many

__all__ = ["PROPERTIES", "field_list", "validate"]

# The SDK's list is the one the API takes (research §5.1): one list, so that the simulator
# cannot accept a property the SDK refuses, or the other way round.
PROPERTIES = PROFILE_FIELDS
"""The properties of research §5.1 (``home_url`` and ``target_audience`` are deprecated)."""

_DEPRECATED = ("home_url", "target_audience")
_GREETING_MAX = 160
_ICE_BREAKERS_MAX = 4
_MENU_ITEMS_MAX = 20  # since v8 the menu is flat, up to 20 buttons
_DOMAINS_MAX = 50  # UNVERIFIED
_PAYLOAD_MAX = 1000


def _text(value: Any, where: str, limit: int | None = None) -> str:
    if not isinstance(value, str) or not value:
        raise invalid(f"The parameter {where} is required and must be a string")
    if limit is not None and len(value) > limit:
        raise too_long(where, limit)
    return value


def _items(value: Any, where: str, most: int | None = None) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise invalid(f"Param {where} must be an array")
    if not value:
        raise too_few(where)
    if most is not None and len(value) > most:
        raise too_many(where, most)
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise invalid(f"Param {where}[{i}] must be an object")
    return list(value)


def _locales(items: list[dict[str, Any]], where: str) -> None:
    locales = [_text(item.get("locale"), f"{where}[{i}][locale]") for i, item in enumerate(items)]
    if "default" not in locales:
        raise invalid(f"param {where} must include the default locale")
    if len(set(locales)) != len(locales):
        raise invalid(f"param {where} names a locale twice")


def _https(value: Any, where: str) -> None:
    url = _text(value, where)
    if not url.startswith("https://") or any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise invalid(f"Param {where} must be an https URL")


def _greeting(value: Any) -> None:
    items = _items(value, "greeting")
    for i, item in enumerate(items):
        _text(item.get("text"), f"greeting[{i}][text]", _GREETING_MAX)
    _locales(items, "greeting")


def _question(item: dict[str, Any], where: str) -> None:
    _text(item.get("question"), f"{where}[question]", 80)
    _text(item.get("payload"), f"{where}[payload]", _PAYLOAD_MAX)


def _ice_breakers(value: Any) -> None:
    items = _items(value, "ice_breakers")
    new = ["call_to_actions" in item for item in items]
    if any(new) and not all(new):
        # research §5.1: one POST uses the old format or the new one, never both.
        raise invalid("param ice_breakers mixes the locale format and the plain question format")
    if not all(new):
        if len(items) > _ICE_BREAKERS_MAX:
            raise too_many("ice_breakers", _ICE_BREAKERS_MAX)
        for i, item in enumerate(items):
            _question(item, f"ice_breakers[{i}]")
        return
    _locales(items, "ice_breakers")
    for i, item in enumerate(items):
        where = f"ice_breakers[{i}][call_to_actions]"
        for j, question in enumerate(_items(item["call_to_actions"], where, _ICE_BREAKERS_MAX)):
            _question(question, f"{where}[{j}]")


def _menu(value: Any, has_get_started: bool) -> None:
    if not has_get_started:
        raise invalid("You must set a Get Started button if you also wish to use persistent menu.")
    items = _items(value, "persistent_menu")
    _locales(items, "persistent_menu")
    for i, item in enumerate(items):
        where = f"persistent_menu[{i}]"
        flag = item.get("composer_input_disabled")
        if flag is not None and not isinstance(flag, bool):
            raise invalid(f"Param {where}[composer_input_disabled] must be a boolean")
        actions = item.get("call_to_actions")
        if actions is None and flag:
            continue  # a menu may only disable the composer
        for j, action in enumerate(_items(actions, f"{where}[call_to_actions]", _MENU_ITEMS_MAX)):
            at = f"{where}[call_to_actions][{j}]"
            kind = action.get("type")
            _text(action.get("title"), f"{at}[title]", 30)
            if kind == "postback":
                _text(action.get("payload"), f"{at}[payload]", _PAYLOAD_MAX)
            elif kind == "web_url":
                url = _text(action.get("url"), f"{at}[url]")
                if not url.startswith(("http://", "https://")):
                    raise invalid(f"Param {at}[url] must be a URL")
            else:
                raise invalid(f"Param {at}[type] must be one of {{postback, web_url}}")


def validate(body: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """The properties a ``POST /me/messenger_profile`` sets, checked.

    Raises:
        Refusal: naming the first wrong parameter (code 100, 194 or 105).
    """
    for key in _DEPRECATED:
        if key in body:
            raise invalid(f"param {key} is deprecated")
    given = {k: body[k] for k in PROPERTIES if k in body}
    if not given:
        raise invalid(f"Requires one of the params: {', '.join(PROPERTIES)}")
    if "get_started" in given:
        started = given["get_started"]
        if not isinstance(started, dict):
            raise invalid("Param get_started must be an object")
        _text(started.get("payload"), "get_started[payload]", _PAYLOAD_MAX)
    if "greeting" in given:
        _greeting(given["greeting"])
    if "ice_breakers" in given:
        _ice_breakers(given["ice_breakers"])
    if "persistent_menu" in given:
        _menu(given["persistent_menu"], "get_started" in given or "get_started" in stored)
    if "whitelisted_domains" in given:
        domains = given["whitelisted_domains"]
        if not isinstance(domains, list) or not domains:
            raise invalid("Param whitelisted_domains must be a non-empty array")
        if len(domains) > _DOMAINS_MAX:
            raise too_many("whitelisted_domains", _DOMAINS_MAX)
        for i, domain in enumerate(domains):
            _https(domain, f"whitelisted_domains[{i}]")
    if "account_linking_url" in given:
        _https(given["account_linking_url"], "account_linking_url")
    if "commands" in given:
        _items(given["commands"], "commands")
    return given


def field_list(value: Any, *, required: bool = True) -> list[str]:
    """``fields``: a comma-separated string or a list of property names.

    Raises:
        Refusal: no fields, or a name that is not a property.
    """
    if value is None or value == "" or value == []:
        if required:
            raise invalid("The parameter fields is required")
        return []
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise invalid("Param fields must be a list of property names")
    out: list[str] = []
    for name in names:
        name = name.strip()
        if name not in PROPERTIES:
            raise invalid(f"Param fields[{len(out)}] must be one of {{{', '.join(PROPERTIES)}}}")
        out.append(name)
    return list(dict.fromkeys(out))

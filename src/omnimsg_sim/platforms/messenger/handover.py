"""The handover protocol (spec/messenger.md §8.1; research §5.2): who owns each thread.

One app owns a thread at a time; a new thread is idle, and an app that does not own a
thread gets its events in ``standby``. The app under test (the Page token's app, the
primary receiver) calls ``pass_thread_control``, ``take_thread_control``,
``request_thread_control`` and ``release_thread_control``; the other apps of the Page (the
Page Inbox, ``263902037430900``, and any configured secondary receiver) act through
``POST /_sim/messenger/handover``, and the app under test hears of it by webhook
(``messaging_handovers``) when it gains, loses or is asked for a thread.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import NO_SUCH_USER, NOT_THREAD_OWNER, Refusal, invalid, too_long
from .inbound import Refused
from .state import PAGE_INBOX, Customer, Page
from .wire import recipient_of

__all__ = [
    "app_name",
    "by_other_app",
    "pass_control",
    "receiver_fields",
    "release_control",
    "request_control",
    "take_control",
    "thread",
]

_METADATA_MAX = 1000  # UNVERIFIED: the Send API's metadata limit
_APP_ID = re.compile(r"[0-9]{1,32}")


def app_name(app: str) -> str:
    """A secondary receiver's ``name`` (``GET /me/secondary_receivers``)."""
    return "Page Inbox" if app == PAGE_INBOX else f"App {app}"


def thread(page: Page, given: dict[str, Any]) -> tuple[Customer, str | None]:
    """The thread a handover call names (``recipient.id``) and its ``metadata``.

    Raises:
        Refusal: no recipient, one the Page does not know, metadata that is not a short text.
    """
    recipient = recipient_of(given.get("recipient"))
    if recipient.kind != "id":
        raise invalid("param recipient[id] is required")
    customer = page.customers.get(recipient.value)
    if customer is None:
        raise Refusal(NO_SUCH_USER)
    metadata = given.get("metadata")
    if metadata is not None and not isinstance(metadata, str):
        raise invalid("Param metadata must be a string")
    if metadata is not None and len(metadata) > _METADATA_MAX:
        raise too_long("metadata", _METADATA_MAX)
    return customer, metadata


def pass_control(page: Page, customer: Customer, given: dict[str, Any]) -> None:
    """``pass_thread_control``: the app under test hands the thread to ``target_app_id``."""
    target = given.get("target_app_id")
    if target is None or target == "":
        raise invalid("The parameter target_app_id is required")
    if isinstance(target, int) and not isinstance(target, bool) and 0 <= target < 10**32:
        target = str(target)
    if not isinstance(target, str) or not _APP_ID.fullmatch(target):
        raise invalid("Param target_app_id must be an app id")
    app = page.cfg.app_id
    if customer.owner_app not in (None, app):
        raise Refusal(NOT_THREAD_OWNER)
    if target == app or target not in page.apps:
        raise invalid("Param target_app_id must be a secondary receiver of this Page")
    customer.owner_app = target
    customer.requested_by = None


def take_control(page: Page, customer: Customer, given: dict[str, Any]) -> None:
    """``take_thread_control``: the primary receiver (the app under test) takes the thread."""
    customer.owner_app = page.cfg.app_id
    customer.requested_by = None


def request_control(page: Page, customer: Customer, given: dict[str, Any]) -> None:
    """``request_thread_control``: ask the owner to pass the thread (it is not idle)."""
    if customer.owner_app in (None, page.cfg.app_id):
        raise invalid("The thread is not owned by another app: take it instead")
    customer.requested_by = page.cfg.app_id


def release_control(page: Page, customer: Customer, given: dict[str, Any]) -> None:
    """``release_thread_control``: the owner lets the thread go idle."""
    if customer.owner_app != page.cfg.app_id:
        raise Refusal(NOT_THREAD_OWNER)
    customer.owner_app = None


def receiver_fields(value: Any) -> list[str]:
    """``fields`` of ``GET /me/secondary_receivers``: ``id`` and ``name`` (both by default)."""
    if value is None or value == "":
        return ["id", "name"]
    if not isinstance(value, str):
        raise invalid("Param fields must be a comma-separated string")
    names = [n.strip() for n in value.split(",") if n.strip()]
    for name in names:
        if name not in ("id", "name"):
            raise invalid(f"Tried accessing nonexisting field ({name}) on node type (Application)")
    return list(dict.fromkeys(names)) or ["id", "name"]


def _app(value: Any, where: str, default: str | None) -> str:
    if value is None:
        if default is None:
            raise Refused(f"'{where}' is required")
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _APP_ID.fullmatch(value):
        raise Refused(f"'{where}' must be an app id (digits)")
    return value


def by_other_app(
    page: Page, body: dict[str, Any], now_ms: int
) -> tuple[Customer, dict[str, Any] | None]:
    """Another app of the Page acts on a thread (``POST /_sim/messenger/handover``).

    ``{"user", "action": "pass"|"take"|"request"|"release", "app_id"?: the acting app (the
    Page Inbox by default), "target_app_id"?: where a pass goes (the app under test by
    default), "metadata"?}``. Returns the thread and the ``messaging_handovers`` event part
    the app under test receives, if any (research §4's shapes: ids as strings, except a
    request's ``requested_owner_app_id`` and a take's ``new_owner_app_id``, numbers there).

    Raises:
        Refused: a malformed body, or an action the acting app may not take; nothing changed.
    """
    known = {"platform", "account", "user", "action", "app_id", "target_app_id", "metadata"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise Refused(f"unknown field(s): {', '.join(unknown)}")
    user = body.get("user")
    if not isinstance(user, str) or user not in page.customers:
        raise Refused("'user' must be the PSID of one of this Page's customers")
    customer = page.customers[user]
    action = body.get("action")
    if action not in ("pass", "take", "request", "release"):
        raise Refused("'action' must be one of pass, take, request, release")
    ours = page.cfg.app_id
    acting = _app(body.get("app_id"), "app_id", PAGE_INBOX)
    if acting == ours or acting not in page.apps:
        raise Refused(
            f"'app_id' must be another app of the Page ({', '.join(page.apps[1:])}); the app "
            "under test hands threads over through the Graph API"
        )
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, str):
        raise Refused("'metadata' must be a string")
    owner = customer.owner_app
    event: dict[str, Any] | None = None
    if action == "pass":
        target = _app(body.get("target_app_id"), "target_app_id", ours)
        if owner not in (None, acting):
            raise Refused(f"app {acting} does not own the thread (app {owner} does)")
        if target == acting or target not in page.apps:
            raise Refused("'target_app_id' must be another app of the Page")
        customer.owner_app = target
        if target == ours:
            passed: dict[str, Any] = {"previous_owner_app_id": owner, "new_owner_app_id": ours}
            event = {"pass_thread_control": passed}
    elif action == "take":
        customer.owner_app = acting
        if owner == ours:
            taken: dict[str, Any] = {
                "previous_owner_app_id": ours,
                "new_owner_app_id": int(acting),
            }
            event = {"take_thread_control": taken}
    elif action == "request":
        if owner == acting:
            raise Refused(f"app {acting} owns the thread already")
        if owner == ours:
            event = {"request_thread_control": {"requested_owner_app_id": int(acting)}}
    else:
        if owner != acting:
            raise Refused(f"app {acting} does not own the thread")
        customer.owner_app = None
    if event is not None:
        part = next(iter(event.values()))
        if metadata is not None:
            part["metadata"] = metadata
        event = {"timestamp": now_ms, **event}
    return customer, event

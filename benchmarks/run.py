#!/usr/bin/env python
"""omnimsg benchmarks: DESIGN.md section 5, measured side by side in one run.

    python benchmarks/run.py            # full run (a few minutes)
    python benchmarks/run.py --quick    # smaller counts, fewer repeats (under ~3 minutes)
    python benchmarks/run.py --only webhooks,send-sync
    python benchmarks/run.py --profile  # + cProfile of omnimsg's own hot paths

Every contender of a case runs once per round (rotating order), rounds are repeated, and the
table shows the best and median round per contender plus its ratio to the case's baseline: the
median of same-round ratios (used for pass/fail) and best/best. Servers are separate processes
on 127.0.0.1, port 0. Results: benchmarks/results/latest.json.
See benchmarks/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import gc
import hashlib
import hmac
import io
import json
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"

APP_SECRET = "bench-app-secret-5f1c0a7e9d2b4c6a"
PHONE_ID = "106540352242922"
WABA_ID = "102290129340398"
TOKEN = "bench-access-token"
WEBHOOK_URL = "https://bot.example.com/webhooks/whatsapp"
SIM_TOKEN = "sim-whatsapp-token"  # omnimsg.testing.DEFAULT_WHATSAPP, served by _servers.py sim
SECTIONS = ("webhooks", "send-sync", "send-async", "sim", "sim-delivery", "memory")


# --------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One contender of one case: per-round rates, and the derived figures."""

    section: str
    case: str
    name: str
    unit: str  # what `rate` counts per second
    rates: list[float] = field(default_factory=list)
    cpu_per_op_us: list[float] = field(default_factory=list)  # client CPU, when measured
    baseline: str | None = None  # name of the row this one is compared with
    target: float | None = None  # minimum ratio to the baseline
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    ratio: float | None = None  # median over rounds of (this rate / baseline rate, same round)
    ratio_best: float | None = None  # best round / best round of the baseline

    @property
    def best(self) -> float:
        return max(self.rates) if self.rates else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.rates) if self.rates else 0.0

    @property
    def cpu_us(self) -> float | None:
        return min(self.cpu_per_op_us) if self.cpu_per_op_us else None

    @property
    def passed(self) -> bool | None:
        if self.target is None or self.ratio is None:
            return None
        return self.ratio >= self.target


def _rounds(repeats: int, budget: float, *, min_rounds: int = 2) -> Iterator[int]:
    """Round numbers: ``repeats`` of them, fewer if the case runs over ``budget`` seconds."""
    start = time.perf_counter()
    for r in range(repeats):
        if r >= min_rounds and time.perf_counter() - start > budget:
            return
        yield r


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call, after a collection."""
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    t1, c1 = time.perf_counter(), time.process_time()
    return t1 - t0, c1 - c0


def set_ratios(rows: list[Row]) -> None:
    """Ratios to the baseline: per round (paired, then the median) and best against best.

    Every round runs every contender of a case once, so round ``i`` of a row and round ``i``
    of its baseline ran back to back; their ratio cancels most of the machine's drift.
    """
    by_name = {(r.case, r.name): r for r in rows}
    for r in rows:
        if r.baseline is None:
            continue
        base = by_name[(r.case, r.baseline)]
        paired = [a / b for a, b in zip(r.rates, base.rates, strict=True) if b]
        if paired:
            r.ratio = statistics.median(paired)
            r.extra["paired_ratios"] = [round(x, 3) for x in paired]
        if base.best:
            r.ratio_best = r.best / base.best


def rotated(plan: list[Any], round_no: int) -> list[Any]:
    """The plan starting at a different contender each round (no position bias)."""
    k = round_no % len(plan)
    return plan[k:] + plan[:k]


# --------------------------------------------------------------------------------------------
# 1. webhook ingest
# --------------------------------------------------------------------------------------------

_BASE_TS = 1_767_250_000
_USERS = 5000


def _user(i: int) -> tuple[str, str]:
    """(phone / wa_id, BSUID) of customer ``i``; 2026 payloads carry both (spec §8)."""
    k = i % _USERS
    return f"1555{k:07d}", f"US.{13491208655302741918 + k}"


def _wamid(seq: int) -> str:
    return f"wamid.HBgLMTU1NTA3ODM4ODEVAgASGBQzQUZF{seq:016d}QkE0RTk3AA=="


def _message(seq: int, kind: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(message, contact) of the ``kind``-th sort (spec §2), with a fresh id."""
    phone, bsuid = _user(seq)
    msg: dict[str, Any] = {
        "from": phone,
        "from_user_id": bsuid,
        "id": _wamid(seq),
        "timestamp": str(_BASE_TS + seq),
    }
    quoted = {"from": "15550783881", "id": _wamid(seq + 10_000_000)}
    k = kind % 12
    if k == 0:
        msg.update(
            type="text", text={"body": f"Hi, where is my order #{seq}? It was due yesterday."}
        )
    elif k == 1:
        msg.update(type="text", text={"body": "Thanks, that helps! 👍"}, context=quoted)
    elif k == 2:
        msg.update(
            type="image",
            image={
                "caption": "the box arrived damaged",
                "mime_type": "image/jpeg",
                "sha256": "QgZR7Zd8xcUh0xZ2n9TgCCq1bYB8WbGDlGpJkq8lPnk=",
                "id": f"{1480000000000000 + seq}",
            },
        )
    elif k == 3:
        msg.update(
            type="interactive",
            interactive={
                "type": "button_reply",
                "button_reply": {"id": "track", "title": "Track it"},
            },
            context=quoted,
        )
    elif k == 4:
        msg.update(
            type="interactive",
            interactive={
                "type": "list_reply",
                "list_reply": {"id": "ret-7", "title": "Return", "description": "Start a return"},
            },
            context=quoted,
        )
    elif k == 5:
        msg.update(
            type="audio",
            audio={
                "mime_type": "audio/ogg; codecs=opus",
                "sha256": "v8u1N3mO0hQk2vB5+0w3rFNzq9Ym7UkZlYp1Vd2cX7A=",
                "id": f"{1490000000000000 + seq}",
                "voice": True,
            },
        )
    elif k == 6:
        msg.update(
            type="location",
            location={
                "latitude": 52.520008,
                "longitude": 13.404954,
                "name": "Alexanderplatz",
                "address": "10178 Berlin, Germany",
            },
        )
    elif k == 7:
        msg.update(type="reaction", reaction={"message_id": _wamid(seq + 10_000_000), "emoji": "❤️"})
    elif k == 8:
        msg.update(
            type="document",
            document={
                "caption": "invoice",
                "filename": "invoice-2026-03.pdf",
                "mime_type": "application/pdf",
                "sha256": "1aCk6ud3cF6tP7bnbqJg+ZJYwYbG2h2nQe3a3aJtq9M=",
                "id": f"{1500000000000000 + seq}",
            },
        )
    elif k == 9:
        msg.update(
            type="button",
            button={"payload": "CONFIRM_DELIVERY", "text": "Confirm"},
            context=quoted,
        )
    elif k == 10:
        msg.update(
            type="sticker",
            sticker={
                "mime_type": "image/webp",
                "sha256": "yD2yq3vQk8b5O0nQ3xk1c5bA2f4m1n7z9QbV3xE7H0w=",
                "id": f"{1510000000000000 + seq}",
                "animated": False,
            },
        )
    else:
        msg.update(
            type="text",
            text={"body": "I saw your ad, is this still available?"},
            referral={
                "source_url": "https://fb.me/3cr4Wqqkv",
                "source_id": "120212345678900001",
                "source_type": "ad",
                "headline": "Spring sale",
                "body": "20% off everything",
                "media_type": "image",
                "image_url": "https://scontent.example/ad.jpg",
                "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO",
            },
        )
    contact = {"profile": {"name": f"Customer {seq % _USERS}"}, "wa_id": phone, "user_id": bsuid}
    return msg, contact


def _status(seq: int, kind: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(status, contact) of the ``kind``-th sort (spec §3)."""
    phone, bsuid = _user(seq)
    which = ("sent", "delivered", "read", "delivered", "read", "failed")[kind % 6]
    st: dict[str, Any] = {
        "id": _wamid(seq + 20_000_000),
        "status": which,
        "timestamp": str(_BASE_TS + seq),
        "recipient_id": phone,
        "recipient_user_id": bsuid,
    }
    if which == "failed":
        st["errors"] = [
            {
                "code": 131047,
                "title": "Re-engagement message",
                "message": "Re-engagement message",
                "error_data": {
                    "details": "Message failed to send because more than 24 hours have passed"
                    " since the customer last replied to this number."
                },
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }
        ]
    else:
        conv: dict[str, Any] = {
            "id": f"c0a8f1e2d3b4a5968778695a4b3c2d{seq % 100:02d}",
            "origin": {"type": "service"},
        }
        if which == "sent":
            conv["expiration_timestamp"] = str(_BASE_TS + seq + 86_400)
        st["conversation"] = conv
        st["pricing"] = {
            "billable": False,
            "pricing_model": "PMP",
            "category": "service",
            "type": "free_customer_service",
        }
    return st, {"wa_id": phone, "user_id": bsuid}


def _value(items: list[tuple[dict[str, Any], dict[str, Any]]], key: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
        "contacts": [c for _, c in items],
        key: [m for m, _ in items],
    }


def webhook_body(case: str, n: int) -> tuple[bytes, int]:
    """The ``n``-th body of ``case`` (every id in it is fresh) and its event count."""
    seq = n * 64
    if case == "single":
        changes = [{"value": _value([_message(seq, 0)], "messages"), "field": "messages"}]
        count = 1
    elif case == "batch20":
        items = [_message(seq + i, i) for i in range(20)]
        changes = [{"value": _value(items, "messages"), "field": "messages"}]
        count = 20
    elif case == "mixed20":
        msgs = [_message(seq + i, i) for i in range(10)]
        sts = [_status(seq + 10 + i, i) for i in range(10)]
        changes = [
            {"value": _value(msgs, "messages"), "field": "messages"},
            {"value": _value(sts, "statuses"), "field": "messages"},
        ]
        count = 20
    else:
        raise ValueError(case)
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": changes}],
    }
    # Meta sends compact JSON with non-ASCII escaped; the signature covers these exact bytes.
    return json.dumps(payload, separators=(",", ":")).encode(), count


def signed_headers(body: bytes) -> dict[str, str]:
    """Headers as a web framework hands them over (a plain dict here)."""
    sig = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Host": "bot.example.com",
        "User-Agent": "facebookexternalua",
        "Content-Length": str(len(body)),
        "Accept": "*/*",
        "Accept-Encoding": "deflate, gzip",
        "Content-Type": "application/json",
        "X-Hub-Signature": "sha1=" + hashlib.sha1(body).hexdigest(),
        "X-Hub-Signature-256": "sha256=" + sig,
    }


def omnimsg_client(**kwargs: Any) -> Any:
    import omnimsg

    return omnimsg.Client(
        [
            omnimsg.WhatsApp(
                phone_number_id=PHONE_ID,
                access_token=TOKEN,
                app_secret=APP_SECRET,
                waba_id=WABA_ID,
                **kwargs.pop("channel", {}),
            )
        ],
        **kwargs,
    )


class _ErrorCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class PywaIngest:
    """pywa's webhook work for one request, called directly (no web server).

    * ``handler``: exactly what its server does per POST: ``webhook_update_validator``
      (HMAC) then ``webhook_update_handler`` (blake2s de-dup hash, ``RawUpdate`` = json.loads,
      handler-type dispatch, typed update construction, callbacks). It builds a typed object
      for the FIRST item of ``entry[0].changes[0]`` only.
    * ``all_items``: the validator, one ``RawUpdate``, then pywa's own dispatch and
      ``from_update`` for EVERY item: messages through a one-item view of the change
      (``Message.from_update`` has no index), statuses with their ``status_idx``.
    """

    def __init__(self) -> None:
        from pywa._logging import get_update_hash
        from pywa.client import WhatsApp
        from pywa.types.base_update import RawUpdate
        from pywa.types.message_status import MessageStatus

        self.wa = WhatsApp(
            phone_id=PHONE_ID,
            token=TOKEN,
            app_secret=APP_SECRET,
            verify_token="bench-verify",
            waba_id=WABA_ID,
        )
        self._RawUpdate = RawUpdate
        self._MessageStatus = MessageStatus
        self._hash = get_update_hash

    def handler(self, headers: dict[str, str], body: bytes) -> int:
        wa = self.wa
        error = wa.webhook_update_validator(body, headers.get("X-Hub-Signature-256"))
        if error is not None:
            raise AssertionError(f"pywa refused the signature: {error}")
        answer = wa.webhook_update_handler(body)
        if answer[1] != 200:
            raise AssertionError(f"pywa answered {answer}")
        return 1

    def _view(self, entry: dict[str, Any], change: dict[str, Any], parent: Any) -> Any:
        view = self._RawUpdate.__new__(self._RawUpdate)
        dict.update(view, {"object": parent["object"], "entry": [{**entry, "changes": [change]}]})
        view.raw = parent.raw
        view.hmac_header = parent.hmac_header
        view._update_hash = parent._update_hash
        view.shared_data = {}
        return view

    def all_items(self, headers: dict[str, str], body: bytes) -> list[Any]:
        wa = self.wa
        sig = headers.get("X-Hub-Signature-256")
        error = wa.webhook_update_validator(body, sig)
        if error is not None:
            raise AssertionError(f"pywa refused the signature: {error}")
        raw = self._RawUpdate(body, hmac_header=sig, update_hash=self._hash(body))
        out: list[Any] = []
        for entry in raw["entry"]:
            for change in entry["changes"]:
                value = change["value"]
                if "statuses" in value:
                    view = self._view(entry, change, raw)
                    for i in range(len(value["statuses"])):
                        out.append(
                            self._MessageStatus.from_update(
                                client=wa, update=view, contact_idx=i, status_idx=i
                            )
                        )
                    continue
                for msg, contact in zip(value["messages"], value["contacts"], strict=True):
                    one = {**value, "messages": [msg], "contacts": [contact]}
                    view = self._view(entry, {"value": one, "field": change["field"]}, raw)
                    handler_type = wa._get_handler_type(view)
                    if handler_type is None:
                        raise AssertionError(f"pywa has no handler for {msg.get('type')!r}")
                    update_cls = wa._handlers_to_updates[handler_type]
                    out.append(update_cls.from_update(client=wa, update=view))
        return out


Work = list[tuple[str, dict[str, str], bytes]]
"""Signed bodies with their URL and the headers a web framework hands over: one round's
work (the URL carries WeChat's signature in its query; the others sign in a header)."""

BARE = "bare: hmac + compare_digest + orjson.loads"
"""The baseline of every ingest case: verifying and decoding, nothing else."""
FLOOR = "floor: bare + building the typed events only"


def _recipe(value: Any) -> Callable[[], Any]:
    """A function that builds a copy of the attrs instance ``value`` the fastest way omnimsg
    has (its fast constructor, called with literal keywords as a parser calls it), nested
    attrs values rebuilt too; other values shared."""
    import attrs

    from omnimsg._fast import fast_constructor

    if not attrs.has(type(value)):
        return lambda: value
    try:
        make = fast_constructor(type(value))
    except TypeError:  # a class with a check or a converter: its own constructor
        make = type(value)
    namespace: dict[str, Any] = {"make": make}
    args = []
    for i, f in enumerate(attrs.fields(type(value))):
        v = getattr(value, f.name)
        if attrs.has(type(v)):
            namespace[f"r{i}"] = _recipe(v)
            args.append(f"{f.name}=r{i}()")
        else:
            namespace[f"v{i}"] = v
            args.append(f"{f.name}=v{i}")
    exec(f"def build():\n    return make({', '.join(args)})\n", namespace)
    build: Callable[[], Any] = namespace["build"]
    return build


@dataclass
class Contender:
    """One contender of an ingest case beyond the four every Meta platform has.

    ``fresh`` makes its state for one round (and one for the warm-up); ``run`` does a round's
    work with it (``None``: omnimsg's ``webhooks.handle``, ``fresh`` making the client);
    ``typed_per_body`` is how many typed events it makes of a body (``None``: all of them).
    """

    row: Row
    fresh: Callable[[], Any]
    run: Callable[[Any, Work], None] | None = None
    typed_per_body: int | None = None


def bench_ingest(
    args: argparse.Namespace,
    *,
    platform: str,
    url: str,
    counts: dict[str, int],
    body_of: Callable[[str, int], tuple[bytes, int]],
    client: Callable[..., Any],
    label: Callable[[str], str],
    handle_note: str,
    more: Callable[[Callable[..., Row], int, tuple[str, dict[str, str], bytes]], list[Contender]],
    signed: Callable[[bytes], tuple[str, dict[str, str]]] | None = None,
    verify: Callable[[str, dict[str, str], bytes], bytes | None] | None = None,
    decode: Callable[[bytes], Any] | None = None,
    bare_note: str = "",
) -> list[Row]:
    """Webhook ingest of one platform against bare signature checking and decoding.

    ``signed(body)`` gives a body's URL and headers; ``verify(url, headers, body)`` is bare's
    signature check, returning the bytes to decode (the body, or what it decrypts to) or
    ``None``; ``decode`` is bare's decoder. Meta's ``X-Hub-Signature-256`` and orjson unless
    given.

    Every case times the bare baseline, ``webhooks.parse``, and ``webhooks.handle`` on a
    MemoryStore and on SQLite, then the platform's ``more`` contenders (given a row maker,
    the events per body and a sample body to check them on first). ``body_of(case, i)`` is
    the ``i``-th body (fresh ids) and its event count; ``client(**kwargs)`` a client for it.
    """
    import orjson

    from omnimsg import Unknown
    from omnimsg.stores import SQLiteStore

    rows: list[Row] = []
    repeats = 3 if args.quick else 7
    key = APP_SECRET.encode()
    digestmod = hashlib.sha256

    def meta_verify(_url: str, headers: dict[str, str], body: bytes) -> bytes | None:
        expected = hmac.new(key, body, digestmod).hexdigest()
        return body if hmac.compare_digest(expected, headers["X-Hub-Signature-256"][7:]) else None

    def meta_signed(body: bytes) -> tuple[str, dict[str, str]]:
        return url, signed_headers(body)

    check = verify or meta_verify
    sign = signed or meta_signed
    loads = decode or orjson.loads

    def bare(_: object, work: Work) -> None:
        for where, headers, body in work:
            payload = check(where, headers, body)
            if payload is None:
                raise AssertionError("bad signature")
            loads(payload)

    def om_parse(c: Any, work: Work) -> None:
        parse = c.webhooks.parse
        for where, headers, body in work:
            parse(platform, headers, body, url=where)

    def om_handle(c: Any, work: Work) -> None:
        handle = c.webhooks.handle
        for where, headers, body in work:
            handle(platform, "POST", where, headers, body)

    def floor_of(events: list[Any]) -> Callable[[object, Work], None]:
        """Bare, then the body's typed events built from ready values: no parsing at all.

        What no eager parser of frozen attrs events can beat: its ratio is the ceiling of
        ``webhooks.parse`` for this body (the content models are rebuilt too).
        """
        recipes = [_recipe(e) for e in events]

        def floor(_: object, work: Work) -> None:
            bare(None, work)
            for _body in work:
                for recipe in recipes:
                    recipe()

        return floor

    for case, n in counts.items():
        bodies: Work = []
        for i in range(n):
            body, per_body = body_of(case, i)
            where, headers = sign(body)
            bodies.append((where, headers, body))
        size = len(bodies[0][2])
        name = label(case)
        parser = client()

        # --- correctness first: no contender may be timed on an error path ---
        u0, h0, b0 = bodies[0]
        events0 = parser.webhooks.parse(platform, h0, b0, url=u0)
        assert len(events0) == per_body, events0
        assert not any(isinstance(e, Unknown) for e in events0), events0
        for store in (None, SQLiteStore()):
            checked = client(**({} if store is None else {"store": store}))
            outcome = checked.webhooks.handle(platform, "POST", u0, h0, b0)
            assert outcome.status == 200, outcome
            assert len(outcome.events) == per_body, outcome

        row = functools.partial(Row, "webhooks", name, unit="events/s")
        contenders = [
            Contender(row(BARE, note=f"{size} B body{bare_note}"), lambda: None, bare),
            Contender(
                row("omnimsg webhooks.parse", baseline=BARE, target=0.5),
                lambda parser=parser: parser,  # parse keeps no state: one client throughout
                om_parse,
            ),
            Contender(
                row(
                    "omnimsg webhooks.handle (MemoryStore)",
                    baseline=BARE,
                    target=0.4,
                    note=handle_note,
                ),
                client,  # fresh MemoryStore: every id is new this round
            ),
            Contender(
                row(
                    "omnimsg webhooks.handle (SQLiteStore)",
                    baseline=BARE,
                    # DESIGN §5 sets the SQLite target on the 20-event bodies only.
                    target=0.1 if per_body > 1 else None,
                    note="in-memory database (no fsync), fresh per round, unique ids per body",
                ),
                lambda: client(store=SQLiteStore()),  # the same, in SQLite
            ),
            Contender(
                row(
                    FLOOR,
                    baseline=BARE,
                    note="bare, then the same frozen attrs events built from ready values "
                    "(no parsing): the ceiling of any eager parser",
                ),
                lambda: None,
                floor_of(events0),
            ),
            *more(row, per_body, (u0, h0, b0)),
        ]
        case_rows = {c.row.name: c.row for c in contenders}
        # warm-up (imports, caches), untimed
        warm = bodies[: min(20, n)]
        for c in contenders:
            (c.run or om_handle)(c.fresh(), warm)
        for rnd in _rounds(repeats, args.budget):
            plan: list[tuple[str, Callable[[], Any], int]] = [
                (
                    c.row.name,
                    functools.partial(c.run or om_handle, c.fresh(), bodies),
                    per_body if c.typed_per_body is None else c.typed_per_body,
                )
                for c in contenders
            ]
            for contender, fn, typed_per_body in rotated(plan, rnd):
                wall, _cpu = timed(fn)
                case_rows[contender].rates.append(n * typed_per_body / wall)
                case_rows[contender].extra.setdefault("bodies_per_s", []).append(n / wall)
        for r in case_rows.values():
            r.extra["bodies_per_s"] = max(r.extra["bodies_per_s"])
            r.extra["us_per_body"] = round(1e6 / r.extra["bodies_per_s"], 1)
            if per_body > 1:
                r.note = (r.note + "; " if r.note else "") + f"{r.extra['us_per_body']} us per body"
        rows.extend(case_rows.values())
        print(f"  webhooks/{name}: done", file=sys.stderr)
    set_ratios(rows)
    return rows


def _pywa_handler(p: PywaIngest, work: Work) -> None:
    for _url, headers, body in work:
        p.handler(headers, body)


def _pywa_all(p: PywaIngest, work: Work) -> None:
    for _url, headers, body in work:
        p.all_items(headers, body)


def _pywa(
    row: Callable[..., Row], per_body: int, sample: tuple[str, dict[str, str], bytes]
) -> list[Contender]:
    """pywa's two ways of ingesting, checked on ``sample`` first (typed, nothing logged)."""
    _, h0, b0 = sample
    catcher = _ErrorCounter()
    pywa_logger = logging.getLogger("pywa")
    pywa_logger.addHandler(catcher)
    pywa_logger.propagate = False
    try:
        p0 = PywaIngest()
        p0.handler(h0, b0)
        typed = p0.all_items(h0, b0)
    finally:
        pywa_logger.removeHandler(catcher)
        pywa_logger.propagate = True
    assert len(typed) == per_body, typed
    assert not catcher.records, [r.getMessage() for r in catcher.records]
    # pywa's handler must have built a typed update, not logged "Failed to construct".
    pywa_first_only = per_body > 1
    return [
        Contender(
            row(
                "pywa handler (validator + webhook_update_handler)",
                baseline=BARE,
                note="parses only the FIRST item of the body" if pywa_first_only else "",
                extra={"typed_events_per_body": 1, "events_per_body": per_body},
            ),
            PywaIngest,  # fresh de-dup cache (pywa skips duplicate bodies)
            _pywa_handler,
            typed_per_body=1,
        ),
        Contender(
            row(
                "pywa typed, every item (validator + from_update each)",
                baseline=BARE,
                note="one-item view per message (pywa has no index for messages)"
                if per_body > 1
                else "",
            ),
            PywaIngest,
            _pywa_all,
        ),
    ]


def bench_webhooks(args: argparse.Namespace) -> list[Row]:
    """WhatsApp ingest against bare HMAC + orjson and pywa: single, 20 and mixed bodies."""
    return bench_ingest(
        args,
        platform="whatsapp",
        url=WEBHOOK_URL,
        counts=(
            {"single": 600, "batch20": 120, "mixed20": 120}
            if args.quick
            else {"single": 3000, "batch20": 500, "mixed20": 500}
        ),
        body_of=webhook_body,
        client=omnimsg_client,
        label=lambda case: case,
        handle_note="fresh store per round, unique ids per body",
        more=_pywa,
    )


# --------------------------------------------------------------------------------------------
# 1b. webhook ingest, Messenger (spec/messenger.md §2; research §4 samples)
# --------------------------------------------------------------------------------------------

FB_PAGE_ID = "104512345678901"
FB_APP_ID = 1517776481860111
FB_WEBHOOK_URL = "https://bot.example.com/webhooks/messenger"
_FB_BASE_MS = _BASE_TS * 1000


def _psid(i: int) -> str:
    return f"{6_700_000_000_000_000 + i % _USERS}"


def _fb_mid(seq: int) -> str:
    return f"m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_{seq:010d}"


def _fb_event(seq: int, kind: int) -> dict[str, Any]:
    """One messaging event of the ``kind``-th sort, as a Page receives them (spec §2.2)."""
    psid = _psid(seq)
    ts = _FB_BASE_MS + seq * 1000
    head: dict[str, Any] = {
        "sender": {"id": psid},
        "recipient": {"id": FB_PAGE_ID},
        "timestamp": ts,
    }
    k = kind % 10
    if k in (0, 4, 8):
        head["message"] = {
            "mid": _fb_mid(seq),
            "text": f"Hi, where is my order #{seq}? It was due yesterday.",
        }
    elif k == 1:
        head["message"] = {
            "mid": _fb_mid(seq),
            "text": "Thanks, that helps! \U0001f44d",
            "reply_to": {"mid": _fb_mid(seq + 10_000_000), "is_self_reply": False},
        }
    elif k == 2:
        head["message"] = {
            "mid": _fb_mid(seq),
            "attachments": [
                {
                    "type": "image",
                    "payload": {
                        "url": f"https://scontent.xx.fbcdn.net/v/t1.15752-9/{seq}_n.jpg?_nc_cat=1&oh=00_AfB"
                    },
                }
            ],
        }
    elif k == 3:
        head["message"] = {
            "mid": _fb_mid(seq),
            "text": "Track it",
            "quick_reply": {"payload": "TRACK"},
        }
    elif k == 5:
        head["postback"] = {"mid": _fb_mid(seq), "title": "Talk to an agent", "payload": "AGENT"}
    elif k == 6:
        sticker = {
            "url": "https://scontent.xx.fbcdn.net/v/t39.1997-6/like.png",
            "sticker_id": 369239263222822,
        }
        head["message"] = {
            "mid": _fb_mid(seq),
            "attachments": [
                {"type": "sticker", "payload": sticker},
                {"type": "image", "payload": sticker},
            ],
        }
    elif k == 7:
        del head["timestamp"]
        head["delivery"] = {"mids": [_fb_mid(seq + 20_000_000)], "watermark": ts}
    else:
        head["read"] = {"watermark": ts - 500}
    return head


def fb_webhook_body(case: str, n: int) -> tuple[bytes, int]:
    """The ``n``-th Messenger body of ``case`` (every id in it fresh) and its event count."""
    seq = n * 64
    count = 1 if case == "single" else 20
    events = [_fb_event(seq + i, i) for i in range(count)]
    payload = {
        "object": "page",
        "entry": [{"id": FB_PAGE_ID, "time": _FB_BASE_MS + seq, "messaging": events}],
    }
    # Meta sends compact JSON, non-ASCII escaped (spec §1.2): the signature covers these bytes.
    return json.dumps(payload, separators=(",", ":")).encode(), count


def fb_client(*, badge_log: bool = True, **kwargs: Any) -> Any:
    import omnimsg

    page = omnimsg.Messenger(
        page_id=FB_PAGE_ID, page_access_token=TOKEN, app_secret=APP_SECRET, badge_log=badge_log
    )
    return omnimsg.Client([page], **kwargs)


def bench_webhooks_messenger(args: argparse.Namespace) -> list[Row]:
    """Messenger ingest against bare HMAC + orjson: single events and 20-event bodies."""
    return bench_ingest(
        args,
        platform="messenger",
        url=FB_WEBHOOK_URL,
        counts={"single": 600, "batch20": 120} if args.quick else {"single": 3000, "batch20": 500},
        body_of=fb_webhook_body,
        client=fb_client,
        label=lambda case: f"messenger {case}",
        handle_note="fresh store per round, unique ids per body; the badge log included",
        more=lambda row, per_body, sample: [
            Contender(
                row(
                    "omnimsg webhooks.handle (MemoryStore, badge_log=False)",
                    baseline=BARE,
                    note="no conversation log for the badge: windows and de-duplication only",
                ),
                functools.partial(fb_client, badge_log=False),
            )
        ],
    )


# --------------------------------------------------------------------------------------------
# 1c. webhook ingest, LINE (spec/line.md §1, §2; research/line.md §1.4)
# --------------------------------------------------------------------------------------------

LINE_BOT = "U" + "4af4980629" * 3 + "ab"
LINE_SECRET = "bench-line-channel-secret"
LINE_WEBHOOK_URL = "https://bot.example.com/webhooks/line"


def _line_user(i: int) -> str:
    return f"U{(0x1F2E3D4C5B6A798800000000 + i % _USERS):032x}"


def _line_event(seq: int, kind: int) -> dict[str, Any]:
    """One webhook event of the ``kind``-th sort, with every field LINE sends (§2)."""
    ts = _BASE_TS * 1000 + seq * 1000
    event: dict[str, Any] = {
        "type": "message",
        "message": {},
        "webhookEventId": f"01J{seq:023d}",
        "deliveryContext": {"isRedelivery": False},
        "timestamp": ts,
        "source": {"type": "user", "userId": _line_user(seq)},
        "replyToken": f"{seq:032x}",
        "mode": "active",
    }
    mid = f"{500_000_000_000_000 + seq}"
    quote = f"q{seq:040d}"
    k = kind % 10
    if k in (0, 3, 6, 8):
        text = f"Hi, where is my order #{seq}? It was due yesterday."
        event["message"] = {"id": mid, "type": "text", "quoteToken": quote, "text": text}
    elif k == 1:
        event["message"] = {
            "id": mid,
            "type": "image",
            "quoteToken": quote,
            "contentProvider": {"type": "line"},
        }
    elif k == 2:
        event["message"] = {
            "id": mid,
            "type": "sticker",
            "quoteToken": quote,
            "packageId": "446",
            "stickerId": "1988",
            "stickerResourceType": "STATIC",
            "keywords": ["happy", "smile"],
        }
    elif k == 4:
        del event["message"]
        event["type"] = "postback"
        event["postback"] = {"data": "action=track&order=42"}
    elif k == 5:
        event["message"] = {
            "id": mid,
            "type": "location",
            "title": "Store",
            "address": "1-1 Chiyoda, Tokyo",
            "latitude": 35.681236,
            "longitude": 139.767125,
        }
    elif k == 7:
        del event["message"]
        event["type"] = "follow"
        event["follow"] = {"isUnblocked": False}
    else:
        event["message"] = {
            "id": mid,
            "type": "text",
            "quoteToken": quote,
            "text": "Thanks, that helps! \U0001f44d",
            "quotedMessageId": f"{400_000_000_000_000 + seq}",
        }
    return event


def line_webhook_body(case: str, n: int) -> tuple[bytes, int]:
    """The ``n``-th LINE body of ``case`` (every id in it fresh) and its event count."""
    seq = n * 64
    count = 1 if case == "single" else 20
    payload = {"destination": LINE_BOT, "events": [_line_event(seq + i, i) for i in range(count)]}
    # LINE sends compact JSON with raw UTF-8 (research §5 TV3): the signature covers it.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(), count


def line_signed_headers(body: bytes) -> tuple[str, dict[str, str]]:
    """The URL, and headers as a framework hands over a LINE delivery."""
    sig = base64.b64encode(hmac.new(LINE_SECRET.encode(), body, hashlib.sha256).digest())
    return LINE_WEBHOOK_URL, {
        "Host": "bot.example.com",
        "User-Agent": "LineBotWebhook/2.0",
        "Content-Length": str(len(body)),
        "Content-Type": "application/json; charset=utf-8",
        "X-Line-Signature": sig.decode(),
    }


def _line_verify(_url: str, headers: dict[str, str], body: bytes) -> bytes | None:
    expected = base64.b64encode(hmac.new(LINE_SECRET.encode(), body, hashlib.sha256).digest())
    return body if hmac.compare_digest(expected, headers["X-Line-Signature"].encode()) else None


def line_client(**kwargs: Any) -> Any:
    import omnimsg
    from omnimsg.platforms.line import Line

    channel = Line(bot_user_id=LINE_BOT, channel_access_token=TOKEN, channel_secret=LINE_SECRET)
    return omnimsg.Client([channel], **kwargs)


def _line_sdk_parse(parser: Any, work: Work) -> None:
    for _url, headers, body in work:
        parser.parse(body.decode(), headers["X-Line-Signature"])


def _line_sdk(
    row: Callable[..., Row], per_body: int, sample: tuple[str, dict[str, str], bytes]
) -> list[Contender]:
    """line-bot-sdk's WebhookParser (verify, json.loads, pydantic models), checked first."""
    try:
        from linebot.v3 import WebhookParser
    except ModuleNotFoundError:  # pip install -e ".[bench]" brings it
        return []
    from linebot.v3.models.events import UnknownEvent  # what its parser falls back to

    parser = WebhookParser(LINE_SECRET)
    _, h0, b0 = sample
    events = parser.parse(b0.decode(), h0["X-Line-Signature"])
    assert len(events) == per_body, events
    assert not any(isinstance(e, UnknownEvent) for e in events), events
    return [
        Contender(
            row(
                "line-bot-sdk WebhookParser.parse",
                baseline=BARE,
                note="the body decoded to str (its API), verified, json.loads, pydantic models",
            ),
            lambda: parser,
            _line_sdk_parse,
        )
    ]


def bench_webhooks_line(args: argparse.Namespace) -> list[Row]:
    """LINE ingest against bare HMAC + base64 + orjson, and line-bot-sdk's parser."""
    return bench_ingest(
        args,
        platform="line",
        url=LINE_WEBHOOK_URL,
        counts={"single": 600, "batch20": 120} if args.quick else {"single": 3000, "batch20": 500},
        body_of=line_webhook_body,
        client=line_client,
        label=lambda case: f"line {case}",
        handle_note="fresh store per round, unique ids per body; reply tokens and follows stored",
        more=_line_sdk,
        signed=line_signed_headers,
        verify=_line_verify,
        bare_note="; the signature is x-line-signature, base64",
    )


# --------------------------------------------------------------------------------------------
# 1d. webhook ingest, WeChat (spec/wechat.md §1-§3; research/wechat.md §2-§3)
# --------------------------------------------------------------------------------------------

WX_ACCOUNT = "gh_10f6c3c3ac5a"
WX_APP_ID = "wx2c2769f8efd9abc2"
WX_TOKEN = "spamtest"
WX_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # the official sample's (§2.4 A)
WX_WEBHOOK_URL = "https://bot.example.com/webhooks/wechat"
_WX_ENCRYPT = re.compile(rb"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>")


def _wx_message(seq: int) -> bytes:
    """A customer's text message as WeChat pushes it (§3.1, §3.2), every id fresh."""
    openid = f"oyORnuP8q7ou2gfYjqLz{seq % _USERS:08d}"
    return (
        f"<xml><ToUserName><![CDATA[{WX_ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{_BASE_TS + seq}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[你好, where is my order #{seq}? It was due yesterday.]]></Content>"
        f"<MsgId>{6054768590064713728 + seq}</MsgId></xml>"
    ).encode()


def wx_webhook_body(case: str, n: int) -> tuple[bytes, int]:
    """The ``n``-th WeChat body of ``case`` (``plaintext`` or ``safe``) and its event count."""
    from omnimsg.platforms.wechat import crypto

    message = _wx_message(n)
    if case == "plaintext":
        return message, 1
    encrypted = crypto.encrypt(WX_AES_KEY, WX_APP_ID, message, f"{n:016d}".encode())
    body = (
        f"<xml><ToUserName><![CDATA[{WX_ACCOUNT}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    ).encode()
    return body, 1


def _wx_sha1(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def wx_signed(body: bytes) -> tuple[str, dict[str, str]]:
    """The URL WeChat signs in (§1.3, §1.4), and the headers a framework hands over."""
    timestamp, nonce = str(_BASE_TS), str(1320562132 + len(body))
    query = {
        "signature": _wx_sha1(WX_TOKEN, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": "oyORnuP8q7ou2gfYjqLzSIWZf0rs",
    }
    found = _WX_ENCRYPT.search(body)
    if found is not None:
        query["encrypt_type"] = "aes"
        query["msg_signature"] = _wx_sha1(WX_TOKEN, timestamp, nonce, found.group(1).decode())
    headers = {
        "Host": "bot.example.com",
        "User-Agent": "Mozilla/4.0",
        "Content-Length": str(len(body)),
        "Content-Type": "text/xml",
    }
    return f"{WX_WEBHOOK_URL}?{urllib.parse.urlencode(query)}", headers


def _wx_verify(url: str, _headers: dict[str, str], body: bytes) -> bytes | None:
    """Bare: SHA-1 of the sorted strings, and in safe mode msg_signature + AES-256-CBC."""
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    ts, nonce = q["timestamp"], q["nonce"]
    if not hmac.compare_digest(_wx_sha1(WX_TOKEN, ts, nonce), q["signature"]):
        return None
    if q.get("encrypt_type") != "aes":
        return body
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    encrypted = ElementTree.fromstring(body).findtext("Encrypt") or ""
    if not hmac.compare_digest(_wx_sha1(WX_TOKEN, ts, nonce, encrypted), q["msg_signature"]):
        return None
    key = base64.b64decode(WX_AES_KEY + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    plain = plain[: -plain[-1]]
    size = int.from_bytes(plain[16:20], "big")
    return plain[20 : 20 + size]


def wx_client(mode: str) -> Callable[..., Any]:
    def make(**kwargs: Any) -> Any:
        import omnimsg
        from omnimsg.platforms.wechat import WeChat

        channel = WeChat(
            account_id=WX_ACCOUNT,
            app_id=WX_APP_ID,
            access_token=TOKEN,
            token=WX_TOKEN,
            encoding_aes_key=WX_AES_KEY,
            mode=mode,
        )
        return omnimsg.Client([channel], **kwargs)

    return make


def _wechatpy_parse(crypto: Any, work: Work) -> None:
    from wechatpy import parse_message
    from wechatpy.utils import check_signature

    for url, _headers, body in work:
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        check_signature(WX_TOKEN, q["signature"], q["timestamp"], q["nonce"])
        xml = body
        if crypto is not None:
            xml = crypto.decrypt_message(body, q["msg_signature"], q["timestamp"], q["nonce"])
        parse_message(xml)


def _wechatpy(
    mode: str,
) -> Callable[[Callable[..., Row], int, tuple[str, dict[str, str], bytes]], list[Contender]]:
    def more(
        row: Callable[..., Row], per_body: int, sample: tuple[str, dict[str, str], bytes]
    ) -> list[Contender]:
        """wechatpy 1.8.18's server side: check_signature, decrypt_message, parse_message."""
        try:
            from wechatpy import parse_message
            from wechatpy.crypto import WeChatCrypto
            from wechatpy.messages import TextMessage
        except ModuleNotFoundError:  # pip install -e ".[bench]" brings it
            return []
        crypto = WeChatCrypto(WX_TOKEN, WX_AES_KEY, WX_APP_ID) if mode == "safe" else None
        url, _, body = sample
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        xml = (
            body
            if crypto is None
            else crypto.decrypt_message(body, q["msg_signature"], q["timestamp"], q["nonce"])
        )
        assert isinstance(parse_message(xml), TextMessage)
        return [
            Contender(
                row(
                    "wechatpy check_signature + parse_message",
                    baseline=BARE,
                    note="and decrypt_message in safe mode; xmltodict, lazy message fields",
                ),
                lambda: crypto,
                _wechatpy_parse,
            )
        ]

    return more


def bench_webhooks_wechat(args: argparse.Namespace) -> list[Row]:
    """WeChat ingest, plaintext and safe mode, against bare SHA-1 (+ AES) + ElementTree."""
    rows: list[Row] = []
    for mode in ("plaintext", "safe"):
        rows += bench_ingest(
            args,
            platform="wechat",
            url=WX_WEBHOOK_URL,
            counts={mode: 600 if args.quick else 3000},
            body_of=wx_webhook_body,
            client=wx_client(mode),
            label=lambda case: f"wechat {case}",
            handle_note="fresh store per round, unique MsgIds; the customer-service window stored",
            more=_wechatpy(mode),
            signed=wx_signed,
            verify=_wx_verify,
            decode=ElementTree.fromstring,
            bare_note="; for WeChat: SHA-1 of the sorted token, timestamp and nonce"
            + (", msg_signature and AES-256-CBC" if mode == "safe" else "")
            + ", then ElementTree",
        )
    return rows


# --------------------------------------------------------------------------------------------
# servers in subprocesses
# --------------------------------------------------------------------------------------------


class ServerProcess:
    """One of benchmarks/_servers.py in its own process; stops when we close its stdin."""

    def __init__(self, kind: str, *args: str) -> None:
        self.kind = kind
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "_servers.py"), kind, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"server {kind!r} did not start: {line!r}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        """utime + stime of the server process (Linux /proc), in seconds."""
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        except OSError:
            return float("nan")
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                self.proc.wait(timeout=5)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


TEXT = "Hi! Your order #12345 has shipped and arrives tomorrow between 9 and 12."


def text_payload(user: str) -> dict[str, Any]:
    """The send body omnimsg builds for Text(TEXT) (spec §4.1), for the raw clients."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": user,
        "type": "text",
        "text": {"body": TEXT},
    }


def open_windows(client: Any, users: list[str]) -> None:
    """Feed each user's inbound message through client.webhooks.handle (opens the window)."""
    for i, user in enumerate(users):
        body = _inbound_body(user, i)
        outcome = client.webhooks.handle(
            "whatsapp", "POST", WEBHOOK_URL, signed_headers(body), body
        )
        assert outcome.status == 200, outcome
        assert outcome.events, outcome


# --------------------------------------------------------------------------------------------
# 2a. sending, sync
# --------------------------------------------------------------------------------------------


def bench_send_sync(args: argparse.Namespace) -> list[Row]:
    import httpx

    from omnimsg import Address, Template, Text

    # Many short rounds: loopback request rates drift by +-20 % over seconds here, and the
    # paired (same-round) ratio cancels the drift.
    n = 150 if args.quick else 400
    repeats = 8 if args.quick else 14
    rows: list[Row] = []
    case = f"sync, {n} sends/round"
    with ServerProcess("stub") as server:
        channel = {"base_url": server.url}
        url = f"{server.url}/v23.0/{PHONE_ID}/messages"
        auth = {"Authorization": f"Bearer {TOKEN}"}
        users = [f"1555{i:07d}" for i in range(n)]
        # Preflight ON: the pair rule allows a burst of 45 per customer, the tier 250
        # customers outside a window; spread the sends so neither refuses any.
        tpl_users = [f"1666{i:07d}" for i in range(200)]
        win_users = [f"1777{i:07d}" for i in range(100)]
        assert n <= 45 * len(win_users)
        assert n <= 45 * len(tpl_users)
        text = Text(TEXT)
        template = Template("order_update", language="en_US", params=["Ada", "#12345", "shipped"])

        raw_client = httpx.Client(timeout=30)

        def raw_httpx() -> None:
            post = raw_client.post
            for user in users:
                r = post(url, json=text_payload(user), headers=auth)
                if r.status_code != 200:
                    raise AssertionError(r.status_code)
                r.json()

        def om_send(client: Any, targets: list[str], content: Any) -> Callable[[], None]:
            def run() -> None:
                send = client.send
                m = len(targets)
                for i in range(n):
                    send(Address("whatsapp", targets[i % m]), content)

            return run

        names = [
            "raw httpx.Client.post",
            "omnimsg Client preflight=False (Text)",
            "omnimsg Client default (preflight on; Template, 200 users)",
            "omnimsg Client default (preflight on; Text in open window, 100 users)",
        ]
        case_rows = {
            names[0]: Row("send-sync", case, names[0], "req/s"),
            names[1]: Row(
                "send-sync",
                case,
                names[1],
                "req/s",
                baseline=names[0],
                target=0.95,
                note=f"{n} distinct users",
            ),
            names[2]: Row(
                "send-sync",
                case,
                names[2],
                "req/s",
                baseline=names[0],
                note="templates may go outside the window",
            ),
            names[3]: Row(
                "send-sync",
                case,
                names[3],
                "req/s",
                baseline=names[0],
                note="windows opened via webhooks.handle first",
            ),
        }
        raw_client.post(url, json=text_payload("warm"), headers=auth)  # connect, untimed
        for rnd in _rounds(repeats, args.budget * 4):
            c_off = omnimsg_client(channel=channel, preflight=False)
            c_tpl = omnimsg_client(channel=channel)
            c_win = omnimsg_client(channel=channel)
            open_windows(c_win, win_users)
            for c in (c_off, c_tpl):
                c.send(Address("whatsapp", "15559999999"), template)  # connect, untimed
            c_win.send(Address("whatsapp", win_users[0]), text)
            plan = [
                (names[0], raw_httpx),
                (names[1], om_send(c_off, users, text)),
                (names[2], om_send(c_tpl, tpl_users, template)),
                (names[3], om_send(c_win, win_users[1:] + win_users[:1], text)),
            ]
            for name, fn in rotated(plan, rnd):
                wall, cpu = timed(fn)
                case_rows[name].rates.append(n / wall)
                case_rows[name].cpu_per_op_us.append(cpu / n * 1e6)
            for c in (c_off, c_tpl, c_win):
                c.close()
        raw_client.close()
        rows.extend(case_rows.values())
    set_ratios(rows)
    print("  send-sync: done", file=sys.stderr)
    return rows


# --------------------------------------------------------------------------------------------
# 2b. sending, async with concurrency
# --------------------------------------------------------------------------------------------


async def _pool(n: int, concurrency: int, one: Callable[[int], Any]) -> None:
    """Run ``one(i)`` for i in range(n) with ``concurrency`` workers."""
    it = iter(range(n))

    async def worker() -> None:
        for i in it:
            await one(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def bench_send_async(args: argparse.Namespace) -> list[Row]:
    import aiohttp
    import httpx

    import omnimsg
    from omnimsg import Address, Text

    n = 600 if args.quick else 1200
    repeats = 5 if args.quick else 7
    conc = 50
    case = f"async, {n}/round, {conc} in flight"
    names = [
        "raw httpx.AsyncClient",
        "omnimsg AsyncClient (AsyncHttpxDriver) preflight=False",
        "raw aiohttp.ClientSession",
        "omnimsg AsyncClient (AiohttpDriver) preflight=False",
        "omnimsg AsyncClient (AiohttpDriver) default (preflight on, open windows)",
    ]
    case_rows = {
        names[0]: Row("send-async", case, names[0], "req/s"),
        names[1]: Row("send-async", case, names[1], "req/s", baseline=names[0], target=0.95),
        names[2]: Row("send-async", case, names[2], "req/s"),
        names[3]: Row("send-async", case, names[3], "req/s", baseline=names[2], target=0.8),
        names[4]: Row(
            "send-async",
            case,
            names[4],
            "req/s",
            baseline=names[2],
            note="100 users, windows opened via webhooks.handle",
        ),
    }
    users = [f"1555{i:07d}" for i in range(n)]
    win_users = [f"1777{i:07d}" for i in range(100)]
    assert n <= 45 * len(win_users)
    text = Text(TEXT)

    def async_client(base: str, **kw: Any) -> Any:
        return omnimsg.AsyncClient(
            [
                omnimsg.WhatsApp(
                    phone_number_id=PHONE_ID,
                    access_token=TOKEN,
                    app_secret=APP_SECRET,
                    waba_id=WABA_ID,
                    base_url=base,
                )
            ],
            **kw,
        )

    async def main(server: ServerProcess) -> None:
        url = f"{server.url}/v23.0/{PHONE_ID}/messages"
        auth = {"Authorization": f"Bearer {TOKEN}"}

        async def run_raw_httpx() -> tuple[float, float]:
            async with httpx.AsyncClient(timeout=30) as client:

                async def one(i: int) -> None:
                    r = await client.post(url, json=text_payload(users[i]), headers=auth)
                    if r.status_code != 200:
                        raise AssertionError(r.status_code)
                    r.json()

                await _pool(conc, conc, one)  # open the connections, untimed
                return await _timed_async(lambda: _pool(n, conc, one))

        async def run_raw_aiohttp() -> tuple[float, float]:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

                async def one(i: int) -> None:
                    async with session.post(url, json=text_payload(users[i]), headers=auth) as r:
                        if r.status != 200:
                            raise AssertionError(r.status)
                        await r.json()

                await _pool(conc, conc, one)
                return await _timed_async(lambda: _pool(n, conc, one))

        async def run_omnimsg(driver: str, preflight: bool) -> tuple[float, float]:
            kw: dict[str, Any] = {"preflight": preflight}
            if driver == "aiohttp":
                kw["driver"] = omnimsg.AiohttpDriver()
            client = async_client(server.url, **kw)
            try:
                if preflight:
                    open_windows_async = client.webhooks.handle
                    for i, user in enumerate(win_users):
                        body = _inbound_body(user, i)
                        outcome = await open_windows_async(
                            "whatsapp", "POST", WEBHOOK_URL, signed_headers(body), body
                        )
                        assert outcome.status == 200, outcome
                        assert outcome.events, outcome
                    targets = win_users
                else:
                    targets = users
                m = len(targets)
                send = client.send

                async def one(i: int) -> None:
                    await send(Address("whatsapp", targets[i % m]), text)

                warm = omnimsg.Template("order_update", params=["Ada", "#1", "ok"])
                # open the connections, untimed (distinct users: the pair rule allows 45 each)
                await _pool(conc, conc, lambda i: send(Address("whatsapp", f"1544{i:07d}"), warm))
                return await _timed_async(lambda: _pool(n, conc, one))
            finally:
                await client.aclose()

        plan: list[tuple[str, Callable[[], Any]]] = [
            (names[0], run_raw_httpx),
            (names[1], lambda: run_omnimsg("httpx", False)),
            (names[2], run_raw_aiohttp),
            (names[3], lambda: run_omnimsg("aiohttp", False)),
            (names[4], lambda: run_omnimsg("aiohttp", True)),
        ]
        for rnd in _rounds(repeats, args.budget * 8):
            for name, make in rotated(plan, rnd):
                wall, cpu = await make()
                case_rows[name].rates.append(n / wall)
                case_rows[name].cpu_per_op_us.append(cpu / n * 1e6)

    with ServerProcess("stub") as server:
        asyncio.run(main(server))
    rows = list(case_rows.values())
    set_ratios(rows)
    print("  send-async: done", file=sys.stderr)
    return rows


def _inbound_body(user: str, i: int) -> bytes:
    msg = {
        "from": user,
        "id": f"wamid.open.{user}.{i}",
        "timestamp": str(int(time.time()) - 60),
        "type": "text",
        "text": {"body": "hello"},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
        "contacts": [{"profile": {"name": "C"}, "wa_id": user}],
        "messages": [msg],
    }
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
        }
    ).encode()


async def _timed_async(make: Callable[[], Any]) -> tuple[float, float]:
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    await make()
    t1, c1 = time.perf_counter(), time.process_time()
    return t1 - t0, c1 - c0


# --------------------------------------------------------------------------------------------
# 3. simulator throughput
# --------------------------------------------------------------------------------------------


async def _load(
    base: str, bodies: list[bytes], duration: float, concurrency: int
) -> tuple[int, int, float, float]:
    """POST send bodies round-robin for ``duration`` s (at most len(bodies) requests).

    Returns (ok, failed, wall seconds, client CPU seconds).
    """
    import aiohttp

    url = f"{base}/v23.0/{PHONE_ID}/messages"
    headers = {"Authorization": f"Bearer {SIM_TOKEN}", "Content-Type": "application/json"}
    ok = failed = 0
    it = iter(bodies)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        # open the connections first, untimed
        async def warm() -> None:
            async with session.get(f"{base}/_sim/health") as r:
                await r.read()

        await asyncio.gather(*(warm() for _ in range(concurrency)))
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal ok, failed
            for body in it:
                if time.perf_counter() > deadline:
                    return
                async with session.post(url, data=body, headers=headers) as r:
                    await r.read()
                    if r.status == 200:
                        ok += 1
                    else:
                        failed += 1

        gc.collect()
        c0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        t1, c1 = time.perf_counter(), time.process_time()
    return ok, failed, t1 - t0, c1 - c0


def bench_sim(args: argparse.Namespace) -> list[Row]:
    import httpx

    duration = 2.0 if args.quick else 3.0
    repeats = 3 if args.quick else 5
    conc = 50
    max_requests = 20_000 if args.quick else 40_000
    per_user = 40  # under the pair burst (45): the frozen clock never refills it
    users_per_round = max_requests // per_user
    case = f"wall rate, {conc} in flight, {duration:.0f} s"
    cpu_case = "per server CPU second (same runs)"
    names = ["bare aiohttp JSON handler", "omnimsg_sim (all rules on)"]
    case_rows = {
        names[0]: Row("sim", case, names[0], "req/s"),
        names[1]: Row(
            "sim",
            case,
            names[1],
            "req/s",
            baseline=names[0],
            note="text sends inside open windows; the Python load generator may "
            "saturate before the bare server does, which flatters this ratio",
        ),
    }
    cpu_rows = {
        names[0]: Row("sim", cpu_case, names[0], "req/cpu-s"),
        names[1]: Row(
            "sim",
            cpu_case,
            names[1],
            "req/cpu-s",
            baseline=names[0],
            target=0.5,
            note="requests served per second of server CPU: the rate each would "
            "reach on a full core, whatever the load generator manages",
        ),
    }

    def bodies_for(users: list[str]) -> list[bytes]:
        out = []
        for k in range(max_requests):
            out.append(
                json.dumps(text_payload(users[k % len(users)]), separators=(",", ":")).encode()
            )
        return out

    with (
        ServerProcess("bare-json") as bare,
        ServerProcess("sim") as sim,
        httpx.Client(base_url=sim.url, timeout=30) as control,
    ):
        assert control.get("/_sim/health").status_code == 200
        for r in _rounds(repeats, args.budget * 6):
            users = [f"1888{r:02d}{k:05d}" for k in range(users_per_round)]
            for u in users:  # the customer writes first: the window opens
                resp = control.post("/_sim/inbound", json={"user": u, "text": "hi"})
                assert resp.status_code == 200, resp.text
            bodies = bodies_for(users)
            for name, server in rotated([(names[0], bare), (names[1], sim)], r):
                cpu0 = server.cpu_seconds()
                ok, failed, wall, client_cpu = asyncio.run(
                    _load(server.url, bodies, duration, conc)
                )
                server_cpu = server.cpu_seconds() - cpu0
                row = case_rows[name]
                row.rates.append(ok / wall)
                row.cpu_per_op_us.append(server_cpu / max(ok, 1) * 1e6)
                cpu_rows[name].rates.append(ok / server_cpu if server_cpu > 0 else 0.0)
                row.extra.setdefault("failed", 0)
                row.extra["failed"] += failed
                row.extra.setdefault("client_cpu_busy", []).append(round(client_cpu / wall, 2))
                row.extra.setdefault("server_cpu_busy", []).append(round(server_cpu / wall, 2))
                if failed:
                    row.note += f" {failed} non-200!"
        case_rows[names[1]].extra["rss_mb_after"] = round(sim.rss_mb(), 1)
        case_rows[names[0]].extra["rss_mb_after"] = round(bare.rss_mb(), 1)
    rows = list(case_rows.values()) + list(cpu_rows.values())
    set_ratios(rows)
    print("  sim: done", file=sys.stderr)
    return rows


# --------------------------------------------------------------------------------------------
# 3b. simulator memory: 100k customers with a conversation
# --------------------------------------------------------------------------------------------

_MEMORY_SCRIPT = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[2])
from _servers import sim_config
from omnimsg_sim import SimCore
from omnimsg_sim.drive import run_sync
from omnimsg_sim.effects import SimRequest

def rss():
    for line in open(f"/proc/{os.getpid()}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
n = int(sys.argv[1])
core = SimCore(sim_config())
before = rss()
t0 = time.perf_counter()
for i in range(n):
    body = json.dumps({"user": f"1999{i:07d}", "text": "hello, where is my order?"}).encode()
    req = SimRequest(method="POST", path="/_sim/inbound", query={}, headers={}, body=body,
                     base_url="http://127.0.0.1")
    res = run_sync(core.handle(req), None)
    assert res.status == 200, res
    if i == 0:
        pass
for i in range(n):  # and the business answers each one
    body = json.dumps({"messaging_product": "whatsapp", "to": f"1999{i:07d}", "type": "text",
                       "text": {"body": "On its way!"}}).encode()
    req = SimRequest(method="POST", path="/v23.0/106540352242922/messages", query={},
                     headers={"authorization": "Bearer sim-whatsapp-token"}, body=body,
                     base_url="http://127.0.0.1")
    res = run_sync(core.handle(req), None)
    assert res.status == 200, (res.status, res.body[:300])
    run_sync(core.pump(), None)  # as the server does after each request
elapsed = time.perf_counter() - t0
print(json.dumps({"customers": n, "rss_mb_before": round(before, 1), "rss_mb_after": round(rss(), 1),
                  "seconds": round(elapsed, 2)}))
"""


def bench_memory(args: argparse.Namespace) -> dict[str, Any]:
    n = 20_000 if args.quick else 100_000
    proc = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(n), str(HERE)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-5:]}
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["target_mb_for_100k"] = 300
    out["projected_mb_for_100k"] = round(
        out["rss_mb_before"] + (out["rss_mb_after"] - out["rss_mb_before"]) * 100_000 / n, 1
    )
    print("  memory: done", file=sys.stderr)
    return out


# --------------------------------------------------------------------------------------------
# 3c. simulator webhook delivery: concurrent, ordered, and the backlog it leaves
# --------------------------------------------------------------------------------------------

DELIVERY_CONCURRENCY = 32  # [sim] webhook_concurrency's default, and the raw client's
_SENDS_PER_USER = 20  # under the pair burst (45); every user's window is opened first


def _signed_status_bodies(n: int) -> list[tuple[bytes, dict[str, str]]]:
    """``n`` status webhooks exactly as the simulator signs them (taken from its sink)."""
    from _servers import sim_config

    from omnimsg_sim import SimCore
    from omnimsg_sim.drive import run_sync
    from omnimsg_sim.effects import SimRequest

    core = SimCore(sim_config(delivery_log_limit=4 * n + 10))
    core.world.targets[("whatsapp", PHONE_ID)] = "/_sim/sink"

    def call(path: str, body: dict[str, Any], **headers: str) -> None:
        req = SimRequest(method="POST", path=path, headers=headers, body=json.dumps(body).encode())
        res = run_sync(core.handle(req), None)  # the sink needs no HTTP
        assert res.status == 200, res.body[:300]
        run_sync(core.pump(), None)

    users = [f"1777{k:07d}" for k in range(n // _SENDS_PER_USER + 1)]
    for u in users:
        call("/_sim/inbound", {"user": u, "text": "hi"})
    for k in range(n):
        call(
            f"/v23.0/{PHONE_ID}/messages",
            text_payload(users[k % len(users)]),
            authorization=f"Bearer {SIM_TOKEN}",
        )
    run_sync(core.advance(1), None)  # the `delivered` of each
    statuses = [r for r in core.world.sink.requests if r.kind == "status"]
    return [(r.body, dict(r.headers)) for r in statuses[-n:]]


async def _raw_post(url: str, bodies: list[tuple[bytes, dict[str, str]]], conc: int) -> float:
    """Seconds for a raw aiohttp ClientSession to POST every body, ``conc`` in flight."""
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as session:

        async def warm() -> None:  # open the connections first, untimed
            async with session.get(url.rsplit("/", 1)[0] + "/stats") as r:
                await r.read()

        await asyncio.gather(*(warm() for _ in range(conc)))
        it = iter(bodies)

        async def worker() -> None:
            for body, headers in it:
                async with session.post(url, data=body, headers=headers) as r:
                    await r.read()
                    assert r.status == 200, r.status

        gc.collect()
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        return time.perf_counter() - t0


def _received(control: Any, receiver: ServerProcess) -> int:
    return int(control.get(f"{receiver.url}/stats").json()["received"])


def _quiet(control: Any, receiver: ServerProcess, want: int, timeout: float = 120) -> None:
    """Until the receiver got ``want`` webhooks (the simulator's background flush is done)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if _received(control, receiver) >= want:
            return
        time.sleep(0.02)
    raise RuntimeError(f"the receiver got {_received(control, receiver)} of {want} webhooks")


def _backlog(control: Any, sim: ServerProcess, receiver: ServerProcess, n: int, tag: int) -> None:
    """``n`` sends whose `sent` went out already: ``n`` `delivered` wait for the clock."""
    users = [f"1888{tag:03d}{k:05d}" for k in range(n // _SENDS_PER_USER + 1)]
    before = _received(control, receiver)
    for u in users:  # the customer writes first: the window opens (delivered at once)
        r = control.post(f"{sim.url}/_sim/inbound", json={"user": u, "text": "hi"})
        assert r.status_code == 200, r.text
    bodies = [
        json.dumps(text_payload(users[k % len(users)]), separators=(",", ":")).encode()
        for k in range(n)
    ]
    ok, failed, _wall, _cpu = asyncio.run(_load(sim.url, bodies, 1e9, 50))
    assert ok == n, (ok, failed)
    _quiet(control, receiver, before + len(users) + n)  # every `sent` is out


def _flush(control: Any, sim: ServerProcess, n: int) -> tuple[float, float]:
    """Deliver the backlog with one /_sim/clock/advance: (wall seconds, server CPU seconds)."""
    cpu0 = sim.cpu_seconds()
    t0 = time.perf_counter()
    r = control.post(f"{sim.url}/_sim/clock/advance", json={"seconds": 1})
    wall = time.perf_counter() - t0
    cpu = sim.cpu_seconds() - cpu0
    delivered = r.json()["delivered"]
    assert len(delivered) == n, len(delivered)
    assert {d["status"] for d in delivered} == {200}, delivered[:3]
    return wall, cpu


def _settle(control: Any, sim: ServerProcess, receiver: ServerProcess, n: int) -> None:
    """The `read` of each, untimed, so that the next round starts from nothing due."""
    before = _received(control, receiver)
    control.post(f"{sim.url}/_sim/clock/advance", json={"seconds": 5})
    _quiet(control, receiver, before + n)


_ENTRY_SCRIPT = r"""
import gc, json, os, sys, tracemalloc
sys.path.insert(0, sys.argv[2])
from _servers import sim_config
from omnimsg_sim import SimCore
from omnimsg_sim.drive import run_sync
from omnimsg_sim.effects import SimRequest

def rss():
    for line in open(f"/proc/{os.getpid()}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

def call(core, path, body, **headers):
    req = SimRequest(method="POST", path=path, query={}, headers=headers,
                     body=json.dumps(body).encode(), base_url="http://127.0.0.1")
    res = run_sync(core.handle(req), None)
    assert res.status == 200, res.body[:300]
    run_sync(core.pump(), None)

text = "Hi! Your order #12345 has shipped and arrives tomorrow between 9 and 12."
n, mode = int(sys.argv[1]), sys.argv[3]
core = SimCore(sim_config())
users = [f"1666{i:07d}" for i in range(n // 20 + 1)]
for u in users:
    call(core, "/_sim/inbound", {"user": u, "text": "hi"})
gc.collect()
if mode == "tracemalloc":
    tracemalloc.start()
    s0 = tracemalloc.take_snapshot()
r0 = rss()
for i in range(n):
    call(core, "/v23.0/106540352242922/messages",
         {"messaging_product": "whatsapp", "recipient_type": "individual",
          "to": users[i % len(users)], "type": "text", "text": {"body": text}},
         authorization="Bearer sim-whatsapp-token")
run_sync(core.advance(10), None)  # every status built and gone: what stays is the outbox
gc.collect()
out = {"entries": len(core.world.outbox), "sends": n}
if mode == "tracemalloc":
    s1 = tracemalloc.take_snapshot()
    grown = sum(d.size_diff for d in s1.compare_to(s0, "filename"))
    out["bytes_per_entry"] = round(grown / n)
else:
    out["rss_kb_per_send"] = round((rss() - r0) * 1024 / n, 2)
print(json.dumps(out))
"""


def _entry_size(n: int, mode: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _ENTRY_SCRIPT, str(n), str(HERE), mode],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-3:]}
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def bench_sim_delivery(args: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    import httpx

    n = 3000 if args.quick else 8000
    n_seq = n // 6  # one at a time is slow: fewer, the rate is what counts
    backlog = 20_000
    repeats = 3 if args.quick else 5
    conc = DELIVERY_CONCURRENCY
    case = f"webhooks delivered to one receiver, {conc} in flight"
    names = [
        f"raw aiohttp ClientSession, same signed bodies ({n})",
        f"omnimsg_sim, one /_sim/clock/advance flushing {n}",
        f"omnimsg_sim webhook_concurrency=1 (one at a time; {n_seq})",
    ]
    rows = {
        names[0]: Row("sim-delivery", case, names[0], "deliv/s"),
        names[1]: Row(
            "sim-delivery",
            case,
            names[1],
            "deliv/s",
            baseline=names[0],
            target=0.5,
            note=f"the `delivered` status of {n} sends, due at one virtual instant; "
            "cpu us/op: the simulator's own CPU per webhook",
        ),
        names[2]: Row(
            "sim-delivery",
            case,
            names[2],
            "deliv/s",
            baseline=names[0],
            note="strictly sequential, for scale (before concurrent delivery the server "
            "sent one at a time with httpx: about 800/s here)",
        ),
    }
    info: dict[str, Any] = {"concurrency": conc}
    bodies = _signed_status_bodies(n)
    with (
        ServerProcess("receiver") as receiver,
        ServerProcess("sim-hooks", str(conc)) as sim,
        ServerProcess("sim-hooks", "1") as seq,
        httpx.Client(timeout=600) as control,
    ):
        url = f"{receiver.url}/webhooks/whatsapp"
        for server in (sim, seq):
            r = control.post(f"{server.url}/_sim/webhooks/target", json={"url": url})
            assert r.status_code == 200, r.text

        def raw(_r: int) -> None:
            c0 = time.process_time()
            wall = asyncio.run(_raw_post(url, bodies, conc))
            rows[names[0]].rates.append(n / wall)
            rows[names[0]].cpu_per_op_us.append((time.process_time() - c0) / n * 1e6)

        def simulated(r: int, server: ServerProcess, row: Row, count: int) -> None:
            _backlog(control, server, receiver, count, r)
            wall, cpu = _flush(control, server, count)
            row.rates.append(count / wall)
            row.cpu_per_op_us.append(cpu / count * 1e6)
            _settle(control, server, receiver, count)

        plan: list[Callable[[int], None]] = [
            raw,
            lambda r: simulated(r, sim, rows[names[1]], n),
            lambda r: simulated(100 + r, seq, rows[names[2]], n_seq),
        ]
        for r in _rounds(repeats, args.budget * 8):
            for step in rotated(plan, r):
                step(r)
        print("  sim-delivery: rounds done", file=sys.stderr)

    # The backlog of the issue (a load leaves N webhooks due), and memory, on a fresh server.
    with (
        ServerProcess("receiver") as receiver,
        ServerProcess("sim-hooks", str(conc)) as sim,
        httpx.Client(timeout=600) as control,
    ):
        url = f"{receiver.url}/webhooks/whatsapp"
        control.post(f"{sim.url}/_sim/webhooks/target", json={"url": url})
        rss0 = sim.rss_mb()
        _backlog(control, sim, receiver, backlog, 999)
        wall, _cpu = _flush(control, sim, backlog)
        _settle(control, sim, receiver, backlog)
        rss1 = sim.rss_mb()
        health = control.get(f"{sim.url}/_sim/health").json()
        seq_best = rows[names[2]].best
        info["backlog"] = {
            "pending": backlog,
            "flush_seconds": round(wall, 2),
            "rate": round(backlog / wall),
            "sequential_projection_seconds": round(backlog / seq_best, 1) if seq_best else None,
        }
        info["rss"] = {
            "sends": backlog,
            "statuses_delivered": 3 * backlog,
            "rss_mb_before": round(rss0, 1),
            "rss_mb_after": round(rss1, 1),
            "kb_per_send": round((rss1 - rss0) * 1024 / backlog, 2),
            "outbox": health.get("outbox"),
        }
    m = 5000 if args.quick else 20_000
    info["entry"] = {**_entry_size(m, "tracemalloc"), **_entry_size(m, "rss")}
    out = list(rows.values())
    set_ratios(out)
    print("  sim-delivery: done", file=sys.stderr)
    return out, info


def print_delivery(info: dict[str, Any]) -> None:
    print("\n## sim-delivery: backlog and memory")
    b, m, e = info.get("backlog", {}), info.get("rss", {}), info.get("entry", {})
    if b:
        projection = b["sequential_projection_seconds"]
        print(
            f"  backlog: {b['pending']:,} webhooks due at once, flushed by one "
            f"/_sim/clock/advance in {b['flush_seconds']} s ({b['rate']:,}/s; one at a time "
            f"it would take ~{projection} s)"
        )
    if m:
        print(
            f"  RSS after {m['sends']:,} sends and their {m['statuses_delivered']:,} status "
            f"webhooks: {m['rss_mb_before']} -> {m['rss_mb_after']} MB "
            f"({m['kb_per_send']} KB per send); outbox {m['outbox']}"
        )
    if "error" in e:
        print("  per-entry measurement failed:", e["error"])
    elif e:
        print(
            f"  a retained outbox entry (text send, statuses done): {e['bytes_per_entry']} B "
            f"(tracemalloc), {e['rss_kb_per_send']} KB RSS per send, {e['entries']:,} kept"
        )


# --------------------------------------------------------------------------------------------
# profiling (optional)
# --------------------------------------------------------------------------------------------


def profile_hot_paths(args: argparse.Namespace) -> str:
    import cProfile
    import pstats

    from omnimsg import Address, Text

    out = io.StringIO()
    bodies = []
    for i in range(300):
        body, _ = webhook_body("batch20", i)
        bodies.append((signed_headers(body), body))
    parser = omnimsg_client()
    handler = omnimsg_client()

    def section(title: str, fn: Callable[[], Any]) -> None:
        prof = cProfile.Profile()
        prof.enable()
        fn()
        prof.disable()
        out.write(f"\n=== {title} (top by own time) ===\n")
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(14)

    section(
        "webhooks.parse, 300 x batch20",
        lambda: [parser.webhooks.parse("whatsapp", h, b) for h, b in bodies],
    )
    section(
        "webhooks.handle, 300 x batch20",
        lambda: [handler.webhooks.handle("whatsapp", "POST", WEBHOOK_URL, h, b) for h, b in bodies],
    )
    with ServerProcess("stub") as server:
        client = omnimsg_client(channel={"base_url": server.url}, preflight=False)
        text = Text(TEXT)
        client.send(Address("whatsapp", "15559999999"), text)
        section(
            "Client.send preflight=False, 500 sends",
            lambda: [client.send(Address("whatsapp", f"1555{i:07d}"), text) for i in range(500)],
        )
        client.close()
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def _fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def print_table(rows: list[Row]) -> None:
    header = (
        f"  {'contender':<60} {'best':>10} {'median':>10} {'unit':<8} {'us/op':>7} "
        f"{'cpu us/op':>9} {'ratio':>6} {'best/best':>9}  target"
    )
    section = case = None
    for r in rows:
        if r.section != section:
            section, case = r.section, None
            print(f"\n## {section}")
        if r.case != case:
            case = r.case
            print(f"\n[{case}]")
            print(header)
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ("base" if r.baseline is None else "")
        best_best = f"{r.ratio_best:.2f}x" if r.ratio_best is not None else ""
        target = ""
        if r.target is not None:
            target = f">={r.target:g} " + ("ok" if r.passed else "MISS")
        cpu = f"{r.cpu_us:.0f}" if r.cpu_us is not None else ""
        per_op = f"{1e6 / r.best:.1f}" if r.best else ""
        print(
            f"  {r.name[:60]:<60} {_fmt_rate(r.best):>10} {_fmt_rate(r.median):>10} {r.unit:<8} "
            f"{per_op:>7} {cpu:>9} {ratio:>6} {best_best:>9}  {target}"
        )
        if r.note:
            print(f"  {'':<4}^ {r.note}")


def summary(rows: list[Row]) -> list[dict[str, Any]]:
    return [
        {
            "section": r.section,
            "case": r.case,
            "contender": r.name,
            "baseline": r.baseline,
            "ratio": round(r.ratio, 3) if r.ratio is not None else None,
            "ratio_best_over_best": round(r.ratio_best, 3) if r.ratio_best is not None else None,
            "target": r.target,
            "passed": r.passed,
        }
        for r in rows
        if r.target is not None
    ]


def versions() -> dict[str, str]:
    out = {}
    for dist in ("omnimsg", "pywa", "httpx", "aiohttp", "orjson", "attrs"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="smaller counts and fewer rounds")
    ap.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default: all of {','.join(SECTIONS)})",
    )
    ap.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds per case after which no new round starts (default 8, quick 4)",
    )
    ap.add_argument("--profile", action="store_true", help="also cProfile omnimsg's hot paths")
    ap.add_argument("--output", type=Path, default=RESULTS_DIR / "latest.json")
    args = ap.parse_args()
    if args.budget is None:
        args.budget = 4.0 if args.quick else 8.0
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections: {', '.join(sorted(unknown))}")

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if load_before is not None and load_before > 0.5:
        print(
            f"warning: load average is {load_before:.2f} before starting: something else is "
            "using the CPUs, expect noisier numbers (ratios are paired per round to help)",
            file=sys.stderr,
        )
    started = time.perf_counter()
    rows: list[Row] = []
    memory: dict[str, Any] | None = None
    print(f"omnimsg benchmarks ({'quick' if args.quick else 'full'}) ...", file=sys.stderr)
    if "webhooks" in only:
        rows += bench_webhooks(args)
        rows += bench_webhooks_messenger(args)
        rows += bench_webhooks_line(args)
        rows += bench_webhooks_wechat(args)
    if "send-sync" in only:
        rows += bench_send_sync(args)
    if "send-async" in only:
        rows += bench_send_async(args)
    if "sim" in only:
        rows += bench_sim(args)
    delivery: dict[str, Any] | None = None
    if "sim-delivery" in only:
        delivery_rows, delivery = bench_sim_delivery(args)
        rows += delivery_rows
    if "memory" in only:
        memory = bench_memory(args)
    prof = profile_hot_paths(args) if args.profile else None
    elapsed = time.perf_counter() - started

    env = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "system": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "versions": versions(),
    }
    print(
        f"\nomnimsg benchmarks - {'quick' if args.quick else 'full'} run, {elapsed:.0f} s, "
        f"Python {env['python']}, {env['cpus']} CPUs"
    )
    if load_before is not None:
        print(
            f"load average before/after: {load_before:.2f} / {env['load_average_after']:.2f}"
            + (
                "  (other work was running: treat absolute rates with care)"
                if load_before > 0.5
                else ""
            )
        )
    print(
        "best/median: over rounds; ratio: median over rounds of rate/baseline rate in the same "
        "round (pass/fail uses it); best/best: best round over the baseline's best round"
    )
    print_table(rows)
    if delivery is not None:
        print_delivery(delivery)
    if memory is not None:
        print("\n## memory")
        if "error" in memory:
            print("  failed:", memory["error"])
        else:
            print(
                f"  simulator with {memory['customers']:,} customers (inbound + reply each): "
                f"RSS {memory['rss_mb_before']} -> {memory['rss_mb_after']} MB in {memory['seconds']} s; "
                f"projected for 100k: {memory['projected_mb_for_100k']} MB (target < 300 MB)"
            )
    checks = summary(rows)
    if checks:
        print("\n## targets (DESIGN.md section 5)")
        for c in checks:
            mark = "ok  " if c["passed"] else "MISS"
            print(
                f"  {mark} {c['section']:<10} {c['case'][:30]:<30} {c['contender'][:58]:<58} "
                f"{c['ratio']:.2f}x (best/best {c['ratio_best_over_best']:.2f}x), target >= {c['target']:g}x"
            )
    if prof:
        print(prof)

    result = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "seconds": round(elapsed, 1),
        "environment": env,
        "rows": [
            {
                **{k: v for k, v in asdict(r).items() if k not in ("rates", "cpu_per_op_us")},
                "best": round(r.best, 1),
                "median": round(r.median, 1),
                "rounds": [round(x, 1) for x in r.rates],
                "cpu_us_per_op": round(r.cpu_us, 1) if r.cpu_us is not None else None,
                "passed": r.passed,
            }
            for r in rows
        ],
        "targets": checks,
        "sim_delivery": delivery,
        "memory": memory,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nwrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

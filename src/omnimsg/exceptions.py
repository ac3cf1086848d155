"""The one error tree of omnimsg.

Every error omnimsg raises is an :class:`OmniMsgError`; nothing else (no bare ``ValueError``,
``KeyError`` or ``json.JSONDecodeError``) escapes to a user::

    OmniMsgError
    ├── ConfigurationError        a channel, store or argument is set up wrongly
    ├── PolicyViolation           pre-flight: the platform would refuse this; raised before any I/O
    ├── SignatureError            a webhook failed verification (missing/bad signature, bad token)
    ├── WebhookParseError         a verified webhook body is not what the platform sends
    ├── StoreError                the state store failed
    ├── TransportError            the request did not get an HTTP answer (.retryable)
    │   └── Timeout
    └── PlatformError             the platform answered with an error
        ├── AuthenticationError   token invalid or expired
        ├── PermissionDenied      the app/account lacks a permission
        │   └── RecipientUnavailable  the customer cannot be reached now (blocked, deactivated)
        ├── NotFound              the object (template, media, user) does not exist
        ├── InvalidRequest        the request is malformed or a parameter is invalid
        ├── PolicyRejected        the platform's rules refused it (window closed, template state)
        ├── RateLimited           throttled; .retry_after in seconds when known
        └── ServerError           the platform failed; usually safe to retry later

Every :class:`PlatformError` keeps the platform, the native ``code`` and ``subcode``, the HTTP
status, the request id and the raw body, so nothing the platform said is lost; ``retryable``
says the platform reported a temporary failure that did not act on the request.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._types import Platform
from ._violation import Violation

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "InvalidRequest",
    "NotFound",
    "OmniMsgError",
    "PermissionDenied",
    "PlatformError",
    "PolicyRejected",
    "PolicyViolation",
    "RateLimited",
    "RecipientUnavailable",
    "ServerError",
    "SignatureError",
    "StoreError",
    "Timeout",
    "TransportError",
    "WebhookParseError",
]


class OmniMsgError(Exception):
    """Base class of every error omnimsg raises."""


class ConfigurationError(OmniMsgError):
    """A channel, store, argument or config file is set up wrongly."""


class PolicyViolation(OmniMsgError):
    """The platform would refuse this operation; raised before any I/O.

    ``violations`` holds one :class:`omnimsg.rules.Violation` per broken rule, each with a
    stable ``rule_id`` and the platform's native error code.
    """

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations: tuple[Violation, ...] = tuple(violations)
        super().__init__("; ".join(v.message for v in self.violations) or "policy violation")

    @property
    def violation(self) -> Violation:
        """The first (most important) violation."""
        return self.violations[0]


class SignatureError(OmniMsgError):
    """A webhook failed verification: missing or wrong signature, token or timestamp."""


class WebhookParseError(OmniMsgError):
    """A webhook body could not be decoded into the platform's envelope."""


class StoreError(OmniMsgError):
    """The state store failed or holds a value omnimsg cannot read."""


class TransportError(OmniMsgError):
    """The request got no HTTP answer (connection refused, reset, DNS, ...).

    ``retryable`` is true when the request certainly never reached the platform. The message
    names the HTTP library's exception type and message, the method and the URL without its
    query; that exception itself is not chained (it holds the request's Authorization header).
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class Timeout(TransportError):
    """The request timed out; the platform may or may not have acted on it."""


class PlatformError(OmniMsgError):
    """The platform answered with an error.

    Attributes:
        platform: which platform answered.
        code: the platform's native error code (int for Meta, str for LINE...).
        subcode: the native sub-code, when there is one.
        http_status: the HTTP status of the answer.
        request_id: the platform's trace/request id (``fbtrace_id``, ``x-line-request-id``...).
        details: the platform's human-readable details.
        raw: the raw response body, undecoded.
        retryable: the platform said the failure is temporary and nothing was done (a
            Messenger ``1200`` "Temporary send message failure"), so even a send may be
            tried again.
    """

    def __init__(
        self,
        message: str,
        *,
        platform: Platform,
        code: int | str | None = None,
        subcode: int | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
        details: str | None = None,
        raw: bytes = b"",
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.platform: Platform = platform
        self.code = code
        self.subcode = subcode
        self.http_status = http_status
        self.request_id = request_id
        self.details = details
        self.raw = raw
        self.retryable = retryable

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self)!r}, platform={self.platform!r}, code={self.code!r}, "
            f"http_status={self.http_status!r})"
        )


class AuthenticationError(PlatformError):
    """The access token is invalid, expired or missing."""


class PermissionDenied(PlatformError):
    """The app, page or number lacks a permission for this call."""


class RecipientUnavailable(PermissionDenied):
    """The customer cannot be reached right now: they blocked the account, deactivated, or
    the platform will not say (Messenger 551/1545041). Treat it as lasting: mark the contact
    unreachable instead of retrying."""


class NotFound(PlatformError):
    """The object (template, media, user, account) does not exist."""


class InvalidRequest(PlatformError):
    """The request is malformed or a parameter is invalid."""


class PolicyRejected(PlatformError):
    """The platform's own rules refused the message (window closed, template not approved...).

    ``rule_id`` names the omnimsg rule that matches the native code, when one does.
    """

    def __init__(self, message: str, *, rule_id: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.rule_id = rule_id


class RateLimited(PlatformError):
    """The platform throttled the request; ``retry_after`` is in seconds when known."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(PlatformError):
    """The platform failed internally; usually transient."""

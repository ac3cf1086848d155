"""Media on the simulated Cloud API (spec/whatsapp.md §7.3): limits, URLs, multipart bodies."""

from __future__ import annotations

import re

__all__ = ["DEFAULT_MIME", "MEDIA_TTL", "URL_TTL", "limit_for", "parse_multipart"]

MEDIA_TTL = 30 * 86_400.0  # §7.3: uploaded media persist 30 days
URL_TTL = 300.0  # §7.3: download URLs live ~5 minutes
# §7.3 size limits by MIME family (bytes).
_MEDIA_LIMITS = {
    "image": 5 << 20,
    "video": 16 << 20,
    "audio": 16 << 20,
    "application": 100 << 20,
    "text": 100 << 20,
}
_STICKER_LIMIT = 500 << 10
DEFAULT_MIME = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/ogg; codecs=opus",
    "document": "application/pdf",
    "sticker": "image/webp",
}
"""The MIME type of customer-sent media given without one."""


def limit_for(mime: str) -> int:
    """The largest upload of a MIME type, in bytes (stickers are WebP, 500 KB)."""
    if mime == "image/webp":
        return _STICKER_LIMIT
    return _MEDIA_LIMITS.get(mime.split("/")[0], 100 << 20)


def parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    """Fields and files of a multipart/form-data body (enough for media uploads)."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    if not m:
        return fields, files
    delimiter = b"--" + m.group(1).encode("utf-8", "surrogatepass")
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        data = data[:-2] if data.endswith(b"\r\n") else data
        headers = head.decode("utf-8", "replace")
        name = re.search(r'name="([^"]*)"', headers)
        if not name:
            continue
        filename = re.search(r'filename="([^"]*)"', headers)
        ctype = re.search(r"(?im)^content-type:\s*(.+)$", headers)
        if filename:
            files[name.group(1)] = (
                filename.group(1),
                ctype.group(1).strip() if ctype else "application/octet-stream",
                data,
            )
        else:
            fields[name.group(1)] = data.decode("utf-8", "replace")
    return fields, files

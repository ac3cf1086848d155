"""A minimal multipart/form-data encoder (media uploads), so flows stay sans-I/O."""

from __future__ import annotations

import secrets


def encode_multipart(
    fields: dict[str, str], file_field: str, filename: str, data: bytes, mime_type: str
) -> tuple[bytes, str]:
    """Return ``(body, content_type)`` for text ``fields`` plus one file."""
    boundary = "omnimsg" + secrets.token_hex(12)
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
    parts.append(
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
            f'filename="{safe_name}"\r\nContent-Type: {mime_type}\r\n\r\n'
        ).encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"

"""Mosquitto 2 password files, written without ``mosquitto_passwd``.

A line is ``username:$7$<iterations>$<salt, base64>$<PBKDF2-HMAC-SHA512, base64>`` (the format
``mosquitto_passwd`` writes since 2.0; the salt is 12 random bytes, the hash 64 bytes). The
broker re-reads the file on SIGHUP.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

ITERATIONS = 101  # mosquitto_passwd's own default in 2.0
SALT_BYTES = 12
HASH_BYTES = 64
FILE_MODE = 0o640  # the broker reads it through its group; never world-readable


class PasswordFileError(ValueError):
    """An invalid username, or a line the broker would not understand."""


def check_username(username: str) -> str:
    if not username or ":" in username or any(c in username for c in "\r\n\0") or len(username) > 65535:
        raise PasswordFileError(f"invalid broker username {username!r}")
    return username


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """The ``$7$...`` hash of ``password`` as mosquitto 2 stores it."""
    if not password or any(c in password for c in "\r\n\0"):
        raise PasswordFileError("a broker password must be non-empty, on one line")
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, HASH_BYTES)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches a ``$7$`` hash (as the broker would decide)."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != "7":
        raise PasswordFileError("not a mosquitto $7$ hash")
    iterations, salt, digest = int(parts[2]), base64.b64decode(parts[3]), base64.b64decode(parts[4])
    candidate = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, len(digest))
    return hmac.compare_digest(candidate, digest)


def read_entries(path: Path) -> dict[str, str]:
    """``{username: hash}`` of a password file (missing file: empty); order is kept."""
    entries: dict[str, str] = {}
    if not path.exists():
        return entries
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, encoded = line.partition(":")
        if not sep or not user:
            raise PasswordFileError(f"{path}:{number}: not a 'username:hash' line")
        entries[user] = encoded
    return entries


def write_entries(path: Path, entries: dict[str, str]) -> None:
    """Replace the file atomically (same directory, then rename), mode 0640, group kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{check_username(user)}:{encoded}\n" for user, encoded in entries.items())
    fd, tmp = tempfile.mkstemp(prefix=".passwd-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of ``path`` between processes (two ``vigil camera add`` at
    once would otherwise each write the file without the other's entry)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.parent / f".{path.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def set_password(path: Path, username: str, password: str) -> bool:
    """Add or replace ``username``'s entry. Returns True when the user was new."""
    encoded = hash_password(password)
    with _exclusive(path):
        entries = read_entries(path)
        new = check_username(username) not in entries
        entries[username] = encoded
        write_entries(path, entries)
    return new


def remove_user(path: Path, username: str) -> bool:
    with _exclusive(path):
        entries = read_entries(path)
        if entries.pop(username, None) is None:
            return False
        write_entries(path, entries)
    return True

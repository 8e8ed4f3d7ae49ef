"""IP camera credentials at rest: sealed with Fernet (``cryptography``: AES-128-CBC with an
HMAC-SHA256 tag) under ``VIGIL_CREDENTIALS_KEY``, or under a key generated once into
``<VIGIL_DATA_DIR>/secrets/credentials.key`` (owner-only) when that setting is unset.

The database alone never gives a camera's password: it takes the key too (compose and k8s keep
it in the deployment's secrets). Losing the key loses the stored credentials, nothing else: each
camera then needs its password typed again."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from vigil_common.runtime.settings import Settings

KEY_FILE = Path("secrets") / "credentials.key"


class CredentialsKeyError(RuntimeError):
    """The key is malformed, or is not the one the credentials were sealed with."""


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str
    url: str = ""  # the whole stream URL, when the camera puts credentials in its path or query

    def __repr__(self) -> str:  # never the password, in a log line or a traceback
        return f"Credentials(username={self.username!r}, password=***)"

    def __bool__(self) -> bool:
        return bool(self.username or self.url)


def _key_file(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    try:
        if key := path.read_bytes().strip():
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Fernet.generate_key()
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
        f.flush()
        os.fsync(f.fileno())
    try:  # link: atomic and refused if it exists, so two processes starting together agree
        if path.exists() and not path.read_bytes().strip():
            path.unlink()  # an empty file left by a crash
        os.link(temp, path)
    except FileExistsError:
        key = path.read_bytes().strip()
    finally:
        temp.unlink(missing_ok=True)
    return key


class SecretBox:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise CredentialsKeyError("VIGIL_CREDENTIALS_KEY is not a Fernet key (32 url-safe base64 bytes)") from None

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        if settings.credentials_key is not None:
            return cls(settings.credentials_key.get_secret_value().strip().encode())
        return cls(_key_file(settings.data_dir.resolve()))

    def seal(self, credentials: Credentials) -> str:
        plain = json.dumps({"username": credentials.username, "password": credentials.password,
                            **({"url": credentials.url} if credentials.url else {})})
        return self._fernet.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> Credentials:
        try:
            data = json.loads(self._fernet.decrypt(sealed.encode()))
        except (InvalidToken, ValueError):
            raise CredentialsKeyError("stored camera credentials cannot be opened with this key "
                                      "(VIGIL_CREDENTIALS_KEY changed?): type the camera's password again") from None
        return Credentials(str(data.get("username", "")), str(data.get("password", "")), str(data.get("url", "")))

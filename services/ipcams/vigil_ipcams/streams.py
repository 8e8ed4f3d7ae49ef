"""Pure decisions about an IP camera's stream: which ONVIF profile to record, and the RTSP URL
with the credentials put in (only ever handed to the capture process, never shown or logged)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

RECORDABLE = ("H264",)  # H.265 is refused, as by `vigil capture` (docs/protocol.md)
# Cameras that put credentials in the URL's path or query
# (rtsp://h/user=admin&password=x&channel=1):
# such a URL is sealed whole, and shown with those values masked.
SECRET_PARAM = re.compile(r"(?i)\b(user(?:name)?|pass(?:word|wd)?|pwd|token|auth|key)=([^&;/?#]*)")


@dataclass(frozen=True, slots=True)
class Profile:
    """One ONVIF media profile: a stream the camera offers."""

    token: str
    name: str
    encoding: str  # "H264", "H265", "JPEG", ...
    width: int
    height: int
    fps: float
    uri: str  # RTSP, without credentials ("" when the camera gave none)


class StreamError(ValueError):
    """Why a camera's stream cannot be recorded (shown to the user as it is)."""


def choose_profile(profiles: list[Profile], token: str | None = None) -> Profile:
    """The profile ``token``, or the largest H.264 profile with a stream URI (the main stream;
    a user who wants the sub-stream names its token)."""
    if token is not None:
        for profile in profiles:
            if profile.token == token:
                if profile.encoding.upper() not in RECORDABLE:
                    raise StreamError(f"profile {token!r} sends {profile.encoding or 'an unknown codec'}; "
                                      "Vigil records H.264 (set the camera's encoder to H.264)")
                if not profile.uri:
                    raise StreamError(f"the camera gave no RTSP URL for profile {token!r}")
                return profile
        raise StreamError(f"the camera has no profile {token!r}")
    usable = [p for p in profiles if p.encoding.upper() in RECORDABLE and p.uri]
    if not usable:
        codecs = sorted({p.encoding or "?" for p in profiles})
        raise StreamError("the camera offers no H.264 stream" + (f" (it offers {', '.join(codecs)})" if codecs else "")
                          + "; set its encoder to H.264")
    return max(usable, key=lambda p: (p.width * p.height, p.fps))


def check_rtsp_url(url: str) -> str:
    """An ``rtsp://`` / ``rtsps://`` URL with a host and no credentials in it (they are given
    apart, so they can be kept encrypted); returns it unchanged."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        raise StreamError("not a valid URL") from None
    if parts.scheme not in ("rtsp", "rtsps"):
        raise StreamError("the stream URL must start with rtsp:// or rtsps://")
    if not host:
        raise StreamError("the stream URL has no host")
    if parts.username is not None or parts.password is not None:
        raise StreamError("give the user name and password in their own fields, not in the URL")
    if any(c in url for c in "\r\n\t ") or len(url) > 1024:
        raise StreamError("the stream URL contains spaces or control characters, or is too long")
    return url


def without_credentials(url: str) -> str:
    """``url`` with any user name and password the camera put in it removed."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def with_credentials(url: str, username: str, password: str) -> str:
    """The URL the capture process opens: ``rtsp://user:password@host/...`` (both percent-encoded)."""
    if not username:
        return url
    parts = urlsplit(url)
    userinfo = quote(username, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query, parts.fragment))


def has_secret_params(url: str) -> bool:
    """The URL carries credentials in its path or query (``password=``, ``pwd=``, ``user=``, ...)."""
    parts = urlsplit(url)
    return bool(SECRET_PARAM.search(parts.path) or SECRET_PARAM.search(parts.query))


def masked(url: str) -> str:
    """The URL as it may be stored in the clear and shown: credential-like values replaced by ``***``."""
    return SECRET_PARAM.sub(lambda m: f"{m.group(1)}=***", url)

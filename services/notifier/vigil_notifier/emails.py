"""E-mail text for each alert: a clear subject, plain text and HTML, times in VIGIL_TIMEZONE."""

from __future__ import annotations

import html
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from vigil_common.contract.messages import ObjectEventMessage
from vigil_common.contract.urls import closeup_url
from vigil_notifier.machine import ONLINE, Alert, Watch

# What str.splitlines() splits on (and email headers must not hold): \n \r \v \f, the file/
# group/record separators, NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR.
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def header_text(text: str) -> str:
    """``text`` made safe for one header line (a subject): every line break and other control
    character becomes a space (camera names may hold U+2028, which EmailMessage refuses)."""
    return "".join(" " if ch in _LINE_BREAKS or ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 else ch for ch in text)


@dataclass(frozen=True, slots=True)
class Email:
    kind: str
    camera_id: str | None
    subject: str
    text: str
    html: str
    state: str = ""  # conditions: "raised" or "cleared" (one kind for both)


@dataclass(frozen=True, slots=True)
class Context:
    tz: ZoneInfo
    public_url: str = ""  # e.g. https://vigil.example.org (no trailing slash needed)

    def when(self, t: float | None) -> str:
        if t is None:
            return "never"
        return datetime.fromtimestamp(t, UTC).astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S %Z")

    def link(self, path: str) -> str | None:
        return f"{self.public_url.rstrip('/')}{path}" if self.public_url else None


def duration(seconds: float | None) -> str:
    """``75`` -> ``1 min 15 s``; ``93784`` -> ``1 d 2 h``."""
    if seconds is None:
        return "unknown"
    s = round(max(0.0, seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def _camera_title(w: Watch) -> str:
    return f'Camera "{w.label}" ({w.ident})'


def _render(kind: str, camera_id: str | None, subject: str, lines: list[tuple[str, str]], intro: str,
            links: list[tuple[str, str]]) -> Email:
    text = [intro, ""] + [f"{k}: {v}" for k, v in lines]
    text += [""] + [f"{label}: {url}" for label, url in links]
    text += ["", "-- Vigil"]
    rows = "".join(f"<tr><th align=\"left\">{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in lines)
    link_html = "".join(f'<p><a href="{html.escape(url, quote=True)}">{html.escape(label)}</a></p>'
                        for label, url in links)
    body = (f"<!doctype html><html><body><p>{html.escape(intro)}</p><table>{rows}</table>{link_html}"
            "<p style=\"color:#777\">&mdash; Vigil</p></body></html>")
    return Email(kind, camera_id, header_text(f"[Vigil] {subject}"), "\n".join(text).strip() + "\n", body)


def _camera_links(w: Watch, ctx: Context) -> list[tuple[str, str]]:
    links = []
    snap = ctx.link(f"/api/v1/cameras/{w.ident}/snapshot.jpg")
    if snap:
        links.append(("Last snapshot", snap))
    page = ctx.link(f"/#/camera/{w.ident}")
    if page:
        links.append(("Open in Vigil", page))
    return links


def compose(alert: Alert, ctx: Context) -> Email:
    w = alert.watches[0] if alert.watches else None
    if alert.kind == "cameras_summary":
        return _summary(alert, ctx)
    assert w is not None
    if alert.kind in ("camera_offline", "camera_reminder"):
        lasted = duration(alert.duration_s)
        lines = [("Camera", f"{w.label} ({w.ident})"), ("Location", w.location or "-"),
                 ("Last seen", ctx.when(w.down_since)), ("Offline for", lasted)]
        if alert.kind == "camera_reminder":
            return _render(alert.kind, w.ident, f"{_camera_title(w)} is still offline ({lasted})", lines,
                           f"{_camera_title(w)} has been offline for {lasted}.", _camera_links(w, ctx))
        return _render(alert.kind, w.ident, f"{_camera_title(w)} is offline", lines,
                       f"{_camera_title(w)} stopped reporting and is offline.", _camera_links(w, ctx))
    if alert.kind == "camera_online":
        lasted = duration(alert.duration_s)
        lines = [("Camera", f"{w.label} ({w.ident})"), ("Location", w.location or "-"),
                 ("Back at", ctx.when(w.recovered_at or alert.at)), ("Outage lasted", lasted)]
        return _render(alert.kind, w.ident, f"{_camera_title(w)} is back online after {lasted}", lines,
                       f"{_camera_title(w)} is back online. The outage lasted {lasted}.", _camera_links(w, ctx))
    if alert.kind == "camera_new":
        lines = [("Camera", f"{w.label} ({w.ident})"), ("Location", w.location or "-"),
                 ("First seen", ctx.when(w.last_seen or alert.at))]
        return _render(alert.kind, w.ident, f"New {_camera_title(w)[0].lower()}{_camera_title(w)[1:]} registered",
                       lines, f"A new camera registered: {w.label} ({w.ident}).", _camera_links(w, ctx))
    if alert.kind == "service_offline":
        lines = [("Service", w.ident), ("Last seen", ctx.when(w.down_since)),
                 ("Offline for", duration(alert.duration_s))]
        return _render(alert.kind, None, f'Service "{w.ident}" is offline', lines,
                       f'The Vigil service "{w.ident}" went offline.', [])
    if alert.kind == "service_online":
        lines = [("Service", w.ident), ("Outage lasted", duration(alert.duration_s))]
        return _render(alert.kind, None, f'Service "{w.ident}" is back online', lines,
                       f'The Vigil service "{w.ident}" is back online.', [])
    raise ValueError(f"no e-mail for alert kind {alert.kind!r}")


def _summary(alert: Alert, ctx: Context) -> Email:
    n = len(alert.watches)
    if alert.going == ONLINE:
        subject = f"{n} cameras are back online"
        intro = f"{n} cameras came back online at about the same time."
        lines = [(f"{w.label} ({w.ident})", f"{w.location or '-'}; outage {duration(w.recovered_after)}")
                 for w in alert.watches]
    else:
        subject = f"{n} cameras are offline"
        intro = (f"{n} cameras went offline at about the same time: perhaps a network, power or broker "
                 "failure on their side rather than the cameras themselves.")
        lines = [(f"{w.label} ({w.ident})", f"{w.location or '-'}; last seen {ctx.when(w.down_since)}")
                 for w in alert.watches]
    return _render("cameras_summary", None, subject, lines, intro, [])


def broker_lost(seconds: float, since: float, ctx: Context) -> Email:
    lasted = duration(seconds)
    lines = [("Lost at", ctx.when(since)), ("For", lasted)]
    return _render("broker_lost", None, f"Notifier lost the MQTT broker for {lasted}", lines,
                   f"The notifier could not reach the MQTT broker for {lasted}. Camera outages during that "
                   "time could not be detected; cameras were given a fresh grace period after it came back.", [])


def condition(kind: str, raised: bool, detail: dict[str, object], camera_id: str | None = None) -> Email:
    """A condition's e-mail, raised or cleared (its ``state`` says which)."""
    return replace(_condition(kind, raised, detail, camera_id), state="raised" if raised else "cleared")


def _condition(kind: str, raised: bool, detail: dict[str, object], camera_id: str | None) -> Email:
    lines = [(k.replace("_", " ").capitalize(), str(v)) for k, v in detail.items()]
    if kind == "recorder_failing":
        what = "Recorder jobs are failing repeatedly" if raised else "Recorder jobs succeed again"
    elif kind == "disk_low":
        what = "Disk space is at the free-space floor" if raised else "Disk space is above the floor again"
    elif kind == "ingest_dropping":
        what = (f'Ingest is dropping frames of camera "{camera_id}"' if raised
                else f'Ingest no longer drops frames of camera "{camera_id}"')
    elif kind == "redis_memory_high":
        what = "Redis memory is near its limit" if raised else "Redis memory is below its limit again"
        if raised:
            return _render(kind, None, what, lines, what + ". When it is full, Redis refuses new frames and "
                           "they are lost: raise Redis's maxmemory (REDIS_MAXMEMORY in compose) or lower "
                           "VIGIL_STREAM_BUFFER_S (the seconds of frames kept per camera).", [])
    elif kind == "recording_stalled":
        cameras = str(detail.get("cameras", ""))
        if raised:
            what = f"Recording has stalled: {cameras}" if cameras else "Recording has stalled"
            return _render(kind, None, what, lines, f"Frames from {cameras or 'some cameras'} are arriving but are no "
                           f"longer being recorded: {detail.get('detail') or detail.get('reason')}. Footage is lost "
                           "once it leaves the Redis buffer (VIGIL_STREAM_BUFFER_S).", [])
        what = "Recording has caught up"
        return _render(kind, None, what, lines, what + f": every streaming camera is being recorded again "
                       f"(stalled for {detail.get('stalled_for', 'unknown')}).", [])
    else:
        raise ValueError(f"no e-mail for condition {kind!r}")
    return _render(kind, camera_id, what, lines, what + ".", [])


def object_detected(message: ObjectEventMessage, name: str, location: str, ctx: Context) -> Email:
    """An object event of a label the camera notifies about has started (its close-up linked)."""
    cam = message.camera_id
    what = message.label.capitalize()
    title = f'"{name}" ({cam})' if name and name != cam else cam
    lines = [("Camera", f"{name or cam} ({cam})"), ("Location", location or "-"), ("Object", message.label),
             ("Score", f"{message.score:.0%}"), ("Seen at", ctx.when(message.start.timestamp()))]
    if message.zones:
        lines.append(("Zones", ", ".join(message.zones)))
    links = []
    closeup = ctx.link(closeup_url(message.id))  # built here, never a URL taken from the message
    if closeup:
        links.append(("Close-up", closeup))
    events = ctx.link(f"/#/events?camera_id={cam}")
    if events:
        links.append(("Events in Vigil", events))
    return _render("object_detected", cam, f"{what} at {title}", lines,
                   f"A {message.label} was seen by camera {title}.", links)


def test_email() -> Email:
    return _render("test", None, "Test e-mail", [], "This is a test e-mail from Vigil: delivery works.", [])

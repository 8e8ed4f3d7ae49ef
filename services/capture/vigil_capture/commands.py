"""Turning a command message into what should change (pure; the service applies the result)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from vigil_capture.config import CaptureConfig, apply_configure
from vigil_common.contract.errors import ReasonedError
from vigil_common.contract.messages import Command, CommandAction

MAX_COMMAND_BYTES = 64 * 1024


class CommandRejected(ReasonedError):
    """A command that is ignored (``reason`` is the log rate-limit key)."""


@dataclass(frozen=True, slots=True)
class CommandEffect:
    """What a valid command changes: ``None`` fields stay as they are."""

    action: CommandAction
    request_id: str
    streaming: bool | None = None
    config: CaptureConfig | None = None
    snapshot: bool = False


def parse_command(payload: bytes) -> Command:
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandRejected("command_too_large", f"command of {len(payload)} bytes is too large")
    try:
        return Command.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise CommandRejected("malformed_command", f"malformed command ({where}: {first['msg']})") from exc


def decide(command: Command, config: CaptureConfig) -> CommandEffect:
    """The effect of ``command`` on a camera configured as ``config``.

    Raises ``ConfigureError`` for invalid ``configure`` params (nothing changes then).
    """
    action = command.action
    if action is CommandAction.START:
        return CommandEffect(action, command.request_id, streaming=True)
    if action is CommandAction.STOP:
        return CommandEffect(action, command.request_id, streaming=False)
    if action is CommandAction.SNAPSHOT:
        return CommandEffect(action, command.request_id, snapshot=True)
    return CommandEffect(action, command.request_id, config=apply_configure(config, command.params))

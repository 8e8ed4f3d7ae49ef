"""Which object labels a camera notifies about (``cameras.notify_objects``, set with
``PATCH /cameras/{id}`` ``notify_objects``; the notifier e-mails when an object event of one of
them starts, docs/notifier.md). Stored as a JSON list; NULL or ``[]`` = no object e-mails (the
default: opt-in per camera and label)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from pydantic import TypeAdapter, ValidationError

from vigil_common.contract.object_zones import Label

log = logging.getLogger(__name__)

MAX_LABELS = 16
_labels = TypeAdapter(list[Label])


def dump(labels: Iterable[str]) -> str | None:
    """The stored text of ``labels`` (validated, duplicates dropped, order kept); None if empty."""
    unique = list(dict.fromkeys(_labels.validate_python(list(labels))))
    if len(unique) > MAX_LABELS:
        raise ValueError(f"at most {MAX_LABELS} labels")
    return json.dumps(unique) if unique else None


def parse(text: str | None) -> list[str]:
    """The labels stored in ``text``; a value that is not a list of labels counts as none (logged)."""
    if not text:
        return []
    try:
        return list(dict.fromkeys(_labels.validate_json(text)))[:MAX_LABELS]
    except ValidationError:
        log.warning("ignoring an invalid notify_objects value")
        return []

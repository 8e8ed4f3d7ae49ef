"""Pure decisions of an export: which segments a range takes (ids, paths and download names
are the shared contract, :mod:`vigil_common.contract.exports`).

An export of ``[start, end)`` takes every segment overlapping the range, in time order, each
cut to the range (see :func:`vigil_recorder.remux.plan.cut_indices`: the first piece starts
at the keyframe at or before ``start``, the last stops after the last frame shown before
``end``; no re-encode, so the edges are accurate to one GOP, ~2 s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vigil_recorder.remux.concat import Piece
from vigil_recorder.storage.disk import recording_path


@dataclass(frozen=True, slots=True)
class Span:
    """A segment's place in time and its file (relative to the data directory)."""

    start_ns: int
    end_ns: int
    path: str


def plan_pieces(segments: Sequence[Span], start_ns: int, end_ns: int, data_dir: Path) -> list[Piece]:
    """The pieces of an export of ``[start_ns, end_ns)``: segments overlapping it, by start,
    each cut to the range."""
    if end_ns <= start_ns:
        raise ValueError("the range is empty")
    chosen = sorted((s for s in segments if s.start_ns < end_ns and s.end_ns > start_ns), key=lambda s: s.start_ns)
    return [Piece(path, s.start_ns, cut_start_ns=start_ns, cut_end_ns=end_ns) for s in chosen
            if (path := recording_path(data_dir, s.path)) is not None]

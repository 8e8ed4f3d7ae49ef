"""Rendezvous hashing of cameras over detector processes (pure)."""

from __future__ import annotations

from collections import Counter

from vigil_detector.sharing import owner

CAMERAS = [f"cam-{i}" for i in range(200)]


def test_every_camera_has_one_owner_and_the_shares_are_even() -> None:
    members = ["host-a-1", "host-b-7", "host-c-3"]
    shares = Counter(owner(c, members) for c in CAMERAS)
    assert set(shares) == set(members) and sum(shares.values()) == len(CAMERAS)
    assert min(shares.values()) >= 40  # about a third each
    assert all(owner(c, list(reversed(members))) == owner(c, members) for c in CAMERAS)  # order does not matter
    assert owner("cam-1", []) is None


def test_a_member_leaving_moves_only_its_own_cameras() -> None:
    before = {c: owner(c, ["a", "b", "c"]) for c in CAMERAS}
    after = {c: owner(c, ["a", "c"]) for c in CAMERAS}
    moved = {c for c in CAMERAS if before[c] != after[c]}
    assert moved == {c for c in CAMERAS if before[c] == "b"}
    joined = {c: owner(c, ["a", "b", "c", "d"]) for c in CAMERAS}
    assert {c for c in CAMERAS if joined[c] != before[c]} == {c for c in CAMERAS if joined[c] == "d"}

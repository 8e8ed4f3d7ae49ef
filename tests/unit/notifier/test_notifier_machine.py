"""The notifier's pure decisions over simulated time (no I/O)."""

from __future__ import annotations

from vigil_notifier.machine import (
    CAMERA,
    OFFLINE,
    ONLINE,
    SERVICE,
    SUSPECT,
    Alert,
    Condition,
    Policy,
    Watch,
    on_heartbeat,
    on_status,
    plan,
    rebase,
    recent_failures,
    update_condition,
)

P = Policy(heartbeat_s=5, grace_s=60, reminder_after_s=3600, reminder_every_s=86400, group_min=3,
           group_window_s=30, recovery_hold_s=5)
T0 = 1_700_000_000.0


class Sim:
    """Cameras fed heartbeats and ticked once a second over simulated time."""

    def __init__(self, policy: Policy = P) -> None:
        self.p = policy
        self.now = T0
        self.watches: dict[str, Watch] = {}
        self.alerts: list[Alert] = []

    def cam(self, ident: str) -> Watch:
        return self.watches.setdefault(f"camera:{ident}", Watch(CAMERA, ident))

    def hb(self, *idents: str) -> None:
        for i in idents:
            self.alerts += on_heartbeat(self.cam(i), self.now, name=f"Cam {i}", location="porch")

    def status(self, ident: str, online: bool) -> None:
        self.alerts += on_status(self.cam(ident), self.now, online)

    def run(self, seconds: float, beating: tuple[str, ...] = ()) -> None:
        """Advance time second by second; ``beating`` cameras send a heartbeat every 5 s."""
        for _ in range(int(seconds)):
            self.now += 1
            if beating and int(self.now - T0) % int(self.p.heartbeat_s) == 0:
                self.hb(*beating)
            self.alerts += plan(self.watches, self.now, self.p)

    def kinds(self) -> list[str]:
        return [a.kind for a in self.alerts]


def test_new_camera_once_then_silence_is_suspect_then_offline_then_one_email_after_grace() -> None:
    s = Sim()
    s.hb("a")
    assert s.kinds() == ["camera_new"]
    s.run(60, beating=("a",))
    assert s.kinds() == ["camera_new"] and s.cam("a").phase == ONLINE
    last = s.cam("a").last_seen
    s.run(8)
    assert s.cam("a").phase == SUSPECT
    s.run(8)
    assert s.cam("a").phase == OFFLINE
    assert s.kinds() == ["camera_new"]  # offline but not yet for the grace period
    s.run(60)
    assert s.kinds() == ["camera_new", "camera_offline"]
    outage = s.alerts[-1]
    assert outage.watches[0].down_since == last
    assert outage.duration_s is not None and outage.duration_s >= P.grace_s
    assert s.now - (last or 0) >= P.grace_s  # no sooner than the grace period
    s.run(600)
    assert s.kinds().count("camera_offline") == 1  # exactly one per outage


def test_recovery_reports_the_outage_length_once() -> None:
    s = Sim()
    s.hb("a")
    s.status("a", False)  # Last Will
    s.run(100)
    assert s.kinds() == ["camera_new", "camera_offline"]
    s.hb("a")
    s.run(10, beating=("a",))
    assert s.kinds() == ["camera_new", "camera_offline", "camera_online"]
    rec = s.alerts[-1]
    assert rec.duration_s == 100
    s.run(100, beating=("a",))
    assert s.kinds().count("camera_online") == 1


def test_blips_shorter_than_the_grace_send_nothing() -> None:
    s = Sim(Policy(heartbeat_s=1, grace_s=15, group_min=3))
    s.hb("a")
    for _ in range(4):
        s.run(5, beating=("a",))
        s.run(3)  # a 3 s blip: suspect/offline, never reported
        s.hb("a")
    s.run(5, beating=("a",))
    assert s.kinds() == ["camera_new"]


def test_lwt_blip_sends_nothing_and_no_recovery() -> None:
    s = Sim()
    s.hb("a")
    s.status("a", False)
    s.run(30)
    s.hb("a")
    s.run(100, beating=("a",))
    assert s.kinds() == ["camera_new"]


def test_retained_online_replay_is_no_recovery_and_retained_offline_no_second_email() -> None:
    s = Sim()
    s.hb("a")
    s.status("a", True)  # replayed retained online: nothing
    s.run(20, beating=("a",))
    assert s.kinds() == ["camera_new"]
    s.status("a", False)
    s.run(70)
    assert s.kinds() == ["camera_new", "camera_offline"]
    s.status("a", True)  # retained online from a broker restart: no heartbeat, no recovery
    s.status("a", False)
    s.run(70)
    assert s.kinds() == ["camera_new", "camera_offline"]


def test_state_round_trips_through_json_mid_outage() -> None:
    s = Sim()
    s.hb("a")
    s.status("a", False)
    s.run(70)
    assert s.kinds() == ["camera_new", "camera_offline"]
    # Restart: state from the database, timers rebased.
    restored = {k: Watch.from_json(w.durable() | {"last_seen": w.last_seen}) for k, w in s.watches.items()}
    s.watches = restored
    rebase(s.watches, s.now)
    s.status("a", False)  # retained offline replayed to the new process
    s.run(100)
    assert s.kinds() == ["camera_new", "camera_offline"]
    s.hb("a")
    s.run(10, beating=("a",))
    assert s.kinds()[-1] == "camera_online"


def test_rebase_gives_live_cameras_and_unreported_outages_a_fresh_window() -> None:
    s = Sim()
    s.hb("a", "b")
    s.status("b", False)
    s.run(30)  # b: 30 s into its grace; a: offline (silence), not reported
    assert s.cam("a").phase == OFFLINE
    rebase(s.watches, s.now)
    s.run(40)
    assert "camera_offline" not in s.kinds()  # a's and b's grace start again
    s.run(30)
    assert s.kinds().count("camera_offline") == 2


def test_many_cameras_dropping_together_make_one_summary_and_one_recovery_summary() -> None:
    s = Sim()
    cams = ("a", "b", "c", "d")
    s.hb(*cams)
    s.status("a", False)
    s.run(4)
    s.status("b", False)
    s.run(10)
    s.status("c", False)
    s.status("d", False)
    s.run(120)
    kinds = s.kinds()
    assert kinds.count("cameras_summary") == 1 and "camera_offline" not in kinds
    summary = next(a for a in s.alerts if a.kind == "cameras_summary")
    assert summary.going == OFFLINE and [w.ident for w in summary.watches] == list(cams)
    s.hb(*cams)
    s.run(10, beating=cams)
    assert s.kinds().count("cameras_summary") == 2 and "camera_online" not in s.kinds()
    assert s.alerts[-1].going == ONLINE


def test_two_cameras_are_reported_one_by_one() -> None:
    s = Sim()
    s.hb("a", "b")
    s.status("a", False)
    s.status("b", False)
    s.run(70)
    assert s.kinds().count("camera_offline") == 2


def test_a_lone_outage_does_not_wait_for_an_unrelated_one() -> None:
    s = Sim()
    s.hb("a", "b", "c")
    s.status("a", False)
    s.run(100, beating=("b", "c"))
    s.status("b", False)
    s.status("c", False)
    s.run(100)
    kinds = [k for k in s.kinds() if k != "camera_new"]
    assert kinds == ["camera_offline", "camera_offline", "camera_offline"]


def test_reminders_after_an_hour_then_daily() -> None:
    s = Sim()
    s.hb("a")
    s.status("a", False)
    s.run(3600 + 60)
    assert s.kinds().count("camera_reminder") == 1
    s.run(86400)
    assert s.kinds().count("camera_reminder") == 2
    s.hb("a")
    s.run(86400 * 2, beating=("a",))
    assert s.kinds().count("camera_reminder") == 2
    assert s.kinds().count("camera_online") == 1


def test_no_reminders_when_disabled() -> None:
    s = Sim(Policy(reminder_after_s=None, reminder_every_s=None))
    s.hb("a")
    s.status("a", False)
    s.run(10000)
    assert "camera_reminder" not in s.kinds()


def test_far_past_or_future_camera_clock_is_irrelevant() -> None:
    # The machine only ever sees arrival times: a heartbeat is a sign of life whatever it says.
    s = Sim()
    s.hb("a")
    s.run(300, beating=("a",))
    assert s.kinds() == ["camera_new"]


def test_status_of_a_never_seen_camera_is_ignored_by_the_machine() -> None:
    w = Watch(CAMERA, "x")
    assert on_status(w, T0, False) == [] and w.phase == "unknown"
    assert plan({"camera:x": w}, T0 + 1000, P) == []


def test_services_offline_after_grace_and_back() -> None:
    watches = {"service:recorder": Watch(SERVICE, "recorder", registered=True)}
    w = watches["service:recorder"]
    assert on_status(w, T0, True) == []
    on_status(w, T0 + 10, False)
    assert plan(watches, T0 + 30, P) == []
    out = plan(watches, T0 + 71, P)
    assert [a.kind for a in out] == ["service_offline"]
    assert plan(watches, T0 + 200, P) == []
    on_status(w, T0 + 300, True)
    back = plan(watches, T0 + 301, P)
    assert [a.kind for a in back] == ["service_online"] and back[0].duration_s == 300 - 0
    # A service that never sends heartbeats is never "silent".
    assert plan(watches, T0 + 10_000, P) == []


def test_condition_raised_once_and_cleared_once() -> None:
    c = Condition("x")
    assert update_condition(c, True, 0, raise_after=30, clear_after=60) is None
    assert update_condition(c, True, 20, raise_after=30, clear_after=60) is None
    assert update_condition(c, True, 30, raise_after=30, clear_after=60) == "raised"
    assert update_condition(c, True, 40, raise_after=30, clear_after=60) is None
    assert update_condition(c, False, 50, raise_after=30, clear_after=60) is None
    assert update_condition(c, True, 55, raise_after=30, clear_after=60) is None
    assert update_condition(c, False, 60, raise_after=30, clear_after=60) is None
    assert update_condition(c, False, 121, raise_after=30, clear_after=60) == "cleared"
    assert update_condition(c, False, 500, raise_after=30, clear_after=60) is None
    # A short spell that ends before raise_after is forgotten.
    assert update_condition(c, True, 600, raise_after=30, clear_after=60) is None
    assert update_condition(c, False, 610, raise_after=30, clear_after=60) is None
    assert update_condition(c, True, 620, raise_after=30, clear_after=60) is None
    assert update_condition(c, True, 640, raise_after=30, clear_after=60) is None
    assert c.notified is False


def test_recent_failures_window() -> None:
    assert recent_failures([0, 10, 500, 700], 710, 600) == [500, 700]

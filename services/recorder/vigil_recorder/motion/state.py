"""The motion on/off state machine of one camera: pure, driven by samples and a clock.

- **ON** after ``on_samples`` consecutive hot samples (no two further apart than
  ``max_gap_s``); the event starts at the first of them.
- **OFF** once ``quiet_s`` pass without a hot sample (checked on every sample and on idle
  ticks when no new frame came); the event ends at its last hot sample.
- The event's score is the highest sample score seen; ``Step.peak`` says the current sample
  is the new highest, so the caller can keep its frame for the thumbnail.

Times ``t`` are seconds on one clock (the recorder uses Redis arrival time); each sample
also carries its frame's capture time, which is what events are stamped with.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    on_samples: int = 2
    quiet_s: float = 10.0
    max_gap_s: float = 3.0


@dataclass(frozen=True, slots=True)
class Sample:
    t: float  # seconds, the tracker's clock
    capture_ns: int  # when the frame was taken
    score: float
    hot: bool


@dataclass(frozen=True, slots=True)
class Step:
    """What one observation changed."""

    started: Sample | None = None  # an event began; this is its first hot sample
    ended: Sample | None = None  # the event ended; this is its last hot sample
    peak: bool = False  # the observed sample is the ongoing event's highest so far
    score: float = 0.0  # the ongoing (or just ended) event's score


@dataclass
class MotionTracker:
    config: TrackerConfig = field(default_factory=TrackerConfig)
    active: bool = False
    streak: list[Sample] = field(default_factory=list)
    first_hot: Sample | None = None
    last_hot: Sample | None = None
    peak: Sample | None = None
    score: float = 0.0
    latest: Sample | None = None

    def observe(self, sample: Sample) -> Step:
        """Feed one sample (in time order)."""
        self.latest = sample
        if not sample.hot:
            self.streak.clear()
            return self._maybe_end(sample.t)
        if self.active:
            self.last_hot = sample
            self.score = max(self.score, sample.score)
            if self.peak is None or sample.score > self.peak.score:
                self.peak = sample
                return Step(peak=True, score=self.score)
            return Step(score=self.score)
        if self.streak and sample.t - self.streak[-1].t > self.config.max_gap_s:
            self.streak.clear()
        self.streak.append(sample)
        if len(self.streak) < max(1, self.config.on_samples):
            return Step()
        self.active = True
        self.first_hot = self.streak[0]
        self.last_hot = sample
        self.peak = sample  # the caller has this sample's frame, not the earlier ones'
        self.score = max(s.score for s in self.streak)
        self.streak.clear()
        return Step(started=self.first_hot, peak=True, score=self.score)

    def idle(self, t: float) -> Step:
        """No new sample at time ``t``: a pending streak goes stale, an event may end."""
        if self.streak and t - self.streak[-1].t > self.config.max_gap_s:
            self.streak.clear()
        return self._maybe_end(t)

    def settled_ns(self) -> int | None:
        """Capture time up to which the answer (motion or not) is final: the latest sample,
        or just before a streak that may still become an event."""
        if self.streak:
            return self.streak[0].capture_ns - 1
        return None if self.latest is None else self.latest.capture_ns

    def _maybe_end(self, t: float) -> Step:
        if not self.active or self.last_hot is None or t - self.last_hot.t < self.config.quiet_s:
            return Step(score=self.score if self.active else 0.0)
        ended, score = self.last_hot, self.score
        self.active = False
        self.first_hot = self.last_hot = self.peak = None
        self.score = 0.0
        return Step(ended=ended, score=score)

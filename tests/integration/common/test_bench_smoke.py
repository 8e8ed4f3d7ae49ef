"""Tiny runs of `vigil bench ingest` and `vigil bench noloss`: they start, stop by themselves,
clean up, and report every figure. No timing is asserted (the machines are shared and noisy)."""

from __future__ import annotations

import pytest

from vigil_common.cli.embedded import find_binary

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (find_binary("mosquitto") and find_binary("redis-server")),
                       reason="the benchmarks start a private mosquitto and redis-server"),
]


def test_ingest_bench_smoke() -> None:
    from vigil_bench import ingest as bench

    result = bench.run(rounds=1, seconds=0.5, warmup_s=0.2, store_warmup_s=0.2, window=50, throughput_cameras=2,
                       loss_seconds=0.5, cameras=2, fps=5, latency_seconds=1.0, frame_kb=20, latency_frame_kb=10,
                       verbose=False)
    for key in ("bare_fps", "ingest_fps", "ratio", "loss_published", "loss_lost", "latency_p99_ms",
                "baseline_latency_p99_ms"):
        assert key in result, key
    assert result["bare_fps"] > 0 and result["ingest_fps"] > 0
    assert result["throughput"]["bare_xadd_fps_median"] > 0
    assert [pt["of"] for pt in result["loss"]] == ["bare", "ingest"]
    assert all(pt["published"] > 0 for pt in result["loss"])
    assert result["latency"]["ingest"]["landed"] > 0 and result["latency"]["bare"]["landed"] > 0
    assert result["ingest_exit_codes"] == [0, 0]
    assert "ratio ingest / bare" in bench.format_table(result)


def test_noloss_bench_smoke() -> None:
    from vigil_bench import noloss as bench_noloss

    result = bench_noloss.run(cameras=1, fps=5, seconds=4, segment_seconds=2, drain_timeout=60, verbose=False)
    totals = result["totals"]
    assert totals["sent"] > 0
    for key in ("broker", "redis", "indexed", "decoded", "segments"):
        assert key in totals, key
    assert "recorded_pct" in result and result["drained"]
    assert result["decode_mismatch_count"] == 0
    assert "indexed in segments" in bench_noloss.format_table(result)


def test_passthrough_floors_smoke() -> None:
    """Both ffmpeg floors of `vigil bench passthrough` record segments of the bench's own clip:
    from a file, and pulled over RTSP/TCP from gst-rtsp-server serving that clip."""
    from vigil_bench import passthrough as bench_pt

    clip = bench_pt.encode_h264(bench_pt._pictures(60, 1280, 720), kbps=1000)
    assert clip.keyframes[0] and len(clip.frames) == 60
    file_floor = bench_pt.run_file_floor(clip, cameras=1, seconds=1.0, warmup_s=1.0)
    assert file_floor["segments"] >= 1 and file_floor["pct_per_camera"] > 0 and file_floor["processes_ok"] == 1
    reason = bench_pt.rtsp_unavailable()
    if reason:
        pytest.skip(reason)
    rtsp_floor = bench_pt.run_rtsp_floor(clip, cameras=2, seconds=1.0, warmup_s=2.0)
    assert rtsp_floor["segments"] >= 2 and rtsp_floor["pct_per_camera"] > 0 and rtsp_floor["processes_ok"] == 2

"""Sliding-window pacing on a controlled clock (pure)."""

from __future__ import annotations

import logging

from airflow_provider_ozonetel.pacing import SlidingWindowLimiter


def test_two_per_minute_sliding_window(fake_clock, caplog):
    limiter = SlidingWindowLimiter("fetchCDRDetails", limit=2, period=60, clock=fake_clock.as_clock())
    starts = []
    with caplog.at_level(logging.INFO, logger="airflow_provider_ozonetel.pacing"):
        for _ in range(5):
            limiter.acquire()
            starts.append(fake_clock.now - 1000)
            fake_clock.now += 1  # each request takes a second
    assert starts == [0, 1, 60, 61, 120]
    # in any 60 s window, at most 2 starts
    assert all(sum(1 for s in starts if t <= s < t + 60) <= 2 for t in starts)
    assert "Pacing fetchCDRDetails: 2 requests in the last 60 s (limit 2); waiting 58.0 s" in caplog.text


def test_fifty_per_minute_reaches_the_limit_without_exceeding_it(fake_clock):
    limiter = SlidingWindowLimiter("CallBacks", limit=50, period=60, clock=fake_clock.as_clock())
    for _ in range(200):
        limiter.acquire()
        fake_clock.now += 0.01
    elapsed = fake_clock.now - 1000
    assert 180 <= elapsed < 181  # 200 requests = 4 windows: 3 waits of ~60 s
    assert 200 / elapsed * 60 >= 0.9 * 50 * (180 / 181)


def test_penalize_makes_the_next_request_wait_a_full_window(fake_clock):
    limiter = SlidingWindowLimiter("fetchCDRDetails", limit=2, period=60, clock=fake_clock.as_clock())
    limiter.acquire()
    limiter.penalize()
    assert limiter.acquire() == 60

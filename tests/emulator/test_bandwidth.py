"""The emulator's ``--bandwidth-mbps``: answers paced to a link's speed, as over the internet."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest
import requests
from starlette.responses import JSONResponse, StreamingResponse

from airflow_provider_ozonetel.emulator.config import EmulatorConfig
from airflow_provider_ozonetel.emulator.streaming import PACED_PIECE, paced


class FakeLink:
    """A loop clock that moves only when the sender waits: each wait is recorded, none is slept."""

    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


async def _drain(response: StreamingResponse) -> list[bytes]:
    return [piece async for piece in response.body_iterator]


def test_a_streamed_body_leaves_piece_by_piece_at_the_links_rate():
    link = FakeLink()
    chunks = [b"x" * 300_000, b"y" * 100_000, b"z" * 10]  # as the cdr answer streams them
    response = StreamingResponse(iter(chunks), media_type="application/json")
    pieces = asyncio.run(_drain(paced(response, 1_000_000, clock=link.clock, sleep=link.sleep)))
    assert b"".join(pieces) == b"".join(chunks)
    assert max(map(len, pieces)) == PACED_PIECE
    # the last byte leaves when a 1 MB/s link has carried all 400,010 bytes
    assert link.now - 100.0 == pytest.approx(0.40001)
    assert len(link.waits) == len(pieces)


def test_a_whole_answer_is_paced_too_and_keeps_its_headers():
    link = FakeLink()
    response = JSONResponse({"status": "success", "details": ["a" * 1000] * 200})
    paced_response = paced(response, 50_000, clock=link.clock, sleep=link.sleep)
    pieces = asyncio.run(_drain(paced_response))
    assert b"".join(pieces) == response.body
    assert paced_response.headers["content-length"] == str(len(response.body))
    assert link.now - 100.0 == pytest.approx(len(response.body) / 50_000)


def test_time_lost_in_one_wait_is_made_up_by_the_next_ones():
    link = FakeLink()
    response = StreamingResponse(iter([b"x" * (4 * PACED_PIECE)]))

    async def oversleep(seconds: float) -> None:
        await link.sleep(seconds * 3 if not link.waits else seconds)  # the first wait runs long

    asyncio.run(_drain(paced(response, PACED_PIECE, clock=link.clock, sleep=oversleep)))
    assert link.now - 100.0 == pytest.approx(4.0)  # 2 s late after one piece, on time after four
    assert link.waits == [3.0, 1.0]  # pieces two and three were already due: they left at once


@pytest.mark.parametrize("bad", [0, -5.0])
def test_a_bandwidth_must_be_positive(bad):
    with pytest.raises(ValueError, match="bandwidth_mbps: expected a positive number"):
        EmulatorConfig(bandwidth_mbps=bad)


def test_the_command_line_documents_and_checks_the_option():
    run = [sys.executable, "-m", "airflow_provider_ozonetel.emulator"]
    out = subprocess.run([*run, "--help"], capture_output=True, text=True, check=True).stdout
    assert "--bandwidth-mbps" in out
    bad = subprocess.run([*run, "--bandwidth-mbps", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "bandwidth_mbps: expected a positive number" in bad.stderr


def test_a_day_takes_at_least_its_size_over_the_link(ozonetel_emulator_factory):
    # real HTTP: only a lower bound is asserted (a busy machine may be slower, never faster)
    emu = ozonetel_emulator_factory(calls_per_day=300, now="2026-11-20T12:00:00", bandwidth_mbps=8)
    token = requests.post(emu.token_url, headers={"apiKey": emu.api_key}, json={"userName": emu.user}).json()
    started = time.monotonic()
    answer = requests.get(
        emu.cdr_url,
        headers={"Authorization": f"Bearer {token['token']}"},
        json={"fromDate": "2026-11-19 00:00:00", "toDate": "2026-11-19 23:59:59", "userName": emu.user},
        timeout=30,
    )
    elapsed = time.monotonic() - started
    assert answer.json()["status"] == "success"
    assert elapsed >= len(answer.content) / 1e6 * 0.98  # 8 Mbit/s = 1 MB/s

"""Synthetic, deterministic call detail records: the emulator's "truth".

Each IST day's calls are a pure function of ``(seed, date, calls_per_day)``
and are produced lazily, in order of StartTime, one minute at a time: a day
of any size streams with flat memory, and any single call can be rebuilt
from its UCID alone (the UCID encodes its day, minute and rank).

* ``calls_per_day`` is the number of calls (CallIDs) of a full day, exactly.
  They follow busy hours (10:00-13:00 and 15:00-18:00), with few at night.
* About 12% of calls have two or three legs: records sharing one ``CallID``
  (a transfer or a conference), each with its own ``UCID``. So a day has about
  1.14 records per call; :meth:`Dataset.count_day` counts them.
* Calls near midnight may end after it (``EndTime`` < ``StartTime``); the
  last call of every day does.
* ``UCID`` and ``CallID`` are ints above 2**53, unique across days.

Records have the 43 fields of the vendor's fetchCDRDetails sample, in its
(ASCII-sorted) key order; :meth:`Dataset.callback_record` reshapes one into
a CDR in CallBacks record.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

from airflow_provider_ozonetel.calendar import IST
from airflow_provider_ozonetel.emulator.ids import (
    CALL_ID_BASE,
    PER_MINUTE,
    UCID_BASE,
    call_id_of,
    day_of_ucid,
    decode,
    ucid_key,
    ucid_of,
)
from airflow_provider_ozonetel.emulator.pools import (
    AGENT_BY_ID,
    AGENTS,
    ANSWERED,
    CAMPAIGN_BY_NAME,
    CAMPAIGN_SLOTS,
    CAMPAIGNS,
    COMMENTS,
    CUMULATIVE,
    DAY_SECONDS,
    DISPOSITIONS,
    FIELDS,
    HMS,
    MINUTES,
    NOT_ANSWERED_OUT,
    PLAIN,
    RATING_COMMENTS,
    RECORDINGS,
    TOTAL_WEIGHT,
    TRANSFER_TYPES,
    encode_fast,
    encode_json,
    hms,
    seconds_of,
)

__all__ = ["CALL_ID_BASE", "FIELDS", "UCID_BASE", "Dataset", "day_of_ucid"]


def _seconds(value: dt.time | str | None, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, str):
        return seconds_of(value)
    return value.hour * 3600 + value.minute * 60 + value.second


class Dataset:
    """The calls of every IST day for one ``seed`` and ``calls_per_day``."""

    def __init__(self, seed: int = 1, calls_per_day: int = 2000, *, account: str = "demo_user") -> None:
        if calls_per_day < 0:
            raise ValueError("calls_per_day must be >= 0")
        self.seed = seed
        self.calls_per_day = calls_per_day
        self.account = account
        self.campaigns = tuple(c[0] for c in CAMPAIGNS)
        self.agents = AGENTS
        self._counts = [self._count(m) for m in range(MINUTES)]
        if 3 * max(self._counts) >= PER_MINUTE:
            raise ValueError(f"calls_per_day={calls_per_day} puts more than {PER_MINUTE} calls in a minute")
        self._last_minute = max((m for m, c in enumerate(self._counts) if c), default=-1)
        if PLAIN.fullmatch(account):
            self.encode_record = encode_fast
        else:  # the account name is in recording URLs: let the JSON encoder escape it
            self.encode_record = encode_json

    def _count(self, minute: int) -> int:
        n, total = self.calls_per_day, TOTAL_WEIGHT
        lo = (n * CUMULATIVE[minute] * 2 + total) // (2 * total)
        hi = (n * CUMULATIVE[minute + 1] * 2 + total) // (2 * total)
        return hi - lo

    def minute_count(self, minute: int) -> int:
        """How many calls start in ``minute`` (0..1439) of any day."""
        return self._counts[minute]

    # ---------------------------------------------------------------- queries
    def iter_day(
        self,
        day: dt.date,
        from_time: dt.time | str | None = None,
        to_time: dt.time | str | None = None,
        *,
        now: dt.datetime | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The day's records whose StartTime is within [from_time, to_time], in StartTime order.

        ``now`` (aware, read in IST): only calls that started before it exist;
        a day after now's date has none.
        """
        first = _seconds(from_time, 0)
        last = _seconds(to_time, DAY_SECONDS - 1)
        if now is not None:
            now_ist = now.astimezone(IST)
            if day > now_ist.date():
                return
            if day == now_ist.date():
                started = now_ist.hour * 3600 + now_ist.minute * 60 + now_ist.second
                last = min(last, started - 1)
        if first > last:
            return
        counts = self._counts
        for minute in range(first // 60, last // 60 + 1):
            if not counts[minute]:
                continue
            for start, record in self._block(day, minute):
                if first <= start <= last:
                    yield record

    def count_day(self, day: dt.date, *, now: dt.datetime | None = None) -> int:
        """How many records (legs) :meth:`iter_day` yields for the whole day (generates the day)."""
        return sum(1 for _ in self.iter_day(day, now=now))

    def ucids(self, day: dt.date, *, now: dt.datetime | None = None) -> Iterator[int]:
        for record in self.iter_day(day, now=now):
            yield record["UCID"]

    def call_ids(self, day: dt.date, *, now: dt.datetime | None = None) -> Iterator[int]:
        """Each distinct CallID of the day once, in order of its first leg."""
        for record in self.iter_day(day, now=now):
            if record["CallID"] - CALL_ID_BASE == record["UCID"] - UCID_BASE:  # the first leg
                yield record["CallID"]

    def find_ucid(self, ucid: int | str) -> dict[str, Any] | None:
        """The record of one UCID (any day), or None. Cost: one minute of one day."""
        decoded = decode(ucid)
        if decoded is None:
            return None
        day, minute, rank = decoded
        if not self._counts[minute]:
            return None
        block = self._block(day, minute)
        return block[rank][1] if rank < len(block) else None

    def callback_record(self, record: dict[str, Any], *, user: str, api_key: str) -> dict[str, Any]:
        """One fetchCDRDetails record reshaped as a CDR in CallBacks record (the seed's fields)."""
        start = seconds_of(record["StartTime"])
        end = seconds_of(record["EndTime"])
        day = dt.date.fromisoformat(record["CallDate"])
        end_day = day + dt.timedelta(days=1) if end < start else day
        agent = AGENT_BY_ID.get(record["AgentID"])
        campaign = CAMPAIGN_BY_NAME[record["CampaignName"]]
        outbound = record["Type"] != "InBound"
        return {
            "monitorUCID": str(record["UCID"]),
            "UUI": record["UUI"] or "None",
            "Did": record["DID"],
            "CampaignName": record["CampaignName"],
            "Location": record["Location"],
            "CallerID": record["CallerID"],
            "PhoneName": agent[2] if agent else "None",
            "Skill": record["Skill"] or "None",
            "StartTime": f"{record['CallDate']} {record['StartTime']}",
            "EndTime": f"{end_day.isoformat()} {record['EndTime']}",
            "TimeToAnswer": record["TimeToAnswer"],
            "CallDuration": hms(end - start),
            "Duration": record["Duration"],
            "FallBackRule": record["Event"],
            "DialedNumber": record["DialedNumber"],
            "Type": record["Type"].lower(),
            "AgentID": record["AgentID"],
            "AgentPhoneNumber": agent[2] if agent else "None",
            "AgentUniqueID": agent[4] if agent else "None",
            "AgentName": record["AgentName"] or "None",
            "Disposition": record["Disposition"],
            "HangupBy": record["HangupBy"],
            "Status": record["Status"],
            "AudioFile": record["CallAudio"] or "None",
            "TransferType": record["TransferType"] or "No Transfers",
            "TransferredTo": record["TransferredTo"],
            "Comments": record["Comments"],
            "DialStatus": record["DialStatus"],
            # The real API echoes the account's API key here; the provider must redact it.
            "Apikey": api_key,
            "AgentStatus": record["AgentDialStatus"],
            "CustomerStatus": record["CustomerDialStatus"],
            "UserName": user,
            "CallerConfAudioFile": record["CallerConfAudioFile"],
            "ConfDuration": record["ConferenceDuration"],
            "CampaignStatus": campaign[4],
            "DataUniqueId": str(record["UCID"] * 2_654_435_761 % 10**8) if outbound else "",
            "CallCompleted": "TRUE",
            "ConferenceData": "",
        }

    # ------------------------------------------------------------- generation
    def _block(self, day: dt.date, minute: int) -> list[tuple[int, dict[str, Any]]]:
        """The records starting in one minute of one day, sorted by start, with ids assigned."""
        count = self._counts[minute]
        rng = random.Random(f"ozonetel-emulator:{self.seed}:{day.toordinal()}:{minute}")
        rnd = rng.random
        day_str = day.isoformat()
        minute_start = minute * 60
        minute_end = minute_start + 59
        late = minute_start >= DAY_SECONDS - 1800
        legs_out: list[tuple[int, int, int, dict[str, Any]]] = []
        force_midnight = minute == self._last_minute
        for call_no in range(count):
            x = rnd()
            legs = 1 if force_midnight or x < 0.88 else (2 if x < 0.97 else 3)
            campaign = CAMPAIGN_SLOTS[int(rnd() * 100)]
            start = minute_start + int(rnd() * 60)
            customer = str(6_000_000_000 + int(rnd() * 3_999_999_999))
            agent = AGENTS[int(rnd() * len(AGENTS))]
            inbound = campaign[1] == "InBound"
            answered = legs > 1 or force_midnight or rnd() < (0.86 if inbound else 0.62)
            crossing = force_midnight or (late and legs == 1 and answered and rnd() < 0.5)
            force_midnight = False
            transfer = None
            if legs > 1:
                transfer = TRANSFER_TYPES[int(rnd() * len(TRANSFER_TYPES))]
            elif answered and rnd() < 0.03:
                transfer = "Phone Transfer"
            for leg in range(legs):
                next_agent = AGENTS[int(rnd() * len(AGENTS))] if leg + 1 < legs else None
                record, transfer_at = self._leg(
                    rng,
                    day_str,
                    start,
                    campaign,
                    customer,
                    agent,
                    answered if leg == 0 else rnd() < 0.85,
                    crossing,
                    (transfer if leg == 0 else "Agent Transfer") if leg + 1 < legs or legs == 1 else None,
                    next_agent,
                )
                legs_out.append((start, call_no, leg, record))
                if next_agent is not None:
                    agent = next_agent
                    start = min(minute_end, max(start + 1, transfer_at))
        legs_out.sort(key=lambda item: (item[0], item[1], item[2]))
        base = ucid_key(day, minute, 0)
        first_leg: dict[int, int] = {}
        block = []
        for rank, (start, number, leg, record) in enumerate(legs_out):
            key = base + rank
            if leg == 0:
                first_leg[number] = key
            record["UCID"] = ucid_of(key)
            record["CallID"] = call_id_of(first_leg[number])
            block.append((start, record))
        return block

    def _leg(
        self,
        rng: random.Random,
        day_str: str,
        start: int,
        campaign: tuple[str, str, str, tuple[str, ...], str, int],
        customer: str,
        agent: tuple[str, str, str, str, str],
        answered: bool,
        crossing: bool,
        transfer: str | None,
        next_agent: tuple[str, str, str, str, str] | None,
    ) -> tuple[dict[str, Any], int]:
        """One leg's record and the second its transfer happens (for the next leg)."""
        rnd = rng.random
        name, call_type, did, skills, _status, _share = campaign
        inbound = call_type == "InBound"
        skill = skills[int(rnd() * len(skills))]
        transferred_to = ""
        if transfer == "Skill Transfer":
            transferred_to = CAMPAIGNS[int(rnd() * 3)][3][0]
        elif transfer == "Phone Transfer":
            transferred_to = str(6_000_000_000 + int(rnd() * 3_999_999_999))
        elif transfer is not None and next_agent is not None:
            transferred_to = next_agent[0]
        if answered:
            ring = 1 + int(rnd() * (40 if inbound else 25))
            pickup = start + ring
            if crossing:
                duration = max(0, DAY_SECONDS - pickup) + 30 + int(rnd() * 900)
            else:
                duration = 5 + int(min(rng.expovariate(1 / 180), 3000))
            hold = int(rnd() * min(120, duration // 3)) if rnd() < 0.2 else 0
            wrap = 2 + int(rnd() * 58)
            end = pickup + duration
            conference = 30 + int(rnd() * min(600, duration)) if transfer == "Conference" else 0
            rating = 1 + int(rnd() * 5) if rnd() < 0.15 else 0
            record = {
                "AgentDialStatus": ANSWERED,
                "AgentID": agent[0],
                "AgentName": agent[1],
                "CallAudio": f"{RECORDINGS}/{self.account}/{int(rnd() * 2**48):012x}.mp3",
                "CallDate": day_str,
                "CallID": 0,
                "CallerConfAudioFile": (
                    f"{RECORDINGS}/{self.account}/conf_{int(rnd() * 2**48):012x}.mp3" if conference else ""
                ),
                "CallerID": customer,
                "CampaignName": name,
                "Comments": COMMENTS[int(rnd() * 3)] if rnd() < 0.05 else "",
                "ConferenceDuration": HMS[conference],
                "CustomerDialStatus": ANSWERED,
                "CustomerRingTime": "00:00:00" if inbound else HMS[ring],
                "DID": did,
                "DialOutName": "",
                "DialStatus": ANSWERED,
                "DialedNumber": agent[2] if inbound else customer,
                "Disposition": DISPOSITIONS[int(rnd() * len(DISPOSITIONS))],
                "Duration": HMS[duration],
                "DynamicDID": "",
                "E164": "+91" + customer,
                "EndTime": HMS[end % DAY_SECONDS],
                "Event": "AgentDial",
                "HandlingTime": HMS[(duration + wrap) % DAY_SECONDS],
                "HangupBy": "UserHangup" if rnd() < 0.6 else "AgentHangup",
                "HoldDuration": HMS[hold],
                "Location": agent[3],
                "PickupTime": HMS[pickup % DAY_SECONDS],
                "Rating": rating,
                "RatingComments": RATING_COMMENTS[int(rnd() * 3)] if rating and rnd() < 0.3 else "",
                "Skill": skill,
                "StartTime": HMS[start],
                "Status": "Answered",
                "TalkTime": HMS[duration - hold],
                "TimeToAnswer": HMS[ring],
                "TransferType": transfer or "",
                "TransferredTo": transferred_to,
                "Type": call_type,
                "UCID": 0,
                "UUI": f"CRM{int(rnd() * 10**6):06d}" if rnd() < 0.1 else "",
                "WrapUpEndTime": HMS[(end + wrap) % DAY_SECONDS],
                "WrapUpStartTime": HMS[end % DAY_SECONDS],
                "WrapupDuration": HMS[wrap],
            }
            return record, pickup + int(duration * (0.3 + 0.5 * rnd()))
        ring = 5 + int(rnd() * 40)
        end = start + ring
        if inbound:
            agent_status, customer_status, dial_status = "", "user_disconnected", "user_disconnected"
            agent_id = agent_name = location = ""
            dialed = did
        else:
            dial_status = NOT_ANSWERED_OUT[int(rnd() * 3)]
            agent_status, customer_status = ANSWERED, dial_status
            agent_id, agent_name, location = agent[0], agent[1], agent[3]
            dialed = customer
        record = {
            "AgentDialStatus": agent_status,
            "AgentID": agent_id,
            "AgentName": agent_name,
            "CallAudio": "",
            "CallDate": day_str,
            "CallID": 0,
            "CallerConfAudioFile": "",
            "CallerID": customer,
            "CampaignName": name,
            "Comments": "",
            "ConferenceDuration": "00:00:00",
            "CustomerDialStatus": customer_status,
            "CustomerRingTime": "00:00:00" if inbound else HMS[ring],
            "DID": did,
            "DialOutName": "",
            "DialStatus": dial_status,
            "DialedNumber": dialed,
            "Disposition": "",
            "Duration": "00:00:00",
            "DynamicDID": "",
            "E164": "+91" + customer,
            "EndTime": HMS[end % DAY_SECONDS],
            "Event": "Hangup" if inbound else "DialOut",
            "HandlingTime": "00:00:00",
            "HangupBy": "UserHangup" if inbound else "SystemHangup",
            "HoldDuration": "00:00:00",
            "Location": location,
            "PickupTime": "",
            "Rating": 0,
            "RatingComments": "",
            "Skill": skill,
            "StartTime": HMS[start],
            "Status": "NotAnswered",
            "TalkTime": "00:00:00",
            "TimeToAnswer": "00:00:00",
            "TransferType": "",
            "TransferredTo": "",
            "Type": call_type,
            "UCID": 0,
            "UUI": "",
            "WrapUpEndTime": "",
            "WrapUpStartTime": "",
            "WrapupDuration": "00:00:00",
        }
        return record, end

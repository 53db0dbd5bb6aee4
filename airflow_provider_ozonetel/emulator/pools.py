"""What synthetic calls are made of: the record's fields and order, and the pools of values.

Every string here is plain ASCII without quotes or backslashes, so a record
can be written with one %-format (:func:`encode_fast`) instead of the JSON encoder.
"""

from __future__ import annotations

import json
import re
from typing import Any

MINUTES = 1440
DAY_SECONDS = 86_400

#: Relative call volume of each IST hour (busy 10-13 and 15-18, quiet at night).
HOUR_WEIGHTS = (
    4, 3, 2, 2, 3, 6, 15, 35, 70, 130, 210, 240,
    225, 150, 160, 215, 235, 205, 130, 80, 50, 30, 20, 12,
)  # fmt: skip
CUMULATIVE = [0]
for _minute in range(MINUTES):
    CUMULATIVE.append(CUMULATIVE[-1] + HOUR_WEIGHTS[_minute // 60])
TOTAL_WEIGHT = CUMULATIVE[-1]

#: "HH:MM:SS" for every second of a day (times of day and durations below 24 h).
HMS = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(DAY_SECONDS)]

ANSWERED = "answered"

#: The fetchCDRDetails record's fields, in the vendor sample's order (43).
FIELDS = (
    "AgentDialStatus", "AgentID", "AgentName", "CallAudio", "CallDate", "CallID", "CallerConfAudioFile",
    "CallerID", "CampaignName", "Comments", "ConferenceDuration", "CustomerDialStatus", "CustomerRingTime",
    "DID", "DialOutName", "DialStatus", "DialedNumber", "Disposition", "Duration", "DynamicDID", "E164",
    "EndTime", "Event", "HandlingTime", "HangupBy", "HoldDuration", "Location", "PickupTime", "Rating",
    "RatingComments", "Skill", "StartTime", "Status", "TalkTime", "TimeToAnswer", "TransferType",
    "TransferredTo", "Type", "UCID", "UUI", "WrapUpEndTime", "WrapUpStartTime", "WrapupDuration",
)  # fmt: skip
NUMBERS = ("CallID", "Rating", "UCID")
# Every string value comes from the pools below (no quote, backslash or control character), so a
# record can be written with one %-format instead of the JSON encoder (3x faster).
TEMPLATE = "{" + ",".join(f'"{f}":%d' if f in NUMBERS else f'"{f}":"%s"' for f in FIELDS) + "}"
PLAIN = re.compile(r"[A-Za-z0-9_.@+-]*")

# (name, Type, DID, skills, CampaignStatus, share in percent)
CAMPAIGNS: tuple[tuple[str, str, str, tuple[str, ...], str, int], ...] = (
    ("Inbound_Support", "InBound", "90050", ("General", "Technical"), "ONLINE", 30),
    ("Inbound_Sales", "InBound", "90051", ("Sales",), "ONLINE", 20),
    ("Billing_Helpline", "InBound", "90052", ("Billing",), "ONLINE", 10),
    ("Progressive_Renewals", "Progressive", "90060", ("",), "OFFLINE", 15),
    ("Preview_Collections", "Preview", "90061", ("",), "OFFLINE", 8),
    ("Manual_Outreach", "Manual", "90062", ("",), "OFFLINE", 10),
    ("Predictive_Leads", "Predictive", "90063", ("",), "OFFLINE", 7),
)
CAMPAIGN_SLOTS = tuple(c for c in CAMPAIGNS for _ in range(c[5]))  # 100 slots

AGENT_NAMES = (
    "Asha", "Ravi", "Priya", "Arjun", "Meera", "Karthik", "Divya", "Sanjay", "Lakshmi", "Vikram",
    "Ananya", "Rahul", "Sneha", "Imran", "Kavya", "Naveen", "Pooja", "Suresh", "Farah", "Manoj",
    "Deepa", "Rohit", "Swati", "Ganesh", "Nisha", "Abhishek", "Revathi", "Harish", "Zoya", "Prakash",
    "Shalini", "Venkat", "Tanvi", "Kiran", "Bhavna", "Ajay", "Rekha", "Sameer", "Uma", "Tarun",
)  # fmt: skip
SURNAMES = ("Rao", "Iyer", "Khan", "Nair", "Reddy", "Shah", "Das", "Menon")
LOCATIONS = ("Bangalore", "Hyderabad", "Chennai", "Mumbai", "Pune")
# (AgentID, AgentName, phone, Location, AgentUniqueID)
AGENTS: tuple[tuple[str, str, str, str, str], ...] = tuple(
    (
        f"{name.lower()}{i + 1:02d}",
        f"{name} {SURNAMES[i % len(SURNAMES)]}",
        f"09{(i * 7_919_113 + 12_345_678) % 10**8:08d}",
        LOCATIONS[i % len(LOCATIONS)],
        str(41_000 + i),
    )
    for i, name in enumerate(AGENT_NAMES)
)
AGENT_BY_ID = {agent[0]: agent for agent in AGENTS}

DISPOSITIONS = (
    "Resolved", "Resolved", "Sale", "Callback Requested", "Not Interested", "Follow Up",
    "Wrap up time exceeded :1", "Information Provided",
)  # fmt: skip
COMMENTS = ("Customer requested a callback", "Escalated to supervisor", "Asked for email follow-up")
RATING_COMMENTS = ("Good", "Helpful agent", "Took too long")
TRANSFER_TYPES = ("Agent Transfer", "Agent Transfer", "Skill Transfer", "Conference")
NOT_ANSWERED_OUT = ("not_answered", "busy", "no_answer")
RECORDINGS = "https://s3.ap-south-1.amazonaws.com/recordings.kookoo.in"

CAMPAIGN_BY_NAME = {c[0]: c for c in CAMPAIGNS}


def hms(seconds: int) -> str:
    """``HH:MM:SS`` of a time of day or a duration, in seconds (wraps at 24 h)."""
    return HMS[seconds % DAY_SECONDS]


def seconds_of(value: str) -> int:
    """Seconds of an ``HH:MM:SS`` string."""
    hours, minutes, seconds = value.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds)


def encode_fast(record: dict[str, Any]) -> str:
    return TEMPLATE % tuple(record.values())


encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False).encode

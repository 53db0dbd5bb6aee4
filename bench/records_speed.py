"""Quick speed check of records.normalize_cdr / normalize_callback (not a test).

Run: ``.venv/bin/python bench/records_speed.py [N]`` (default N = 200,000 records).
The fetchCDRDetails record is the vendor's 43-field docs sample plus four more fields
(two known to CallBacks, a MonitorUCID, one unknown) = 47 fields; 1,000 variants with
different ids, times and durations are cycled so the memo caches see realistic traffic.
Target: under ~8 µs per fetchCDRDetails record.
"""

from __future__ import annotations

import itertools
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from airflow_provider_ozonetel.records import normalize_callback, normalize_cdr

SAMPLE_CDR = {
    "AgentDialStatus": "answered",
    "AgentID": "xxxxx",
    "AgentName": "xxxxx",
    "CallAudio": "https://s3.ap-southeast-1.amazonaws.com/recordings.kookoo.in/demo_user/xxxxxxxx567.mp3",
    "CallDate": "2024-12-06",
    "CallID": 31733467784618213,
    "CallerConfAudioFile": "",
    "CallerID": "504995",
    "CampaignName": "xxxxxxxx",
    "Comments": "",
    "ConferenceDuration": "00:00:00",
    "CustomerDialStatus": "answered",
    "CustomerRingTime": "00:00:00",
    "DID": "90050",
    "DialOutName": "",
    "DialStatus": "answered",
    "DialedNumber": "500994",
    "Disposition": "Wrap up time exceeded :1",
    "Duration": "00:00:56",
    "DynamicDID": "",
    "E164": "+91504995",
    "EndTime": "12:20:57",
    "Event": "AgentDial",
    "HandlingTime": "00:00:58",
    "HangupBy": "UserHangup",
    "HoldDuration": "00:00:00",
    "Location": "Bangalore",
    "PickupTime": "12:20:01",
    "Rating": 0,
    "RatingComments": "",
    "Skill": "General",
    "StartTime": "12:20:00",
    "Status": "Answered",
    "TalkTime": "00:00:56",
    "TimeToAnswer": "00:00:01",
    "TransferType": "",
    "TransferredTo": "",
    "Type": "InBound",
    "UCID": 31733467784618299,
    "UUI": "",
    "WrapUpEndTime": "12:20:59",
    "WrapUpStartTime": "12:20:57",
    "WrapupDuration": "00:00:02",
    # four more, to 47 fields
    "MonitorUCID": 31733467784618300,
    "AgentPhoneNumber": "09xxxxxxx9",
    "AgentUniqueID": "None",
    "SomeNewField": "new",
}

SAMPLE_CALLBACK = {
    "monitorUCID": "xxxxxxxxxxxxxx",
    "UUI": "xxxxx",
    "Did": "xxxx",
    "CampaignName": "xxxxxx",
    "Location": "",
    "CallerID": "xxxxx",
    "PhoneName": "09xxxx46x9",
    "Skill": "None",
    "StartTime": "2021-02-09 10:33:53",
    "EndTime": "2021-02-09 10:38:50",
    "TimeToAnswer": "00:00:11",
    "CallDuration": "00:04:57",
    "Duration": "00:04:46",
    "FallBackRule": "AgentDial",
    "DialedNumber": "09xxxx679",
    "Type": "manual",
    "AgentID": "",
    "AgentPhoneNumber": "09xxxxxxx9",
    "AgentUniqueID": "None",
    "AgentName": "None",
    "Disposition": "",
    "HangupBy": "UserHangup",
    "Status": "Answered",
    "AudioFile": "https://example.invalid/recording.mp3",
    "TransferType": "No Transfers",
    "TransferredTo": "",
    "Comments": "",
    "DialStatus": "answered",
    "Apikey": "KK7xxxxxxxxxx014c05b3efbaxxxxx1f70",
    "AgentStatus": "answered",
    "CustomerStatus": "answered",
    "UserName": "maxxxra_xxr",
    "CallerConfAudioFile": "",
    "ConfDuration": "00:00:00",
    "CampaignStatus": "OFFLINE",
    "DataUniqueId": "",
    "CallCompleted": "TRUE",
    "ConferenceData": None,
}


def _clock(seconds: int) -> str:
    return _hms(seconds % 86_400)  # crosses midnight now and then


def _hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _variants(count: int = 1000) -> list[dict]:
    records = []
    for i in range(count):
        record = dict(SAMPLE_CDR)
        start = (i * 86) % 86_000
        talk = (i * 37) % 900
        record["CallID"] += i
        record["UCID"] += i
        record["StartTime"] = _clock(start)
        record["PickupTime"] = _clock(start + 1)
        record["EndTime"] = _clock(start + 1 + talk)
        record["WrapUpStartTime"] = _clock(start + 1 + talk)
        record["WrapUpEndTime"] = _clock(start + 3 + talk)
        record["Duration"] = record["TalkTime"] = _hms(talk)
        record["HandlingTime"] = _hms(talk + 2)
        records.append(record)
    return records


def _time(func, records: list[dict], n: int) -> float:
    source = itertools.islice(itertools.cycle(records), n)
    began = time.perf_counter()
    for record in source:
        func(record)
    return (time.perf_counter() - began) / n * 1e6


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    records = _variants()
    _time(normalize_cdr, records, 10_000)  # warm the memo caches
    cdr = min(_time(normalize_cdr, records, n) for _ in range(3))
    callback = min(_time(normalize_callback, [SAMPLE_CALLBACK], n // 4) for _ in range(3))
    print(f"normalize_cdr:      {cdr:.2f} µs/record ({len(SAMPLE_CDR)} fields, {n} records, best of 3)")
    print(f"normalize_callback: {callback:.2f} µs/record ({len(SAMPLE_CALLBACK)} fields, {n // 4} records)")


if __name__ == "__main__":
    main()

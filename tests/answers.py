"""Vendor answers as the seeds document them, for requests-mock."""

from __future__ import annotations

import json

API_KEY = "sekret-api-key-4711"
TOKEN = "tok-eyJhbGciOi-secret-0001"
TOKEN_2 = "tok-eyJhbGciOi-secret-0002"
BASE = "https://ozonetel.test"
USER = "demo_user"
TOKEN_URL = BASE + "/ca_apis/CAToken/generateToken"
CDR_URL = BASE + "/ca_reports/fetchCDRDetails"
CALLBACKS_URL = BASE + "/CAServices/CDR/callBacks.php"

BIG_UCID = 31733467784618299  # > 2**53
BIG_CALL_ID = 31733467784618213

# The fetchCDRDetails docs sample (seed fetch-cdr-details-api.txt), with a real big-int UCID
# in place of the docs' "31xxxxxxxx8".
SEED_CDR_JSON = """{
  "AgentDialStatus": "answered", "AgentID": "xxxxx", "AgentName": "xxxxx",
  "CallAudio": "https://s3.ap-southeast-1.amazonaws.com/recordings.kookoo.in/demo_user/xxxxxxxx567.mp3",
  "CallDate": "2024-12-06", "CallID": 31733467784618213, "CallerConfAudioFile": "",
  "CallerID": "504995", "CampaignName": "xxxxxxxx", "Comments": "", "ConferenceDuration": "00:00:00",
  "CustomerDialStatus": "answered", "CustomerRingTime": "00:00:00", "DID": "90050", "DialOutName": "",
  "DialStatus": "answered", "DialedNumber": "500994", "Disposition": "Wrap up time exceeded :1",
  "Duration": "00:00:56", "DynamicDID": "", "E164": "+91504995", "EndTime": "12:20:57",
  "Event": "AgentDial", "HandlingTime": "00:00:58", "HangupBy": "UserHangup",
  "HoldDuration": "00:00:00", "Location": "Bangalore", "PickupTime": "12:20:01", "Rating": 0,
  "RatingComments": "", "Skill": "General", "StartTime": "12:20:00", "Status": "Answered",
  "TalkTime": "00:00:56", "TimeToAnswer": "00:00:01", "TransferType": "", "TransferredTo": "",
  "Type": "InBound", "UCID": 31733467784618299, "UUI": "", "WrapUpEndTime": "12:20:59",
  "WrapUpStartTime": "12:20:57", "WrapupDuration": "00:00:02"
}"""

SEED_CDR = json.loads(SEED_CDR_JSON)

# The CallBacks docs sample (seed cdr-in-callbacks-api.txt); its empty "ConferenceData": is "".
SEED_CALLBACK = {
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
    "AudioFile": "https://s3.ap-xxxxxxxxxxxxxamazxxxxxxs.com/recxxxxxxxxgs.kxxxo.in/mahxxxx_txr/DIA03xxxxxxxxa208dd02xxxxxd2.mp3",
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
    "ConferenceData": "",
}

# The seed's CDR with values the hook and operator tests read (a recent date, named campaign).
CDR_RECORD = {
    **SEED_CDR,
    "AgentID": "agent01",
    "AgentName": "Asha",
    "CallAudio": "https://s3.ap-southeast-1.amazonaws.com/recordings.kookoo.in/demo_user/x567.mp3",
    "CallDate": "2026-11-19",
    "CallID": BIG_CALL_ID,
    "CampaignName": "Inbound_Support",
    "UCID": BIG_UCID,
}


def cdr_record(n: int = 0, **changes) -> dict:
    return {**CDR_RECORD, "UCID": BIG_UCID + n, "CallID": BIG_CALL_ID + n // 2, **changes}


def cdr_body(records: list[dict], *, status: str = "success", message: str = "success") -> str:
    """Serialized like the vendor: details first, then message and status; ints stay exact."""
    return json.dumps({"details": records, "message": message, "status": status})


def callback_record(ucid: int | str = BIG_UCID, api_key: str = "KEY") -> dict:
    """The seed's CallBacks record for ``ucid`` on 2026-11-19, echoing ``api_key`` as the API does."""
    return {
        **SEED_CALLBACK,
        "monitorUCID": str(ucid),
        "UUI": "None",
        "Did": "90050",
        "CampaignName": "Inbound_Support",
        "CallerID": "504995",
        "StartTime": "2026-11-19 10:33:53",
        "EndTime": "2026-11-19 10:38:50",
        "AudioFile": "https://example.invalid/a.mp3",
        "Apikey": api_key,
        "UserName": "demo_user",
    }


TOKEN_EXPIRED = {"status": "false", "message": "Token Expired", "data": None}
CDR_RATE_LIMIT = {"message": "API rate limit has been exceeded", "status": "error"}
CALLBACKS_RATE_LIMIT = {"status": "error", "message": "max limit exceeded"}
HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"

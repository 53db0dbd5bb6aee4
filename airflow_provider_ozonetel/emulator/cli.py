"""Command line: ``python -m airflow_provider_ozonetel.emulator`` (console script ``ozonetel-emulator``)."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from typing import Any

from airflow_provider_ozonetel.emulator.config import (
    AUTH_MODES,
    DEFAULT_API_KEY,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_USER,
    EmulatorConfig,
    parse_now,
)

_COUNT = "N"
_COUNT_HELP = "(N = the next N matching requests, -1 = every one, 0 = off; default 0)"


def _now_argument(value: str) -> dt.datetime:
    try:
        return parse_now(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ozonetel-emulator",
        description=(
            "A local Ozonetel CloudAgent-compatible API server with synthetic, deterministic call detail "
            "records: Generate Token, Fetch CDR Details and CDR in CallBacks, their limits, IST store "
            "rules and error answers, plus injectable faults. The first line on stdout is the base URL. "
            "Emulator-only control routes: GET /_emulator/state, POST /_emulator/faults, "
            "POST /_emulator/clock."
        ),
    )
    add = parser.add_argument
    add("--host", default=DEFAULT_HOST, help=f"Interface to listen on (default {DEFAULT_HOST}).")
    add(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"TCP port to listen on; 0 picks a free one (default {DEFAULT_PORT}).",
    )
    add(
        "--user",
        default=DEFAULT_USER,
        help=f"The one CloudAgent account name accepted (default {DEFAULT_USER}).",
    )
    add(
        "--api-key", default=DEFAULT_API_KEY, help=f"The API key of that account (default {DEFAULT_API_KEY})."
    )
    add(
        "--auth-mode",
        choices=AUTH_MODES,
        default="token",
        help="How Fetch CDR Details authenticates: 'token' (TOKEN_AUTH: Authorization: Bearer <token>) or "
        "'api_key' (BASIC_AUTH: the apiKey header); default token.",
    )
    add("--seed", type=int, default=1, help="Seed of the synthetic calls; same seed, same calls (default 1).")
    add(
        "--calls-per-day",
        type=int,
        default=2000,
        help="Calls (CallIDs) per IST day; about 12%% have 2-3 legs (records), so a day has ~1.14x as many "
        "records. Any size streams (default 2000; 500000 works).",
    )
    add(
        "--minute-seconds",
        type=float,
        default=60.0,
        help="Real seconds one emulator minute lasts; scales rate windows, token life and the mint window "
        "(default 60).",
    )
    add(
        "--now",
        type=_now_argument,
        default=None,
        metavar="YYYY-MM-DDTHH:MM[:SS]",
        help="Pin the data clock to this IST (Asia/Kolkata) time; default: the real time.",
    )
    add(
        "--no-currentday",
        dest="currentday",
        action="store_false",
        help="Answer reportType=currentday with 'Invalid reportType' (the vendor's deprecation variant).",
    )
    add(
        "--cache-dir",
        default=None,
        metavar="DIR",
        help="Keep the full fetchCDRDetails bodies of past days in DIR, so repeated requests stream from "
        "disk (default: no cache).",
    )
    add(
        "--bandwidth-mbps",
        type=float,
        default=None,
        metavar="MBIT",
        help="Pace every answer's body to this many megabits per second, as a link to the vendor over "
        "the internet would (e.g. 100 or 1000; default: no limit, loopback speed).",
    )
    add(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug"),
        help="Server log level (default info).",
    )
    add("--access-log", action="store_true", help="Log every request (to stdout, after the URL line).")
    faults = parser.add_argument_group("faults", f"Each fault affects N requests {_COUNT_HELP}.")
    fault = faults.add_argument
    fault(
        "--fault-slow",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="Delay report answers (fetchCDRDetails, CallBacks) by SECONDS.",
    )
    fault(
        "--fault-slow-count",
        type=int,
        default=None,
        metavar=_COUNT,
        help="How many answers --fault-slow delays (default -1: every one).",
    )
    fault(
        "--fault-trickle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="Send report answers' bodies one byte at a time, SECONDS apart.",
    )
    fault(
        "--fault-trickle-count",
        type=int,
        default=None,
        metavar=_COUNT,
        help="How many answers --fault-trickle slows (default -1: every one).",
    )
    fault(
        "--fault-5xx",
        type=int,
        default=0,
        metavar=_COUNT,
        help="Answer report requests HTTP 502 with an HTML page.",
    )
    fault(
        "--fault-drop",
        type=int,
        default=0,
        metavar=_COUNT,
        help="Close the connection in the middle of a fetchCDRDetails body (a broken read).",
    )
    fault(
        "--fault-truncate",
        type=int,
        default=0,
        metavar=_COUNT,
        help="End a fetchCDRDetails body cleanly in the middle of a record (incomplete JSON).",
    )
    fault(
        "--fault-error-at-end",
        type=int,
        default=0,
        metavar=_COUNT,
        help="Stream the details, then end the body with the vendor's rate-limit error.",
    )
    fault(
        "--fault-rate-limit-storm",
        type=int,
        default=0,
        metavar=_COUNT,
        help="Answer report requests with the endpoint's rate-limit answer.",
    )
    fault(
        "--fault-steal-token",
        type=int,
        default=0,
        metavar=_COUNT,
        help="Mint a new token behind the client's back before fetchCDRDetails requests ('Token Expired').",
    )
    return parser


def fault_settings(args: argparse.Namespace) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "error_5xx": args.fault_5xx,
        "drop": args.fault_drop,
        "truncate": args.fault_truncate,
        "error_at_end": args.fault_error_at_end,
        "rate_limit_storm": args.fault_rate_limit_storm,
        "steal_token": args.fault_steal_token,
    }
    for name in ("slow", "trickle"):
        if getattr(args, f"fault_{name}"):
            settings[name] = getattr(args, f"fault_{name}")
            if getattr(args, f"fault_{name}_count") is not None:
                settings[f"{name}_count"] = getattr(args, f"fault_{name}_count")
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ozonetel-emulator``; runs until interrupted."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = EmulatorConfig(
            host=args.host,
            port=args.port,
            user=args.user,
            api_key=args.api_key,
            auth_mode=args.auth_mode,
            seed=args.seed,
            calls_per_day=args.calls_per_day,
            minute_seconds=args.minute_seconds,
            now=args.now,
            currentday=args.currentday,
            cache_dir=args.cache_dir,
            bandwidth_mbps=args.bandwidth_mbps,
        )
        faults = fault_settings(args)
        from airflow_provider_ozonetel.emulator.faults import Faults

        Faults().set(**faults)  # validate before binding the port
    except ValueError as exc:
        parser.error(str(exc))
    from airflow_provider_ozonetel.emulator.server import serve

    try:
        serve(config, faults=faults, access_log=args.access_log, log_level=args.log_level)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        parser.exit(1, f"ozonetel-emulator: cannot listen on {args.host}:{args.port}: {exc}\n")
    return 0

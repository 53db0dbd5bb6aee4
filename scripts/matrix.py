"""The Airflow version matrix: pinned dependency sets, cached virtualenvs, the suite on each version.

    python3 scripts/matrix.py constraints [MINOR ...]   # regenerate constraints/airflow-MINOR.txt
    python3 scripts/matrix.py venv VERSION              # build (or reuse) VERSION's venv; print its path
    python3 scripts/matrix.py run [VERSION ...]         # the suite on each version (make test-matrix)

Stdlib only: it runs with the machine's python3 before any virtualenv exists.

``constraints`` installs one Airflow version per minor (``SOURCE``) into a fresh virtualenv with
nothing pinned but ``PINS``, then the provider with its test and UI extras, and freezes the result
(minus Airflow's own packages, chosen by the user, and the provider). Each pin is there because
today's release of that package breaks that Airflow; the reason is written into the file.

``run`` tests, for each entry of ``MATRIX``, the Airflow version in a virtualenv installed with its
minor's constraints file. Venvs live in ``.venv-matrix/<version>-<hash>`` (the hash of the
constraints file and pyproject.toml), so a rerun reuses them; the next venv is built while the
current version's tests run. Only the tests that depend on Airflow run here (``-m "not
version_independent"``: pure logic and the emulator run once, in ``make test``). Each version's
run of the example DAGs against the emulator leaves its output files in
``.venv-matrix/outputs/<version>/``; they must be byte for byte the same on every version. The
results go to the README's tested-versions table.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import filecmp
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints"
CACHE = ROOT / ".venv-matrix"
OUTPUTS = CACHE / "outputs"
README = ROOT / "README.md"
PYTHON = os.environ.get("PYTHON", "python3")

#: Every Airflow-dependent test (pure logic and the emulator's own tests run once, in make test)
#: but the multi-worker deployment test: several minutes of `airflow standalone` per version, which
#: the CI's 45 minutes cannot hold; make test runs it (3.3.2), and what it depends on per version
#: (the token and the budget through Variables in real tasks) the integration tests check here.
ALL: tuple[str, ...] = ("tests", "--ignore=tests/integration/test_deployment.py")
#: The tests that check what reaches the logs (dag.test() runs against the emulator, the key's
#: echoes, the hook's secrets) and the CLI's provider listing.
SECRETS = (
    "tests/integration/test_emulator_runs.py",
    "tests/unit/test_key_echoes.py",
    "tests/unit/test_hook_secrets.py",
    "tests/unit/test_provider_info.py",
)
#: The example DAGs' runs, whose files are compared across versions, and the CLI's provider listing.
EXAMPLES = (
    "tests/integration/test_emulator_runs.py::test_call_lookup_dag_finds_every_ucid_and_reports_the_missing",
    "tests/integration/test_catchup_dag.py::test_one_run_after_an_outage_restores_every_missed_day",
    "tests/integration/test_postgres_day.py::test_the_example_loads_exactly_the_days_rows_and_a_rerun_gives_the_same_table",
    "tests/unit/test_provider_info.py",
)
#: What the matrix runs, and which tests: the whole Airflow-dependent suite on the oldest
#: supported patch of each minor; on the newest 3.0 (the only 3.0s whose dag.test() logs the
#: MaskSecret message, key and all, at DEBUG) the tests of what reaches the logs; on the newest
#: 3.3, which `make test` runs whole, the example DAGs (for the byte comparison). Subsets keep
#: the whole CI inside 45 minutes on 2 cores.
MATRIX: dict[str, tuple[str, ...]] = {
    "2.11.0": ALL,
    "3.0.2": ALL,
    "3.0.6": SECRETS,
    "3.1.0": ALL,
    "3.2.0": ALL,
    "3.3.0": ALL,
    "3.3.2": EXAMPLES,
}
#: The Airflow each minor's constraints file is frozen from: the oldest supported patch (what the
#: matrix tests), but for 3.3 the newest (what ``make test`` installs; the matrix tests both).
SOURCE = {"2.11": "2.11.0", "3.0": "3.0.2", "3.1": "3.1.0", "3.2": "3.2.0", "3.3": "3.3.2"}
_FASTAPI_422 = (
    "with today's fastapi (0.165, and cadwyn 9 which it allows) every dag.test() task fails in "
    "Airflow's execution API: 'Remote server returned validation error'"
)
_UPATH_03 = (
    "0.3 makes ObjectStoragePath('file:///...') raise 'detected protocol file which is "
    "incompatible with ObjectStoragePath'"
)
#: Pins on top of Airflow's own requirements, with why: each but 3.3's was seen failing without it
#: (the suite's integration tests on the SOURCE version, with only that package moved).
PINS: dict[str, dict[str, str]] = {
    "2.11": {"universal-pathlib<0.3": f"{_UPATH_03} (2.11 allows any >=0.2.2)"},
    "3.0": {
        "fastapi<0.117": _FASTAPI_422,
        "universal-pathlib<0.3": _UPATH_03,
    },
    "3.1": {
        "fastapi<0.118": f"{_FASTAPI_422} (Airflow 3.1.8 itself requires <0.118)",
        "universal-pathlib<0.3": f"{_UPATH_03} (Airflow 3.1.8 itself requires <0.3)",
        "structlog<25.5": (
            "structlog 25.5 dropped structlog.dev.Styles, which Airflow 3.1.0 imports: 'import airflow' fails"
        ),
    },
    "3.2": {
        "fastapi<0.137": (
            "with fastapi 0.163 every dag.test() task fails in Airflow's execution API with "
            "AttributeError: __pydantic_core_schema__ (3.2.0 allows any >=0.129; 3.3 requires <0.137)"
        ),
        "svcs<26": (
            "for 3.2.2 (3.2.0 works with 26): with svcs 26 its dag.test() tasks fail in Airflow's "
            "execution API with KeyError: 'svcs_registry'"
        ),
    },
    "3.3": {
        "aiosqlite<0.22": (
            "not for 3.3.2 (which allows 0.22), for the matrix's 3.3.0: it requires <0.22, and one "
            "set serves both"
        ),
    },
}
#: Airflow's own distributions: the user picks their version, so constraints leave them out.
AIRFLOW_PACKAGES = {"apache-airflow", "apache-airflow-core", "apache-airflow-task-sdk"}
#: The virtualenv's own installers: never constrained.
INSTALLERS = {"pip", "setuptools", "wheel"}
EXTRAS = "test,ui"
UV = "uv==0.13.9"


def minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def constraints_file(version: str) -> pathlib.Path:
    return CONSTRAINTS / f"airflow-{minor(version)}.txt"


def run(argv: list[str], *, log: pathlib.Path | None = None, **kwargs) -> subprocess.CompletedProcess:
    if log is None:
        return subprocess.run(argv, check=True, **kwargs)
    with log.open("a") as handle:
        handle.write(f"$ {' '.join(argv)}\n")
        handle.flush()
        result = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT, **kwargs)
    if result.returncode:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise RuntimeError(f"{' '.join(argv[:4])}... failed ({result.returncode}); {log}:\n{tail}")
    return result


def uv() -> pathlib.Path:
    """uv, in a small tools virtualenv of its own: it installs a whole Airflow in ~20 s where pip
    takes minutes on this 2-core machine, which is what keeps the matrix inside CI's time."""
    tools = CACHE / "tools"
    binary = tools / "bin" / "uv"
    if not binary.exists():
        CACHE.mkdir(exist_ok=True)
        run([PYTHON, "-m", "venv", str(tools)])
        run([str(tools / "bin" / "python"), "-m", "pip", "install", "--quiet", UV])
    return binary


def install(venv: pathlib.Path, *args: str, log: pathlib.Path) -> None:
    """``uv pip install`` into ``venv`` (its cache inside .venv-matrix/, so a clean clone has none)."""
    env = {**os.environ, "UV_CACHE_DIR": str(CACHE / "uv-cache")}
    run([str(uv()), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), *args],
        log=log, cwd=ROOT, env=env)  # fmt: skip


def fresh_venv(path: pathlib.Path, log: pathlib.Path) -> None:
    """A plain ``python -m venv`` (with pip, which scripts and users may call)."""
    shutil.rmtree(path, ignore_errors=True)
    run([PYTHON, "-m", "venv", str(path)], log=log)


# ---------------------------------------------------------------------------- constraints
def generate_constraints(minor_version: str, version: str | None = None) -> pathlib.Path:
    version = version or SOURCE[minor_version]
    pins = PINS[minor_version]
    CONSTRAINTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"ozonetel-constraints-{minor_version}-") as tmp:
        venv = pathlib.Path(tmp) / "venv"
        log = pathlib.Path(tmp) / "install.log"
        try:
            fresh_venv(venv, log)
            install(venv, f"apache-airflow=={version}", *pins, "-e", f".[{EXTRAS}]", log=log)
            frozen = subprocess.run(
                [str(uv()), "pip", "freeze", "--exclude-editable", "--python", str(venv / "bin" / "python")],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        except RuntimeError as exc:
            raise SystemExit(f"constraints for Airflow {minor_version}: {exc}") from None
    lines = []
    for line in frozen.splitlines():
        name = re.split(r"[=<>!~ @]", line, maxsplit=1)[0].strip().lower().replace("_", "-")
        if line and not line.startswith("#") and name not in AIRFLOW_PACKAGES | INSTALLERS:
            lines.append(line)
    header = [
        f"# Tested dependency set for Apache Airflow {minor_version} with airflow-provider-ozonetel,",
        f"# made from and tested with apache-airflow=={version} on Python {python_version()}"
        f" ({dt.date.today().isoformat()}).",
        f"# Made by `make constraints MINORS={minor_version}` (scripts/matrix.py): a fresh virtualenv,",
        f"# `uv pip install apache-airflow=={version} {' '.join(pins)} -e .[{EXTRAS}]`".replace("  ", " "),
        "# then a freeze, minus the provider and Airflow's own packages (apache-airflow, -core,",
        "# -task-sdk), which you pin to the version you run:",
        f"#   pip install apache-airflow=={version} airflow-provider-ozonetel"
        f" -c constraints/airflow-{minor_version}.txt",
        f"# `make test-matrix` runs the suite against this set with {', '.join(tested_with(minor_version))}.",
        "# Another patch of the minor may require other versions (3.2.2 requires starlette>=1, 3.2.0 <1):",
        "# if pip refuses the set, regenerate it from your patch: make constraints MINORS=X.Y AIRFLOW=X.Y.Z",
    ]
    if pins:
        header.append("# Pins beyond Airflow's own requirements, and why:")
        for spec, why in pins.items():
            header.append(f"#   {spec}: {why}")
    else:
        header.append("# No pins beyond Airflow's own requirements were needed.")
    path = CONSTRAINTS / f"airflow-{minor_version}.txt"
    path.write_text("\n".join(header + sorted(lines, key=str.lower)) + "\n")
    return path


def tested_with(minor_version: str) -> list[str]:
    return [v for v in MATRIX if minor(v) == minor_version]


def python_version() -> str:
    out = subprocess.run([PYTHON, "--version"], check=True, capture_output=True, text=True).stdout
    return out.split()[1]


# ---------------------------------------------------------------------------- venvs
def venv_key(version: str) -> str:
    digest = hashlib.sha256()
    for path in (constraints_file(version), ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def venv_path(version: str) -> pathlib.Path:
    return CACHE / f"{version}-{venv_key(version)}"


def ensure_venv(
    version: str, extras: str = "test", path: pathlib.Path | None = None
) -> tuple[pathlib.Path, float]:
    """The cached venv of ``version`` (built when missing); and the seconds spent building it.

    With ``path`` (``make venv``: .venv), install into that venv whatever its state: make's own
    stamp decides when that is needed.
    """
    cached = path is None
    path = path or venv_path(version)
    stamp = path / f".installed-{extras.replace(',', '-')}"
    if cached and stamp.exists():
        return path, 0.0
    started = time.monotonic()
    CACHE.mkdir(exist_ok=True)
    if cached:
        for stale in CACHE.glob(f"{version}-*"):  # an older constraints file's venv
            if stale.is_dir() and stale != path:
                shutil.rmtree(stale, ignore_errors=True)
    log = CACHE / f"{version}-install.log"
    log.unlink(missing_ok=True)
    if not (path / "bin" / "python").exists():
        fresh_venv(path, log)
    pin = f"apache-airflow=={version}"
    install(path, pin, "-e", f".[{extras}]", "-c", str(constraints_file(version)), log=log)
    stamp.touch()
    return path, time.monotonic() - started


# ---------------------------------------------------------------------------- the matrix
def run_suite(version: str, venv: pathlib.Path, day: str, selection: tuple[str, ...] = ALL) -> dict:
    outputs = OUTPUTS / version
    shutil.rmtree(outputs, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(OZONETEL_MATRIX_OUTPUTS=str(outputs), OZONETEL_MATRIX_DAY=day)
    log = CACHE / f"{version}-pytest.log"
    argv = [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    argv += ["-m", "not version_independent", "--durations=5", *selection]
    started = time.monotonic()
    with log.open("w") as handle:
        code = subprocess.run(argv, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT).returncode
    seconds = time.monotonic() - started
    text = log.read_text(errors="replace")
    summary = next((ln.strip("= ") for ln in reversed(text.splitlines()) if " in " in ln), "no summary")
    return {
        "version": version,
        "ok": code == 0,
        "summary": summary,
        "test_seconds": seconds,
        "log": str(log),
        "tests": "all" if selection == ALL else ("secrets" if selection == SECRETS else "examples"),
    }


def compare_outputs(versions: list[str]) -> list[str]:
    """Differences between the files each version's example DAG runs wrote (empty: all identical).

    Versions that run every example (the whole suite, or EXAMPLES) must write the same files; a
    version that runs a subset (SECRETS runs the call lookup only) must write some of them. Every
    file is compared byte for byte with the first full version's."""
    problems: list[str] = []
    present = [v for v in versions if (OUTPUTS / v).is_dir()]
    if len(present) < len(versions):
        problems.append(f"no example outputs from {sorted(set(versions) - set(present))}")
    full = [v for v in present if MATRIX.get(v, ALL) in (ALL, EXAMPLES)]
    if not full:
        return problems
    first = OUTPUTS / full[0]
    names = files_of(first)
    if not names:
        problems.append(f"{full[0]} wrote no example outputs")
    for other in present:
        if other == full[0]:
            continue
        theirs = files_of(OUTPUTS / other)
        if (other in full and theirs != names) or not set(theirs) <= set(names):
            problems.append(f"{other} wrote {theirs}, {full[0]} wrote {names}")
            continue
        for name in theirs:
            if not filecmp.cmp(first / name, OUTPUTS / other / name, shallow=False):
                problems.append(f"{name}: {other} differs from {full[0]}")
    return problems


def files_of(folder: pathlib.Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def digests(version: str) -> dict[str, str]:
    base = OUTPUTS / version
    return {
        str(p.relative_to(base)): hashlib.sha256(p.read_bytes()).hexdigest()[:16]
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }


def verdict(result: dict) -> str:
    """One table cell: passed or failed, with the test counts and time (no log text)."""
    if "test_seconds" not in result:
        return f"**failed**: install failed (.venv-matrix/{result['version']}-install.log)"
    if not re.search(r"\d+ (passed|failed)", result["summary"]):
        return f"**failed**: no test summary (.venv-matrix/{result['version']}-pytest.log)"
    counts = dict(
        (kind, int(n)) for n, kind in re.findall(r"(\d+) (passed|failed|error|errors)", result["summary"])
    )
    minutes, seconds = divmod(round(result["test_seconds"]), 60)
    took = f"{minutes} min {seconds:02d} s"
    if result["ok"]:
        return f"passed: {counts.get('passed', 0)} tests in {took}"
    failed = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
    return f"**failed**: {failed} of {failed + counts.get('passed', 0)} tests failed ({took})"


def update_readme(results: list[dict], python: str, today: str) -> None:
    what = {
        "all": "every Airflow-dependent test",
        "secrets": "the tests of what reaches the logs",
        "examples": "the example DAGs (`make test` runs all on it)",
    }
    rows = ["| Airflow | Python | Tests | Result | Date |", "|---|---|---|---|---|"]
    rows += [
        f"| {r['version']} | {python} | {what.get(r.get('tests', 'all'), '')} | {verdict(r)} | {today} |"
        for r in results
    ]
    block = "\n".join(rows)
    text = README.read_text()
    start, end = "<!-- tested-versions:start -->", "<!-- tested-versions:end -->"
    if start not in text or end not in text:
        print("README.md has no tested-versions markers; table not written", file=sys.stderr)
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    README.write_text(f"{head}{start}\n{block}\n{end}{tail}")


def run_matrix(versions: list[str], *, jobs: int, write_readme: bool) -> int:
    CACHE.mkdir(exist_ok=True)
    day = (
        os.environ.get("OZONETEL_MATRIX_DAY")
        or (dt.datetime.now(dt.UTC) + dt.timedelta(hours=5, minutes=30) - dt.timedelta(days=2))
        .date()
        .isoformat()
    )  # an IST day the emulator's historical store holds, the same for every version
    print(
        f"Airflow matrix: {' '.join(versions)}, {jobs} at a time (example DAGs for {day}); venvs in {CACHE}",
        flush=True,
    )

    def one(version: str) -> dict:
        started = time.monotonic()
        try:
            venv, build_seconds = builds[version].result()
        except RuntimeError as exc:
            print(f"[{version}] install failed:\n{exc}", flush=True)
            return {"version": version, "ok": False, "summary": f"install failed: {exc}"}
        waited = time.monotonic() - started
        result = run_suite(version, venv, day, MATRIX.get(version, ALL))
        result["build_seconds"] = build_seconds
        print(
            f"[{version}] {'ok' if result['ok'] else 'FAILED'}: {result['summary']} "
            f"(venv {'cached' if not build_seconds else f'built in {build_seconds:.0f} s'}, "
            f"waited {waited:.0f} s for it; tests {result['test_seconds']:.0f} s; log {result['log']})",
            flush=True,
        )
        return result

    # The suites mostly wait (on the emulator's rate windows, on Airflow's subprocesses), so two
    # share this 2-core machine well; venvs are built ahead, one at a time.
    with (
        concurrent.futures.ThreadPoolExecutor(max_workers=1) as builder,
        concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as runner,
    ):
        builds = {v: builder.submit(ensure_venv, v) for v in versions}
        results = list(runner.map(one, versions))
    problems = compare_outputs(versions)
    first = next((v for v in versions if (OUTPUTS / v).is_dir()), None)
    if first:
        for name, digest in digests(first).items():
            print(f"  example output {name}: sha256 {digest}...")
    if problems:
        print("Example DAG outputs differ between versions:\n  " + "\n  ".join(problems), flush=True)
    else:
        print(f"Example DAG outputs: byte for byte the same on {len(versions)} versions", flush=True)
    (CACHE / "results.json").write_text(json.dumps({"day": day, "results": results, "problems": problems}))
    if write_readme:
        update_readme(results, ".".join(python_version().split(".")[:2]), dt.date.today().isoformat())
    return 0 if all(r["ok"] for r in results) and not problems else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("constraints", help="regenerate constraints/airflow-MINOR.txt")
    gen.add_argument("minors", nargs="*", default=sorted(SOURCE))
    gen.add_argument("--airflow", help="make the (single) minor's file from this patch, not SOURCE's")
    env = sub.add_parser("venv", help="build or reuse a version's venv; print its path")
    env.add_argument("version")
    env.add_argument("--extras", default="test")
    env.add_argument(
        "--path", type=pathlib.Path, help="install into this venv (make venv) instead of the cache"
    )
    matrix = sub.add_parser("run", help="the suite on each version")
    matrix.add_argument("versions", nargs="*", default=list(MATRIX))
    matrix.add_argument("--no-readme", action="store_true", help="do not rewrite the README's table")
    matrix.add_argument("--jobs", type=int, default=2, help="versions tested at once (default 2)")
    args = parser.parse_args()
    if args.command == "constraints":
        if args.airflow and [minor(args.airflow)] != args.minors:
            parser.error("--airflow X.Y.Z goes with exactly one minor, X.Y")
        for minor_version in args.minors:
            version = args.airflow or SOURCE[minor_version]
            print(f"constraints for Airflow {minor_version} ({version}) ...", flush=True)
            print(f"  wrote {generate_constraints(minor_version, version).relative_to(ROOT)}", flush=True)
        return 0
    if args.command == "venv":
        path, _ = ensure_venv(args.version, args.extras, args.path)
        print(path)
        return 0
    return run_matrix(args.versions, jobs=args.jobs, write_readme=not args.no_readme)


if __name__ == "__main__":
    sys.exit(main())

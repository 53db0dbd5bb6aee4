"""List the built sdist and wheel and check what a provider's users and packagers rely on.

Run by ``make dist`` after ``python -m build``: LICENSE and NOTICE in both archives, the
wheel's metadata (SPDX license, license files, classifiers, project URLs, the provider entry
point), the JSON Schema shipped as package data, and no test or repository clutter.
"""

from __future__ import annotations

import email
import pathlib
import sys
import tarfile
import zipfile

REQUIRED_IN_WHEEL = (
    "airflow_provider_ozonetel/cdr_record.schema.json",
    "airflow_provider_ozonetel/hooks/ozonetel.py",
    "airflow_provider_ozonetel/emulator/README.md",
)
FORBIDDEN_PREFIXES = ("tests/", "bench/", "scripts/", "example_dags/", "docs/")


def check(dist: pathlib.Path) -> list[str]:
    problems: list[str] = []
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")

    with tarfile.open(sdist) as archive:
        sdist_names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    with zipfile.ZipFile(wheel) as archive:
        wheel_names = archive.namelist()
        (metadata_name,) = [name for name in wheel_names if name.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(archive.read(metadata_name))
        entry_points = archive.read(metadata_name.replace("METADATA", "entry_points.txt")).decode()

    print(f"{sdist.name}: {len(sdist_names)} files")
    for name in sorted(sdist_names):
        print(f"  {name}")
    print(f"{wheel.name}: {len(wheel_names)} files")
    for name in sorted(wheel_names):
        print(f"  {name}")

    for license_file in ("LICENSE", "NOTICE"):
        if license_file not in sdist_names:
            problems.append(f"sdist lacks {license_file}")
        if not any(name.endswith(f".dist-info/licenses/{license_file}") for name in wheel_names):
            problems.append(f"wheel lacks .dist-info/licenses/{license_file}")
    for name in REQUIRED_IN_WHEEL:
        if name not in wheel_names:
            problems.append(f"wheel lacks {name}")
    for name in wheel_names:
        if name.startswith(FORBIDDEN_PREFIXES):
            problems.append(f"wheel holds {name}, which is not part of the package")

    if metadata["License-Expression"] != "Apache-2.0":
        problems.append(f"License-Expression is {metadata['License-Expression']!r}, not 'Apache-2.0'")
    if sorted(metadata.get_all("License-File") or []) != ["LICENSE", "NOTICE"]:
        problems.append(f"License-File is {metadata.get_all('License-File')}")
    classifiers = metadata.get_all("Classifier") or []
    for wanted in ("Framework :: Apache Airflow :: Provider", "Programming Language :: Python :: 3.11"):
        if wanted not in classifiers:
            problems.append(f"classifier {wanted!r} missing")
    if not any(c.startswith("Development Status ::") for c in classifiers):
        problems.append("no Development Status classifier")
    if not metadata.get_all("Project-URL"):
        problems.append("no Project-URL")
    if "provider_info = airflow_provider_ozonetel:get_provider_info" not in entry_points:
        problems.append("the apache_airflow_provider entry point is missing")

    print("\nMetadata:")
    for key in ("Name", "Version", "License-Expression", "Requires-Python"):
        print(f"  {key}: {metadata[key]}")
    for key in ("License-File", "Classifier", "Project-URL", "Requires-Dist"):
        for value in metadata.get_all(key) or []:
            print(f"  {key}: {value}")
    return problems


def main() -> int:
    problems = check(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "dist"))
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    print("dist: OK" if not problems else f"dist: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

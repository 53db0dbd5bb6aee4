"""What the package declares: the Apache-2.0 license with its files, classifiers, project URLs.

``make dist`` builds the sdist and the wheel and checks LICENSE and NOTICE are inside both;
this checks the installed metadata and the files themselves, without building.
"""

from __future__ import annotations

import importlib.metadata

from tests.conftest import ROOT

METADATA = importlib.metadata.metadata("airflow-provider-ozonetel")


def test_license_is_the_full_apache_2_text_and_notice_exists():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert "APPENDIX: How to apply the Apache License to your work." in text
    assert "airflow-provider-ozonetel" in (ROOT / "NOTICE").read_text()


def test_metadata_declares_the_license_and_its_files():
    assert METADATA["License-Expression"] == "Apache-2.0"
    assert sorted(METADATA.get_all("License-File")) == ["LICENSE", "NOTICE"]


def test_classifiers_name_the_python_versions_and_the_development_status():
    classifiers = METADATA.get_all("Classifier")
    assert "Framework :: Apache Airflow :: Provider" in classifiers
    assert {c for c in classifiers if c.startswith("Programming Language :: Python :: 3.")} == {
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
    }
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    assert not any(c.startswith("License ::") for c in classifiers)  # PEP 639: the expression says it


def test_no_operating_system_is_claimed_as_nothing_is_os_specific():
    """Airflow and its providers declare no OS; POSIX was claimed for an fcntl lock that is gone."""
    classifiers = METADATA.get_all("Classifier")
    assert not any(c.startswith("Operating System ::") for c in classifiers)
    package = ROOT / "airflow_provider_ozonetel"
    posix_only = ("import fcntl", "import termios", "import pwd", "import grp", "import resource")
    # The opt-in typing process forks; its pipes are widened where Linux allows (fcntl, guarded).
    # Elsewhere the operator refuses typing_process=True (test_typing_process_needs_fork).
    opt_in = {package / "typing_process.py"}
    for source in package.rglob("*.py"):
        text = source.read_text()
        assert source in opt_in or not any(name in text for name in posix_only), source


def test_the_standard_and_compat_providers_are_declared_dependencies():
    required = {r.split(">")[0].split("<")[0].strip() for r in METADATA.get_all("Requires-Dist")}
    assert {"apache-airflow-providers-standard", "apache-airflow-providers-common-compat"} <= required
    assert METADATA.get_all("Project-URL")

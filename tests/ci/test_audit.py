"""The dependency audit's own logic (.ci/audit.py): the allowlist format, how pip-audit's report and
the project-JSON fallback combine, and what fails. `make audit` runs it for real over the network."""

import importlib.util
from datetime import date
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("ci_audit", Path(__file__).resolve().parents[2] / ".ci" / "audit.py")
audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)

REPORT = {
    "dependencies": [
        {"name": "flask", "version": "3.1.3", "vulns": []},
        {
            "name": "jinja2",
            "version": "3.1.2",
            "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "aliases": ["CVE-2024-22195"], "fix_versions": ["3.1.3"]}],
        },
        {"name": "numpy", "skip_reason": "Dependency not found on PyPI and could not be audited: numpy (2.4.6)"},
        {"name": "scipy", "skip_reason": "Dependency not found on PyPI and could not be audited: scipy (1.17.1)"},
        {"name": "werkzeug", "skip_reason": "Dependency not found on PyPI and could not be audited: werkzeug (3.1.9)"},
        {"name": "pingshan-matchmaker", "skip_reason": "distribution marked as editable"},
    ],
    "fixes": [],
}
PROJECTS = {
    "numpy": {"info": {"version": "2.4.6"}, "vulnerabilities": []},
    "scipy": {"info": {"version": "1.18.1"}, "vulnerabilities": []},
    "werkzeug": {
        "info": {"version": "3.1.9"},
        "vulnerabilities": [
            {"id": "PYSEC-2099-1", "aliases": ["CVE-2099-0001"], "fixed_in": [], "withdrawn": None},
            {"id": "PYSEC-2099-2", "aliases": [], "fixed_in": ["3.2.0"], "withdrawn": "2099-01-02T00:00:00"},
        ],
    },
}
VERSIONS = {"numpy": "2.4.6", "scipy": "1.17.1", "werkzeug": "3.1.9"}


def _assess():
    return audit.assess(REPORT, lookup=PROJECTS.__getitem__, version_of=VERSIONS.__getitem__)


def test_pip_audit_results_and_the_latest_release_fallback_combine():
    outcome = _assess()
    assert (outcome.by_pip_audit, outcome.by_project_json) == (2, 2)
    # scipy is behind its latest release: the project document says nothing about 1.17.1.
    assert list(outcome.unaudited) == ["scipy"] and "latest 1.18.1" in outcome.unaudited["scipy"]
    ids = {(f.package, f.id, f.source) for f in outcome.findings}
    # The withdrawn advisory is not a finding; our own editable package is not audited at all.
    assert ids == {("jinja2", "GHSA-h5c8-rqwp-cp95", "pip-audit"), ("werkzeug", "PYSEC-2099-1", "project json")}


def test_an_unreachable_index_leaves_the_package_unaudited_not_passed():
    def offline(name: str) -> dict:
        raise OSError("Name or service not known")

    outcome = audit.assess(REPORT, lookup=offline, version_of=VERSIONS.__getitem__)
    assert outcome.by_project_json == 0 and set(outcome.unaudited) == {"numpy", "scipy", "werkzeug"}


def test_the_allowlist_accepts_an_id_or_an_alias_and_nothing_else(tmp_path):
    path = tmp_path / "ignore.txt"
    path.write_text(
        "# comment\n\nCVE-2024-22195  2026-11-27  only in templates we write ourselves, never user templates\n",
        encoding="utf-8",
    )
    allowed = audit.read_allowlist(path)
    assert allowed["CVE-2024-22195"].accepted == date(2026, 11, 27)
    failing = audit.blocking(_assess().findings, allowed)
    assert [f.id for f in failing] == ["PYSEC-2099-1"]


@pytest.mark.parametrize("line", ["PYSEC-2099-1", "PYSEC-2099-1 2026-11-27", "PYSEC-2099-1 yesterday because"])
def test_an_allowlist_entry_without_date_and_reason_is_refused(tmp_path, line):
    path = tmp_path / "ignore.txt"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="ID  YYYY-MM-DD  reason"):
        audit.read_allowlist(path)


def test_the_shipped_allowlist_is_well_formed():
    audit.read_allowlist(Path(audit.__file__).with_name("pip-audit-ignore.txt"))


def test_main_fails_on_a_vulnerability_and_in_strict_mode_on_unaudited_packages(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "ignore.txt"
    empty.write_text("", encoding="utf-8")
    monkeypatch.setattr(audit, "run_pip_audit", lambda: REPORT)
    monkeypatch.setattr(audit, "project_json", PROJECTS.__getitem__)
    monkeypatch.setattr(audit, "installed_version", VERSIONS.__getitem__)
    assert audit.main(["--ignore-file", str(empty)]) == 1
    assert "audit FAILED: 2 known vulnerabilities" in capsys.readouterr().out

    empty.write_text("GHSA-h5c8-rqwp-cp95  2026-11-27  test\nCVE-2099-0001  2026-11-27  test\n", encoding="utf-8")
    assert audit.main(["--ignore-file", str(empty)]) == 0
    out = capsys.readouterr().out
    assert "audit WARNING: 1 packages could not be checked" in out and '"allowlisted": 2' in out
    assert audit.main(["--ignore-file", str(empty), "--strict"]) == 1

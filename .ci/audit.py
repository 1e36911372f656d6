"""Known vulnerabilities in the installed Python packages: `make audit` (part of `make test`).

1. pip-audit checks every installed distribution (our own editable package aside) against PyPI's
   per-version vulnerability data (`/pypi/<name>/<version>/json`, which carries the OSV records).
2. A package pip-audit could not look up ("not found on PyPI": some package indexes serve only the
   project-level JSON) is checked against `/pypi/<name>/json` when the installed version is the
   latest release, because that document's `vulnerabilities` are the latest release's.
3. Whatever neither could check is listed as unaudited. That is a warning, not a failure, unless
   `--strict` (or AUDIT_STRICT=1) is given: a machine that cannot reach the vulnerability data
   should not block the tests, but it must say so.

Any known vulnerability fails the audit unless its id (or one of its aliases, e.g. the CVE) is in
the allowlist file, one line each: `ID  YYYY-MM-DD  reason` (the date it was accepted, a reason
why it does not affect us or what waits for the fix). Lines starting with # are comments.
"""

import argparse
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from packaging.version import InvalidVersion, Version

PYPI = os.environ.get("AUDIT_PYPI_URL", "https://pypi.org/pypi")
NOT_FOUND = "not found on PyPI"
EDITABLE = "marked as editable"
_ALLOW_LINE = re.compile(r"^(?P<id>\S+)\s+(?P<date>\d{4}-\d{2}-\d{2})\s+(?P<reason>\S.*)$")


@dataclass(frozen=True)
class Allowed:
    id: str
    accepted: date
    reason: str


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    id: str
    aliases: tuple[str, ...]
    fixed_in: tuple[str, ...]
    source: str  # "pip-audit" or "project json"


@dataclass
class Outcome:
    by_pip_audit: int = 0
    by_project_json: int = 0
    unaudited: dict[str, str] = field(default_factory=dict)  # package -> why
    findings: list[Finding] = field(default_factory=list)


def read_allowlist(path: Path) -> dict[str, Allowed]:
    """The accepted vulnerability ids; a malformed line is an error (an allowlist must say why)."""
    allowed: dict[str, Allowed] = {}
    if not path.exists():
        return allowed
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _ALLOW_LINE.match(line)
        if match is None:
            raise ValueError(f"{path}:{number}: expected `ID  YYYY-MM-DD  reason`, got {line!r}")
        allowed[match["id"]] = Allowed(match["id"], date.fromisoformat(match["date"]), match["reason"])
    return allowed


def run_pip_audit() -> dict:
    """pip-audit's JSON report over the current environment. If pip-audit itself cannot run (its
    vulnerability service unreachable), every installed package goes to the fallback instead."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "report.json"
        command = [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off"]
        command += ["--skip-editable", "--output", str(out)]
        result = subprocess.run(command, capture_output=True, text=True)
        if out.exists():  # written also when vulnerabilities were found (exit 1)
            return json.loads(out.read_text())
    print(f"  pip-audit could not run (exit {result.returncode}): {result.stderr.strip().splitlines()[-1:]}")
    names = {dist.metadata["Name"] for dist in importlib.metadata.distributions()}
    return {"dependencies": [{"name": name, "skip_reason": NOT_FOUND} for name in sorted(names)]}


def project_json(name: str) -> dict:
    with urllib.request.urlopen(f"{PYPI}/{name}/json", timeout=30) as response:
        return json.load(response)


def installed_version(name: str) -> str:
    return importlib.metadata.version(name)


def assess(
    report: dict,
    lookup: Callable[[str], dict] = project_json,
    version_of: Callable[[str], str] = installed_version,
) -> Outcome:
    """Fold pip-audit's report and the project-JSON fallback into one outcome."""
    outcome = Outcome()
    fallback = []
    for dep in report.get("dependencies", []):
        if "skip_reason" not in dep:
            outcome.by_pip_audit += 1
            for vuln in dep.get("vulns", []):
                outcome.findings.append(
                    Finding(
                        dep["name"],
                        dep["version"],
                        vuln["id"],
                        tuple(vuln.get("aliases", ())),
                        tuple(vuln.get("fix_versions", ())),
                        "pip-audit",
                    )
                )
        elif NOT_FOUND in dep["skip_reason"]:
            fallback.append(dep["name"])
        elif EDITABLE not in dep["skip_reason"]:  # our own package, installed for development
            outcome.unaudited[dep["name"]] = dep["skip_reason"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        checked = list(pool.map(lambda name: _check_latest(name, version_of(name), lookup), fallback))
    for name, (version, vulns, why) in zip(fallback, checked, strict=True):
        if why is not None:
            outcome.unaudited[name] = why
            continue
        outcome.by_project_json += 1
        for vuln in vulns:
            outcome.findings.append(
                Finding(
                    name,
                    version,
                    vuln["id"],
                    tuple(vuln.get("aliases") or ()),
                    tuple(vuln.get("fixed_in") or ()),
                    "project json",
                )
            )
    return outcome


def _check_latest(name: str, version: str, lookup: Callable[[str], dict]) -> tuple[str, list[dict], str | None]:
    """(installed version, its vulnerabilities, None) or (version, [], why it could not be checked)."""
    try:
        data = lookup(name)
    except (urllib.error.URLError, OSError, ValueError) as error:
        return version, [], f"no vulnerability data reachable ({error})"
    latest = data.get("info", {}).get("version", "")
    try:
        same = Version(latest) == Version(version)
    except InvalidVersion:
        same = latest == version
    if not same:
        return version, [], f"installed {version}, latest {latest}: per-version data not served by this index"
    return version, [v for v in data.get("vulnerabilities", []) if not v.get("withdrawn")], None


def blocking(findings: Iterable[Finding], allowed: dict[str, Allowed]) -> list[Finding]:
    return [f for f in findings if f.id not in allowed and not any(alias in allowed for alias in f.aliases)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ignore-file", type=Path, default=Path(__file__).with_name("pip-audit-ignore.txt"))
    parser.add_argument("--strict", action="store_true", default=os.environ.get("AUDIT_STRICT") == "1")
    args = parser.parse_args(argv)
    allowed = read_allowlist(args.ignore_file)
    outcome = assess(run_pip_audit(), lookup=project_json, version_of=installed_version)
    failing = blocking(outcome.findings, allowed)

    for finding in outcome.findings:
        status = "FAIL" if finding in failing else "allowed"
        fixes = ", ".join(finding.fixed_in) or "no fix yet"
        aliases = f" ({', '.join(finding.aliases)})" if finding.aliases else ""
        print(f"  {status}: {finding.package} {finding.version}: {finding.id}{aliases}; fixed in {fixes}")
    for name, why in sorted(outcome.unaudited.items()):
        print(f"  unaudited: {name}: {why}")
    used = {f.id for f in outcome.findings} | {a for f in outcome.findings for a in f.aliases}
    for stale in sorted(set(allowed) - used):
        print(f"  allowlist entry {stale} matched nothing installed: remove it from {args.ignore_file}")
    summary = {
        "audited": outcome.by_pip_audit + outcome.by_project_json,
        "by_pip_audit": outcome.by_pip_audit,
        "by_project_json": outcome.by_project_json,
        "unaudited": len(outcome.unaudited),
        "vulnerabilities": len(outcome.findings),
        "allowlisted": len(outcome.findings) - len(failing),
        "failing": len(failing),
    }
    print("audit:", json.dumps(summary))
    if failing:
        print(f"audit FAILED: {len(failing)} known vulnerabilities; upgrade, or accept each in {args.ignore_file}")
        return 1
    if outcome.unaudited:
        print(f"audit WARNING: {len(outcome.unaudited)} packages could not be checked (see above)")
        if args.strict:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

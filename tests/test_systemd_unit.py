"""The systemd unit: systemd's own checker accepts it, and it keeps its promises to the daemon
(Type=notify, the watchdog and stop timeouts against the settings' defaults, the hardening), and
the interpreter with every compiled dependency survives MemoryDenyWriteExecute=yes."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from informer_mirror.cli import EXIT_USAGE, build_parser
from informer_mirror.settings import (
    DEFAULT_CONFIG_PATH,
    HealthSettings,
    SqliteBackendSettings,
    WriterSettings,
)

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "informer-mirror.service"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (not a systemd host)"
)

Unit = dict[str, list[tuple[str, str]]]


def parse_unit(text: str) -> Unit:
    """Sections -> (key, value) pairs in order, as systemd reads a unit file: repeated keys kept,
    ``#``/``;`` comments skipped, a trailing backslash continues the line."""
    unit: Unit = {}
    section: list[tuple[str, str]] | None = None
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith(("#", ";"))):
            continue
        if line.endswith("\\"):
            logical += line[:-1].rstrip() + " "
            continue
        line, logical = logical + line, ""
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], [])
            continue
        key, sep, value = line.partition("=")
        assert sep and section is not None, f"not a unit file line: {raw!r}"
        section.append((key.strip(), value.strip()))
    return unit


def values(unit: Unit, section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def value(unit: Unit, section: str, key: str) -> str:
    found = values(unit, section, key)
    assert len(found) == 1, f"[{section}] {key}= expected once, found {found}"
    return found[0]


def seconds(text: str) -> float:
    """A systemd time span (``90``, ``90s``, ``5min``, ``1min 30s``) in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "ms": 0.001}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text):
        total += float(number) * units[unit]
    return total


@pytest.fixture(scope="module")
def unit() -> Unit:
    return parse_unit(UNIT.read_text(encoding="utf-8"))


def runnable_copy(directory: Path) -> Path:
    """The unit with ExecStart's program swapped for one that exists here (CI has no
    /usr/local/bin/informer-mirror); everything else byte for byte."""
    text = UNIT.read_text(encoding="utf-8")
    patched, count = re.subn(
        r"^ExecStart=\S+", f"ExecStart={sys.executable}", text, flags=re.MULTILINE
    )
    assert count == 1
    copy = directory / UNIT.name
    copy.write_text(patched, encoding="utf-8")
    return copy


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    return subprocess.run(
        [SYSTEMD_ANALYZE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "SYSTEMD_LOG_COLOR": "0", "LANG": "C.UTF-8"},
    )


def findings(result: subprocess.CompletedProcess[str]) -> list[str]:
    """What systemd-analyze said about our unit (it may also talk about the host's units)."""
    return [
        line for line in (result.stdout + result.stderr).splitlines() if "informer-mirror" in line
    ]


@needs_systemd_analyze
def test_systemd_analyze_verify_accepts_the_unit_without_a_single_warning(tmp_path: Path) -> None:
    result = analyze("verify", str(runnable_copy(tmp_path)))

    assert result.returncode == 0, result.stderr
    assert findings(result) == []


@needs_systemd_analyze
def test_systemd_analyze_verify_would_report_a_misspelt_directive(tmp_path: Path) -> None:
    # verify exits 0 on an unknown key and only prints it: the test above must read the output.
    copy = runnable_copy(tmp_path)
    copy.write_text(
        copy.read_text(encoding="utf-8").replace("ProtectSystem=", "ProtectSytem="),
        encoding="utf-8",
    )

    result = analyze("verify", str(copy))

    assert any("Unknown key" in line and "ProtectSytem" in line for line in findings(result))


@needs_systemd_analyze
def test_systemd_analyze_security_rates_the_unit_ok_or_better(tmp_path: Path) -> None:
    result = analyze("security", "--offline=yes", str(runnable_copy(tmp_path)))
    if result.returncode != 0 and "offline" in result.stderr:
        pytest.skip(f"this systemd-analyze has no --offline (needs systemd 250+): {result.stderr}")

    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", result.stdout)
    assert match, result.stdout + result.stderr
    exposure, verdict = float(match.group(1)), match.group(2)
    assert verdict in {"PERFECT", "SAFE", "OK"}, result.stdout
    assert exposure <= 2.0, result.stdout


# Run in a fresh interpreter: the kernel's own Memory-Deny-Write-Execute (prctl PR_SET_MDWE,
# Linux 6.3+) is switched on first, then every compiled dependency is loaded and exercised.
MDWE_PROBE = """
import ctypes, mmap, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    sys.exit(77)
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    sys.exit("a writable and executable mapping was allowed: MDWE is not in force")
except OSError:
    pass
import json, sqlite3, ssl
import bson, flask, kubernetes, orjson, prometheus_client, pymongo, tenacity, waitress, yaml
import informer_mirror.cli, informer_mirror.logsetup, informer_mirror.notify
import informer_mirror.kube.client, informer_mirror.metrics, informer_mirror.sim
ssl.create_default_context()
db = sqlite3.connect(":memory:")
db.execute("create table t (doc text)")
db.execute("insert into t values (?)", (orjson.dumps({"a": [1, 2]}).decode(),))
assert json.loads(db.execute("select doc from t").fetchone()[0]) == {"a": [1, 2]}
assert bson.decode(bson.encode({"a": 1})) == {"a": 1}
assert yaml.load("a: [1]", Loader=yaml.CSafeLoader) == {"a": [1]}
callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda n: n + 1)
assert callback(1) == 2
print("ok")
"""


def test_cpython_and_the_dependencies_run_under_memory_deny_write_execute() -> None:
    result = subprocess.run(
        [sys.executable, "-c", MDWE_PROBE],
        cwd=UNIT.parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3+) to stand in for systemd's filter")

    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr


def test_the_service_is_type_notify_and_only_the_main_process_may_notify(unit: Unit) -> None:
    assert value(unit, "Service", "Type") == "notify"
    assert value(unit, "Service", "NotifyAccess") == "main"


def test_the_watchdog_leaves_room_for_two_health_checks(unit: Unit) -> None:
    watchdog = seconds(value(unit, "Service", "WatchdogSec"))

    assert watchdog == 90
    # The health monitor pings once per health.interval; sd_watchdog_enabled(3) asks for a ping
    # every WatchdogSec/2, so one slow check does not get a healthy daemon killed.
    assert HealthSettings().interval < watchdog / 2


def test_stopping_allows_the_writer_to_drain_first(unit: Unit) -> None:
    assert seconds(value(unit, "Service", "TimeoutStopSec")) > WriterSettings().drain_timeout + 10


def test_failures_restart_the_daemon_but_a_bad_configuration_does_not(unit: Unit) -> None:
    assert value(unit, "Service", "Restart") == "on-failure"
    assert seconds(value(unit, "Service", "RestartSec")) > 0
    assert value(unit, "Service", "RestartPreventExitStatus") == str(EXIT_USAGE)


def test_execstart_runs_the_daemon_with_the_default_configuration_file(unit: Unit) -> None:
    argv = shlex.split(value(unit, "Service", "ExecStart"))

    assert argv[0] == "/usr/local/bin/informer-mirror"
    assert argv[1:] == ["run", "--config", str(DEFAULT_CONFIG_PATH)]
    assert build_parser().parse_args(argv[1:]).command == "run"


def test_the_directories_systemd_creates_are_the_ones_the_settings_default_to(unit: Unit) -> None:
    state = value(unit, "Service", "StateDirectory")
    config = value(unit, "Service", "ConfigurationDirectory")

    assert SqliteBackendSettings().path.parent == Path("/var/lib") / state
    assert DEFAULT_CONFIG_PATH.parent == Path("/etc") / config


def test_the_kubeconfig_is_handed_over_as_a_credential(unit: Unit) -> None:
    assert values(unit, "Service", "LoadCredential") == [
        "kubeconfig:/etc/informer-mirror/kubeconfig"
    ]
    assert "KUBECONFIG=%d/kubeconfig" in values(unit, "Service", "Environment")


HARDENING = {
    "DynamicUser": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "PrivateUsers": "yes",
    "PrivateMounts": "yes",
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "ProtectProc": "invisible",
    "SystemCallArchitectures": "native",
    "UMask": "0077",
}


@pytest.mark.parametrize(("key", "expected"), sorted(HARDENING.items()))
def test_the_unit_is_hardened(unit: Unit, key: str, expected: str) -> None:
    assert value(unit, "Service", key) == expected


def test_system_calls_are_limited_to_an_unprivileged_service(unit: Unit) -> None:
    assert values(unit, "Service", "SystemCallFilter") == [
        "@system-service",
        "~@privileged @resources",
    ]


def test_the_unit_parser_reads_repeated_keys_and_continued_lines() -> None:
    parsed = parse_unit("# c\n[Service]\nA=1\n; c\nA=2 \\\n  3\nB=\n")

    assert parsed == {"Service": [("A", "1"), ("A", "2 3"), ("B", "")]}

"""The ``informer-mirror`` command line: version, help, exit codes, check-config, run and demo's
argument and configuration errors (the daemon itself: ``tests/e2e``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from informer_mirror import __version__
from informer_mirror.cli import EXIT_OK, EXIT_USAGE, main
from informer_mirror.kinds import BUILTIN_KINDS


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


@pytest.mark.parametrize("command", [[], ["sim"], ["check-config"], ["run"], ["demo"]])
def test_help_works_for_every_subcommand(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code == 0
    assert "usage: informer-mirror" in capsys.readouterr().out


def test_no_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == EXIT_USAGE
    assert "COMMAND" in capsys.readouterr().err


def test_run_with_an_unreadable_config_exits_2_with_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["run", "--config", str(missing)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err == (
        f"informer-mirror: {missing}: cannot read the configuration: No such file or directory\n"
    )


def test_run_with_an_invalid_config_names_the_file_and_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("resources: {include: [pod]}\n")
    assert main(["run", "--config", str(config)]) == EXIT_USAGE
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith(
        f"informer-mirror: {config}: resources.include[0]: unknown resource 'pod'"
    )


def test_run_with_debug_prints_the_traceback_before_the_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("writer: {batch_size: 0}\n")
    assert main(["run", "--config", str(config), "--debug"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert err.splitlines()[-1] == (
        f"informer-mirror: {config}: writer.batch_size: must be > 0 (got 0)"
    )


def test_demo_rejects_a_port_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--port", "70000"])
    assert exc.value.code == EXIT_USAGE
    assert "must be 0-65535" in capsys.readouterr().err


def test_resources_without_a_config_prints_every_builtin_kind_as_a_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["resources"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "APIVERSION", "KIND", "NAMESPACED", "RESYNC", "ICON"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert len(rows) == len(BUILTIN_KINDS)
    assert rows["deployments"][1:5] == ["apps/v1", "Deployment", "true", "600s"]
    assert rows["nodes"][1:5] == ["v1", "Node", "false", "600s"]


def test_resources_json_lists_the_effective_registry_of_a_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mirror.yaml"
    config.write_text(
        "resources:\n"
        "  include: [pods, certificates]\n"
        "  overrides: {pods: {resync_period: 0}}\n"
        "  custom:\n"
        "    - {name: certificates, group: cert-manager.io, version: v1, kind: Certificate,\n"
        "       namespaced: true, icon: C, resync_period: 30,\n"
        "       fields: {ready: \"status.conditions[?type=='Ready'].status\"}}\n"
    )
    assert main(["resources", "--config", str(config), "--output", "json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out) == [
        {
            "name": "pods",
            "apiVersion": "v1",
            "kind": "Pod",
            "namespaced": True,
            "icon": "🐳",
            "resyncPeriod": 0,
        },
        {
            "name": "certificates",
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "namespaced": True,
            "icon": "C",
            "resyncPeriod": 30,
        },
    ]


def test_resources_table_shows_a_disabled_resync_as_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mirror.yaml"
    config.write_text("resources: {include: [nodes], resync_period: 0}\n")
    assert main(["resources", "--config", str(config), "--output", "table"]) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[1].split()[:5] == [
        "nodes",
        "v1",
        "Node",
        "false",
        "off",
    ]


def test_resources_with_an_invalid_registry_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "resources:\n"
        "  custom: [{name: status, group: example.com, version: v1, kind: Status,\n"
        "            namespaced: true}]\n"
    )
    assert main(["resources", "--config", str(config)]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "resources.custom[0].name: 'status' collides with the API path /api/v1/status" in (
        captured.err
    )


def test_resources_with_an_unknown_name_lists_the_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("resources: {include: [pod]}\n")
    assert main(["resources", "--config", str(config)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "resources.include[0]: unknown resource 'pod' (did you mean 'pods'?)" in err
    assert "known resources: configmaps," in err


def test_resources_rejects_an_unknown_output_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["resources", "--output", "yaml"])
    assert exc.value.code == EXIT_USAGE
    assert "invalid choice: 'yaml'" in capsys.readouterr().err


def test_check_config_accepts_a_valid_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ok.yaml"
    config.write_text("backend: {kind: sqlite, path: mirror.db}\nwriter: {batch_size: 100}\n")
    assert main(["check-config", "--config", str(config)]) == EXIT_OK
    assert "OK" in capsys.readouterr().out


def test_check_config_rejects_a_bad_file_with_the_field_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("backend: {kind: postgres}\n")
    assert main(["check-config", "--config", str(config)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "backend.kind: must be one of mongo, sqlite (got 'postgres')" in err


def test_check_config_on_a_missing_file_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["check-config", "--config", str(missing)]) == EXIT_USAGE
    assert "nope.yaml" in capsys.readouterr().err


def test_check_config_show_masks_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = tmp_path / "token"
    token.write_text("s3cr3t-token-value-42\n")
    config = tmp_path / "ok.yaml"
    config.write_text(f"api: {{token_file: {token}}}\n")
    assert main(["check-config", "--config", str(config), "--show"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "s3cr3t-token-value-42" not in out
    assert '"api"' in out


def test_the_console_script_module_runs_as_a_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "informer_mirror", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert __version__ in result.stdout

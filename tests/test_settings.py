"""Configuration: YAML files on disk become frozen settings or a ConfigError naming the field."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from informer_mirror.errors import ConfigError
from informer_mirror.settings import (
    ALWAYS_STRIPPED_ANNOTATIONS,
    DEFAULT_CONFIG_PATH,
    TOP_LEVEL_KEYS,
    ApiSettings,
    ClusterSettings,
    CustomResourceSettings,
    HealthSettings,
    LoggingSettings,
    MongoBackendSettings,
    ResourceOverrides,
    ResourcesSettings,
    Settings,
    SqliteBackendSettings,
    WriteConcernSettings,
    WriterSettings,
    load_settings,
    parse_settings,
    resource_sections,
    sections,
)

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
HOME = "/home/tester"
ENV: dict[str, str] = {"HOME": HOME}

CERTIFICATES = {
    "name": "certificates",
    "group": "cert-manager.io",
    "version": "v1",
    "kind": "Certificate",
    "namespaced": True,
}


def _write(tmp_path: Path, text: str, name: str = "informer-mirror.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Settings:
    return load_settings(_write(tmp_path, text), env=ENV if env is None else env)


def _error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text, env)
    return str(caught.value)


# --- defaults -------------------------------------------------------------------------------


def test_an_empty_file_gives_every_default(tmp_path: Path) -> None:
    settings = _load(tmp_path, "")
    assert settings.cluster == ClusterSettings(kubeconfig=Path(HOME, ".kube", "config"))
    assert settings.backend == SqliteBackendSettings()
    assert settings.backend.path == Path("/var/lib/informer-mirror/mirror.db")
    assert settings.resources == ResourcesSettings()
    assert settings.resources.include == ("all",)
    assert settings.resources.resync_period == 600.0
    assert settings.writer == WriterSettings(batch_size=5000, flush_interval=0.25, drain_timeout=30)
    assert settings.api == ApiSettings(host="127.0.0.1", port=8080, enabled=True, token=None)
    assert settings.health == HealthSettings(
        interval=30, max_retries=5, retry_delay=10, auto_reconnect=True
    )
    assert settings.logging == LoggingSettings(level="INFO", format="text")
    assert settings.config_file == tmp_path / "informer-mirror.yaml"


def test_a_file_of_comments_and_empty_sections_gives_the_defaults(tmp_path: Path) -> None:
    settings = _load(tmp_path, "# nothing yet\napi:\nwriter: {}\n")
    assert settings.api == ApiSettings()
    assert settings.writer == WriterSettings()


def test_a_key_left_empty_takes_its_default(tmp_path: Path) -> None:
    settings = _load(tmp_path, "backend:\n  kind:\nresources:\n  exclude:\napi: {port: null}\n")
    assert settings.backend == SqliteBackendSettings()
    assert settings.resources.exclude == ()
    assert settings.api.port == 8080


def test_the_default_config_path_is_under_etc() -> None:
    assert Path("/etc/informer-mirror/informer-mirror.yaml") == DEFAULT_CONFIG_PATH


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = _load(tmp_path, "")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.writer.batch_size = 1  # type: ignore[misc]


def test_every_section_key_is_a_field_with_a_default_of_its_dataclass() -> None:
    pairs: list[tuple[type[Any], tuple[str, ...]]] = [
        (ClusterSettings, sections.CLUSTER_KEYS),
        (SqliteBackendSettings, sections.SQLITE_KEYS),
        (MongoBackendSettings, sections.MONGO_KEYS),
        (WriteConcernSettings, sections.WRITE_CONCERN_KEYS),
        (WriterSettings, sections.WRITER_KEYS),
        (ApiSettings, sections.API_KEYS),
        (HealthSettings, sections.HEALTH_KEYS),
        (LoggingSettings, sections.LOGGING_KEYS),
        (ResourcesSettings, resource_sections.RESOURCES_KEYS),
        (ResourceOverrides, resource_sections.OVERRIDE_KEYS),
        (CustomResourceSettings, resource_sections.CUSTOM_KEYS),
        (Settings, TOP_LEVEL_KEYS),
    ]
    for cls, keys in pairs:
        fields = {f.name for f in dataclasses.fields(cls)}
        assert set(keys) <= fields, (cls.__name__, set(keys) - fields)


# --- values that are accepted -----------------------------------------------------------------


def test_a_full_valid_file_is_read_into_typed_sections(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        """
        cluster: {name: prod-eu1, kubeconfig: /etc/im/kubeconfig, context: admin@prod}
        backend: {kind: sqlite, path: /data/mirror.db}
        resources:
          include: [pods, deployments]
          exclude: [secrets]
          exclude_namespaces: [kube-system]
          resync_period: 0
          strip_annotations: [example.com/notes, kubectl.kubernetes.io/last-applied-configuration]
        writer: {batch_size: 1000, flush_interval: 1, drain_timeout: 0}
        api: {enabled: no, host: "::", port: 0, metrics_port: 0}
        health: {interval: 5.5, max_retries: 3, retry_delay: 1, max_retry_delay: 1,
                 auto_reconnect: off}
        logging: {level: debug, format: JSON}
        """,
    )
    assert settings.cluster == ClusterSettings(
        name="prod-eu1", kubeconfig=Path("/etc/im/kubeconfig"), context="admin@prod"
    )
    assert settings.backend == SqliteBackendSettings(path=Path("/data/mirror.db"))
    assert settings.resources.include == ("pods", "deployments")
    assert settings.resources.exclude_namespaces == ("kube-system",)
    assert settings.resources.resync_period == 0.0
    assert settings.resources.strip_annotations == (
        *ALWAYS_STRIPPED_ANNOTATIONS,
        "example.com/notes",
    )
    assert settings.writer == WriterSettings(batch_size=1000, flush_interval=1.0, drain_timeout=0.0)
    assert isinstance(settings.writer.flush_interval, float)
    assert settings.api.enabled is False
    assert (settings.api.host, settings.api.port, settings.api.metrics_port) == ("::", 0, 0)
    assert settings.health == HealthSettings(
        interval=5.5, max_retries=3, retry_delay=1.0, max_retry_delay=1.0, auto_reconnect=False
    )
    assert settings.logging == LoggingSettings(level="DEBUG", format="json")


def test_custom_resources_and_overrides_are_parsed_into_frozen_records(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        """
        resources:
          custom:
            - name: certificates
              group: cert-manager.io
              version: v1
              kind: Certificate
              namespaced: true
              icon: "🔐"
              fields: {ready: "status.conditions[?type=='Ready'].status", secret: spec.secretName}
              resync_period: 30
              label_selector: "team in (a, b),!canary"
          overrides:
            pods: {resync_period: 300, label_selector: "app==web,tier!=db,env,release notin (x)"}
            nodes: {field_selector: "metadata.name!=node-1,spec.unschedulable=", keep_raw: true}
            events:
        """,
    )
    resources = settings.resources
    (certificates,) = resources.custom
    assert certificates.api_version == "cert-manager.io/v1"
    assert certificates.namespaced is True
    assert dict(certificates.fields) == {
        "ready": "status.conditions[?type=='Ready'].status",
        "secret": "spec.secretName",
    }
    assert resources.overrides_for("certificates") == ResourceOverrides(
        resync_period=30.0, label_selector="team in (a, b),!canary"
    )
    assert resources.overrides["pods"].label_selector == "app==web,tier!=db,env,release notin (x)"
    assert resources.resync_period_for("pods") == 300.0
    assert resources.resync_period_for("deployments") == 600.0
    assert resources.overrides_for("nodes").keep_raw is True
    assert resources.overrides_for("events") == ResourceOverrides()
    with pytest.raises(TypeError):
        resources.overrides["jobs"] = ResourceOverrides()  # type: ignore[index]


def test_selection_helpers_apply_include_then_exclude(tmp_path: Path) -> None:
    everything = _load(tmp_path, "resources: {exclude: [secrets], overrides: {jobs: {}}}")
    assert everything.resources.selects("pods")
    assert not everything.resources.selects("secrets")
    assert everything.resources.referenced_names() == (
        ("resources.exclude[0]", "secrets"),
        ("resources.overrides.jobs", "jobs"),
    )
    some = _load(tmp_path, "resources: {include: [pods, nodes]}")
    assert some.resources.selects("nodes")
    assert not some.resources.selects("deployments")
    assert some.resources.referenced_names() == (
        ("resources.include[0]", "pods"),
        ("resources.include[1]", "nodes"),
    )


def test_yaml_yes_and_no_are_booleans(tmp_path: Path) -> None:
    settings = _load(tmp_path, "health: {auto_reconnect: no}\napi: {enabled: yes}\n")
    assert settings.health.auto_reconnect is False
    assert settings.api.enabled is True


def test_the_log_level_is_case_insensitive_and_normalised(tmp_path: Path) -> None:
    assert _load(tmp_path, "logging: {level: warning}").logging.level == "WARNING"


# --- values that are rejected, with the exact message ------------------------------------------

CUSTOM_OK = (
    "{name: certificates, group: cert-manager.io, version: v1, kind: Certificate, namespaced: true}"
)
MONGO = "backend: {kind: mongo, uri: 'mongodb://db.internal'"

REJECTED = {
    "a backend kind that does not exist": (
        "backend: {kind: postgres}",
        "backend.kind: must be one of mongo, sqlite (got 'postgres')",
    ),
    "a batch size of zero": ("writer: {batch_size: 0}", "writer.batch_size: must be > 0 (got 0)"),
    "a boolean where an integer belongs": (
        "writer: {batch_size: true}",
        "writer.batch_size: must be an integer (got true)",
    ),
    "a float where an integer belongs": (
        "writer: {batch_size: 1.5}",
        "writer.batch_size: must be an integer (got 1.5)",
    ),
    "a word where seconds belong": (
        "health: {interval: soon}",
        "health.interval: must be a number of seconds (got 'soon')",
    ),
    "a quoted number of seconds": (
        "health: {interval: '30'}",
        "health.interval: must be a number of seconds (got '30')",
    ),
    "a negative duration": (
        "health: {retry_delay: -1}",
        "health.retry_delay: must be > 0 seconds (got -1)",
    ),
    "a negative drain timeout": (
        "writer: {drain_timeout: -0.5}",
        "writer.drain_timeout: must be >= 0 seconds (got -0.5)",
    ),
    "a zero interval": ("health: {interval: 0}", "health.interval: must be > 0 seconds (got 0)"),
    "an infinite duration": (
        "writer: {flush_interval: .inf}",
        "writer.flush_interval: must be a finite number of seconds (got inf)",
    ),
    "a resync period below client-go's one second minimum": (
        "resources: {resync_period: 0.5}",
        "resources.resync_period: must be 0 (off) or >= 1 second (got 0.5)",
    ),
    "a quoted true": (
        "health: {auto_reconnect: 'true'}",
        "health.auto_reconnect: must be true or false (got 'true')",
    ),
    "a number where a boolean belongs": (
        "api: {enabled: 1}",
        "api.enabled: must be true or false (got 1)",
    ),
    "a port above 65535": (
        "api: {port: 70000}",
        "api.port: must be between 0 and 65535 (got 70000)",
    ),
    "a negative port": ("api: {port: -1}", "api.port: must be between 0 and 65535 (got -1)"),
    "a quoted port": ("api: {port: '8080'}", "api.port: must be an integer (got '8080')"),
    "a misspelt key": (
        "api: {hots: 0.0.0.0}",
        "api.hots: unknown key (known: enabled, host, port, token_file, metrics_port, "
        "metrics_require_token); did you mean 'host'?",
    ),
    "a misspelt section": (
        "logs: {level: INFO}",
        "logs: unknown key (known: cluster, backend, resources, writer, api, health, logging); "
        "did you mean 'logging'?",
    ),
    "an unknown key with nothing close": (
        "writer: {zzz: 1}",
        "writer.zzz: unknown key (known: batch_size, flush_interval, drain_timeout)",
    ),
    "a host with a space": (
        "api: {host: 'my host'}",
        "api.host: must be an IP address or a host name (got 'my host')",
    ),
    "the metrics port equal to the api port": (
        "api: {port: 9000, metrics_port: 9000}",
        "api.metrics_port: must differ from api.port (9000); leave it null to serve /metrics "
        "on api.port",
    ),
    "a token required on metrics without a token": (
        "api: {metrics_require_token: true}",
        "api.metrics_require_token: needs api.token_file",
    ),
    "a log level that does not exist": (
        "logging: {level: verbose}",
        "logging.level: must be one of DEBUG, INFO, WARNING, ERROR (got 'verbose')",
    ),
    "a log format that does not exist": (
        "logging: {format: xml}",
        "logging.format: must be one of text, json (got 'xml')",
    ),
    "in-cluster together with a kubeconfig": (
        "cluster: {in_cluster: true, kubeconfig: /etc/kubeconfig}",
        "cluster.kubeconfig: must be null when cluster.in_cluster is true",
    ),
    "in-cluster together with a context": (
        "cluster: {in_cluster: true, context: prod}",
        "cluster.context: must be null when cluster.in_cluster is true",
    ),
    "an empty context": ("cluster: {context: ''}", "cluster.context: must not be empty"),
    "a cluster name with a space": (
        "cluster: {name: 'eu 1'}",
        "cluster.name: must be 1-63 letters, digits, '.', '_' or '-', starting and ending "
        "alphanumeric (got 'eu 1')",
    ),
    "a mongo key on the sqlite backend": (
        "backend: {uri: 'mongodb://db'}",
        "backend.uri: does not apply to backend.kind sqlite",
    ),
    "a sqlite key on the mongo backend": (
        f"{MONGO}, path: x.db}}",
        "backend.path: does not apply to backend.kind mongo",
    ),
    "an in-memory sqlite database": (
        "backend: {path: ':memory:'}",
        "backend.path: must be a file: the mirror is shared by threads and restarts",
    ),
    "an inline uri with a password": (
        "backend: {kind: mongo, uri: 'mongodb://app:pw@db.internal/'}",
        "backend.uri: contains a password; use uri_env or uri_file",
    ),
    "an inline uri with a password option": (
        "backend: {kind: mongo, uri: 'mongodb://db/?tls=true&tlsCertificateKeyFilePassword=x'}",
        "backend.uri: contains a password; use uri_env or uri_file",
    ),
    "a uri without a host": (
        "backend: {kind: mongo, uri: 'mongodb://'}",
        "backend.uri: has no host (got 'mongodb://')",
    ),
    "a uri with an empty host in its list": (
        "backend: {kind: mongo, uri: 'mongodb://a:27017,,b'}",
        "backend.uri: has no host (got 'mongodb://a:27017,,b')",
    ),
    "a uri that is not mongodb": (
        "backend: {kind: mongo, uri: 'postgres://db'}",
        "backend.uri: must start with mongodb:// or mongodb+srv:// (got 'postgres://db')",
    ),
    "an srv uri with a port": (
        "backend: {kind: mongo, uri: 'mongodb+srv://cluster0.example.net:27017'}",
        "backend.uri: must name exactly one host and no port with mongodb+srv:// "
        "(got 'mongodb+srv://cluster0.example.net:27017')",
    ),
    "a uri with a bad port": (
        "backend: {kind: mongo, uri: 'mongodb://db:99999'}",
        "backend.uri: has an invalid port (must be 1-65535) (got 'mongodb://db:99999')",
    ),
    "two uri sources": (
        f"{MONGO}, uri_env: MONGO_URI}}",
        "backend: set only one of uri, uri_env, uri_file (got uri, uri_env)",
    ),
    "a uri_env that is no variable name": (
        "backend: {kind: mongo, uri_env: 1-URI}",
        "backend.uri_env: must be an environment variable name (got '1-URI')",
    ),
    "a database name with a dot": (
        f"{MONGO}, database: a.b}}",
        "backend.database: must be a MongoDB database name (no /\\. \"$) (got 'a.b')",
    ),
    "a negative write concern": (
        f"{MONGO}, write_concern: {{w: -1}}}}",
        "backend.write_concern.w: must be >= 0 (got -1)",
    ),
    "a boolean write concern": (
        f"{MONGO}, write_concern: {{w: true}}}}",
        "backend.write_concern.w: must be a number of members or a mode name such as "
        "'majority' (got true)",
    ),
    "a non-mapping section": ("writer: [500]", "writer: must be a mapping (got a list)"),
    "a list at the top level": (
        "- cluster\n- backend\n",
        "top level: must be a mapping (got a list)",
    ),
    "a word at the top level": ("hello\n", "top level: must be a mapping (got 'hello')"),
    "a number as a key": ("api: {1: x}", "api: keys must be strings (got 1)"),
    "a retry cap below the retry delay": (
        "health: {retry_delay: 10, max_retry_delay: 5}",
        "health.max_retry_delay: must be >= health.retry_delay (10) (got 5.0)",
    ),
    "zero retries": ("health: {max_retries: 0}", "health.max_retries: must be > 0 (got 0)"),
    "an include that is not a list": (
        "resources: {include: pods}",
        "resources.include: must be a list (got 'pods')",
    ),
    "a capitalised resource name": (
        "resources: {include: [Pods]}",
        "resources.include[0]: must be a plural resource name: lower-case letters, digits and "
        "'-' (e.g. 'pods') (got 'Pods')",
    ),
    "all together with names": (
        "resources: {include: [all, pods]}",
        "resources.include: 'all' cannot be combined with resource names",
    ),
    "an empty include": (
        "resources: {include: []}",
        "resources.include: must name at least one resource, or be [all]",
    ),
    "a name listed twice": (
        "resources: {include: [pods, nodes, pods]}",
        "resources.include[2]: is listed twice (got 'pods')",
    ),
    "excluding all": (
        "resources: {exclude: [all]}",
        "resources.exclude[0]: cannot be 'all': list the resources to skip",
    ),
    "a name both included and excluded": (
        "resources: {include: [pods], exclude: [pods]}",
        "resources.exclude[0]: is also listed in resources.include (got 'pods')",
    ),
    "a namespace with an underscore": (
        "resources: {namespaces: [my_ns]}",
        "resources.namespaces[0]: must be a namespace name (a lower-case DNS label) (got 'my_ns')",
    ),
    "namespaces and excluded namespaces together": (
        "resources: {namespaces: [a], exclude_namespaces: [b]}",
        "resources.exclude_namespaces: cannot be combined with resources.namespaces: list only "
        "the namespaces to mirror",
    ),
    "an annotation key with a space": (
        "resources: {strip_annotations: ['my note']}",
        "resources.strip_annotations[0]: must be an annotation key such as 'example.com/x' "
        "(got 'my note')",
    ),
    "a custom group without a dot": (
        f"resources: {{custom: [{CUSTOM_OK}, {{name: widgets, group: widgets, version: v1, "
        "kind: Widget, namespaced: false}]}",
        "resources.custom[1].group: must be an API group: a DNS subdomain with a dot, e.g. "
        "'example.com' (got 'widgets')",
    ),
    "a custom version that is no version": (
        "resources: {custom: [{name: widgets, group: example.com, version: v1beta, kind: Widget, "
        "namespaced: true}]}",
        "resources.custom[0].version: must be an API version such as v1, v1beta1, v2alpha3 "
        "(got 'v1beta')",
    ),
    "a custom kind in lower case": (
        "resources: {custom: [{name: widgets, group: example.com, version: v1, kind: widget, "
        "namespaced: true}]}",
        "resources.custom[0].kind: must be a CamelCase kind such as 'Certificate' (got 'widget')",
    ),
    "a custom resource without namespaced": (
        "resources: {custom: [{name: widgets, group: example.com, version: v1, kind: Widget}]}",
        "resources.custom[0].namespaced: is required",
    ),
    "a custom resource with a quoted namespaced": (
        "resources: {custom: [{name: widgets, group: example.com, version: v1, kind: Widget, "
        "namespaced: 'yes'}]}",
        "resources.custom[0].namespaced: must be true or false (got 'yes')",
    ),
    "two custom resources with one name": (
        f"resources: {{custom: [{CUSTOM_OK}, {CUSTOM_OK}]}}",
        "resources.custom[1].name: is already used by resources.custom[0] (got 'certificates')",
    ),
    "a custom field name starting with a digit": (
        "resources: {custom: [{name: widgets, group: example.com, version: v1, kind: Widget, "
        "namespaced: true, fields: {1st: spec.x}}]}",
        "resources.custom[0].fields.1st: must be a field name: letters, digits and '_', not a "
        "digit first",
    ),
    "a custom field path that is not a string": (
        "resources: {custom: [{name: widgets, group: example.com, version: v1, kind: Widget, "
        "namespaced: true, fields: {size: 5}}]}",
        "resources.custom[0].fields.size: must be a string (got 5)",
    ),
    "a custom resource with an unknown key": (
        "resources: {custom: [{name: widgets, plural: widgets}]}",
        "resources.custom[0].plural: unknown key (known: name, group, version, kind, namespaced, "
        "icon, fields, resync_period, label_selector, field_selector, keep_raw)",
    ),
    "a label selector with an open parenthesis": (
        "resources: {overrides: {pods: {label_selector: 'tier in (a,b'}}}",
        "resources.overrides.pods.label_selector: is not a label selector: has unbalanced "
        "parentheses",
    ),
    "a label selector with a space in a key": (
        "resources: {overrides: {pods: {label_selector: 'my app=web'}}}",
        "resources.overrides.pods.label_selector: is not a label selector: requirement "
        "'my app=web' is not key=value, key!=value, key in (...), key notin (...), key or !key",
    ),
    "a field selector without an operator": (
        "resources: {overrides: {pods: {field_selector: status.phase}}}",
        "resources.overrides.pods.field_selector: is not a field selector: requirement "
        "'status.phase' is not 'field=value' or 'field!=value'",
    ),
    "an override for a capitalised name": (
        "resources: {overrides: {Pods: {resync_period: 5}}}",
        "resources.overrides.Pods: must be a plural resource name: lower-case letters, digits "
        "and '-' (e.g. 'pods')",
    ),
    "an override with a misspelt key": (
        "resources: {overrides: {pods: {resync: 5}}}",
        "resources.overrides.pods.resync: unknown key (known: resync_period, label_selector, "
        "field_selector, keep_raw); did you mean 'resync_period'?",
    ),
    "an override of a custom resource": (
        f"resources: {{custom: [{CUSTOM_OK}], overrides: {{certificates: {{keep_raw: true}}}}}}",
        "resources.overrides.certificates: is a custom resource: set these keys on its "
        "resources.custom entry",
    ),
}


@pytest.mark.parametrize(("text", "message"), REJECTED.values(), ids=REJECTED.keys())
def test_an_invalid_value_is_rejected_with_its_field_path_and_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    assert _error(tmp_path, text) == message


# --- paths ------------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_files_directory(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "token").write_text("t0ken\n")
    settings = _load(
        tmp_path,
        """
        cluster: {kubeconfig: kube/../kubeconfig}
        backend: {path: data/mirror.db}
        api: {token_file: secrets/token}
        """,
    )
    assert settings.cluster.kubeconfig == tmp_path / "kubeconfig"
    assert settings.backend == SqliteBackendSettings(path=tmp_path / "data" / "mirror.db")
    assert settings.api.token_file == tmp_path / "secrets" / "token"
    assert settings.api.token == "t0ken"


def test_a_tilde_means_the_home_directory(tmp_path: Path) -> None:
    settings = _load(tmp_path, "backend: {path: ~/mirror.db}")
    assert settings.backend == SqliteBackendSettings(path=Path(HOME, "mirror.db"))


def test_parse_settings_resolves_paths_against_the_given_directory(tmp_path: Path) -> None:
    settings = parse_settings({"backend": {"path": "m.db"}}, env=ENV, base_dir=tmp_path)
    assert settings.backend == SqliteBackendSettings(path=tmp_path / "m.db")
    assert settings.config_file is None


def test_a_null_kubeconfig_is_the_first_path_in_kubeconfig_like_kubectl(tmp_path: Path) -> None:
    env = {**ENV, "KUBECONFIG": f"{os.pathsep}/first/config{os.pathsep}/second/config"}
    assert _load(tmp_path, "", env).cluster.kubeconfig == Path("/first/config")


def test_without_kubeconfig_variable_the_kubeconfig_is_in_the_home_directory(
    tmp_path: Path,
) -> None:
    settings = _load(tmp_path, "cluster: {kubeconfig: null}", {"HOME": str(tmp_path)})
    assert settings.cluster.kubeconfig == tmp_path / ".kube" / "config"


def test_in_cluster_settings_have_no_kubeconfig(tmp_path: Path) -> None:
    settings = _load(tmp_path, "cluster: {in_cluster: true}", {**ENV, "KUBECONFIG": "/x"})
    assert settings.cluster.kubeconfig is None
    assert settings.cluster.in_cluster is True


def test_load_settings_reads_the_process_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "from-env"))
    settings = load_settings(_write(tmp_path, ""))
    assert settings.cluster.kubeconfig == tmp_path / "from-env"


# --- secrets ----------------------------------------------------------------------------------


def test_the_mongo_uri_comes_from_the_default_environment_variable(tmp_path: Path) -> None:
    env = {**ENV, "INFORMER_MIRROR_MONGO_URI": " mongodb://db.internal:27017/ \n"}
    backend = _load(tmp_path, "backend: {kind: mongo}", env).backend
    assert isinstance(backend, MongoBackendSettings)
    assert backend.uri == "mongodb://db.internal:27017/"
    assert backend.uri_env == "INFORMER_MIRROR_MONGO_URI"
    assert backend.database == "informer_mirror"
    assert backend.write_concern == WriteConcernSettings(w=1, j=False)
    assert backend.timeout == 10.0


def test_the_mongo_uri_comes_from_a_named_environment_variable(tmp_path: Path) -> None:
    env = {**ENV, "MIRROR_DB": "mongodb+srv://cluster0.example.net/?retryWrites=true"}
    backend = _load(
        tmp_path,
        "backend: {kind: mongo, uri_env: MIRROR_DB, database: k8s, "
        "write_concern: {w: majority, j: true}, timeout: 2.5}",
        env,
    ).backend
    assert isinstance(backend, MongoBackendSettings)
    assert backend.uri == "mongodb+srv://cluster0.example.net/?retryWrites=true"
    assert (backend.database, backend.timeout) == ("k8s", 2.5)
    assert backend.write_concern == WriteConcernSettings(w="majority", j=True)


def test_the_mongo_uri_comes_from_a_file_read_at_load_time(tmp_path: Path) -> None:
    (tmp_path / "mongo-uri").write_text("mongodb://app:pw@db-1:27017,db-2:27017/?replicaSet=rs0\n")
    backend = _load(tmp_path, "backend: {kind: mongo, uri_file: mongo-uri}").backend
    assert isinstance(backend, MongoBackendSettings)
    assert backend.uri == "mongodb://app:pw@db-1:27017,db-2:27017/?replicaSet=rs0"
    assert backend.uri_file == tmp_path / "mongo-uri"
    assert backend.redacted_uri == "mongodb://app:***@db-1:27017,db-2:27017/?replicaSet=rs0"


def test_an_inline_uri_without_a_password_is_accepted(tmp_path: Path) -> None:
    backend = _load(tmp_path, "backend: {kind: mongo, uri: 'mongodb://user@[::1]:27017/'}").backend
    assert isinstance(backend, MongoBackendSettings)
    assert backend.uri == backend.redacted_uri == "mongodb://user@[::1]:27017/"


def test_a_missing_uri_variable_is_an_error_naming_it(tmp_path: Path) -> None:
    assert _error(tmp_path, "backend: {kind: mongo}") == (
        "backend.uri_env: environment variable INFORMER_MIRROR_MONGO_URI is not set or is empty"
    )


def test_an_unreadable_uri_file_is_an_error_naming_the_field_and_file(tmp_path: Path) -> None:
    assert _error(tmp_path, "backend: {kind: mongo, uri_file: nope}") == (
        f"backend.uri_file: cannot read {tmp_path / 'nope'}: No such file or directory"
    )


def test_an_empty_uri_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "uri").write_text("  \n")
    assert _error(tmp_path, "backend: {kind: mongo, uri_file: uri}") == (
        f"backend.uri_file: {tmp_path / 'uri'} is empty"
    )


def test_a_bad_uri_from_the_environment_is_reported_without_its_value(tmp_path: Path) -> None:
    env = {**ENV, "INFORMER_MIRROR_MONGO_URI": "postgres://u:hunter2-planted@db/"}
    message = _error(tmp_path, "backend: {kind: mongo}", env)
    assert message == (
        "backend.uri_env: the URI in INFORMER_MIRROR_MONGO_URI must start with mongodb:// or "
        "mongodb+srv://"
    )


def test_an_inline_password_never_appears_in_the_error(tmp_path: Path) -> None:
    message = _error(tmp_path, "backend: {kind: mongo, uri: 'mongodb://u:pa/ss-planted@h'}")
    assert "planted" not in message
    assert message == "backend.uri: contains a password; use uri_env or uri_file"


def test_the_api_token_is_read_from_its_file_and_stripped(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("\n abc.def \n")
    settings = _load(tmp_path, "api: {token_file: token, metrics_require_token: true}")
    assert settings.api.token == "abc.def"
    assert settings.api.metrics_require_token is True


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "cannot read {path}: No such file or directory"), ("\n", "{path} is empty")],
    ids=["missing", "empty"],
)
def test_a_missing_or_empty_token_file_is_an_error(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)
    message = _error(tmp_path, "api: {token_file: token}")
    assert message == "api.token_file: " + problem.format(path=path)


def test_a_directory_as_token_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "token").mkdir()
    assert _error(tmp_path, "api: {token_file: token}").startswith("api.token_file: cannot read")


def test_no_secret_appears_in_repr_str_or_the_public_dict(tmp_path: Path) -> None:
    password = "planted-PASSWORD-7f3a9c"
    token = "planted-TOKEN-d41d8cd9"
    (tmp_path / "token").write_text(token)
    env = {**ENV, "MONGO": f"mongodb://mirror:{password}@db-1,db-2/?authSource=admin"}
    settings = _load(
        tmp_path, "backend: {kind: mongo, uri_env: MONGO}\napi: {token_file: token}", env
    )
    assert isinstance(settings.backend, MongoBackendSettings)
    assert password in settings.backend.uri
    assert settings.api.token == token
    public = settings.to_public_dict()
    shown = [repr(settings), str(settings), repr(settings.backend), repr(settings.api)]
    for text in [*shown, json.dumps(public)]:
        assert password not in text
        assert token not in text
    assert public["backend"]["uri"] == "mongodb://mirror:***@db-1,db-2/?authSource=admin"
    assert public["api"]["token"] == "***"
    assert public["api"]["token_file"] == str(tmp_path / "token")


def test_the_public_dict_is_plain_json_of_every_section(tmp_path: Path) -> None:
    settings = _load(
        tmp_path, f"resources: {{custom: [{CUSTOM_OK}], overrides: {{pods: {{keep_raw: true}}}}}}"
    )
    public = json.loads(json.dumps(settings.to_public_dict()))
    assert set(public) == {*TOP_LEVEL_KEYS, "runtime", "config_file"}
    assert public["resources"]["custom"][0]["name"] == "certificates"
    assert public["resources"]["overrides"]["pods"]["keep_raw"] is True
    assert public["api"]["token"] is None


# --- the file itself --------------------------------------------------------------------------


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    message = _error(tmp_path, "api:\n  port: 8080\n  host: [127.0.0.1\nwriter: {}\n")
    path = tmp_path / "informer-mirror.yaml"
    assert message.startswith(f"{path}: invalid YAML at line 4, column ")


def test_a_duplicate_key_is_an_error_naming_its_line(tmp_path: Path) -> None:
    message = _error(tmp_path, "api:\n  port: 1\n  port: 2\n")
    assert message.startswith(f"{tmp_path / 'informer-mirror.yaml'}: invalid YAML at line 3,")
    assert "duplicate key 'port'" in message


def test_keys_merged_from_an_anchor_may_be_overridden(tmp_path: Path) -> None:
    text = "x-base: &base {port: 1, host: localhost}\napi: {<<: *base, port: 2}\n"
    path = _write(tmp_path, text)
    assert _error(tmp_path, text).startswith("x-base: unknown key")
    # The same construct is fine inside a known section.
    path.write_text("api:\n  <<: {port: 1, host: localhost}\n  port: 2\n")
    assert load_settings(path, env=ENV).api.port == 2


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "absent.yaml", env=ENV)
    assert str(caught.value) == (
        f"{tmp_path / 'absent.yaml'}: cannot read the configuration: No such file or directory"
    )


def test_a_file_that_is_not_utf8_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("cluster: {name: caf\xe9}\n".encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env=ENV)
    assert str(caught.value) == f"{path}: not UTF-8 text (bad byte at offset 19)"


def test_python_specific_yaml_tags_are_refused(tmp_path: Path) -> None:
    message = _error(tmp_path, "api: !!python/object/apply:os.system ['true']\n")
    assert "invalid YAML at line 1" in message


# --- the environment systemd provides ---------------------------------------------------------


def test_systemd_variables_are_read_into_the_runtime_section(tmp_path: Path) -> None:
    env = {
        **ENV,
        "JOURNAL_STREAM": "8:12345",
        "NOTIFY_SOCKET": "/run/systemd/notify",
        "WATCHDOG_USEC": "30000000",
        "WATCHDOG_PID": str(os.getpid()),
    }
    runtime = _load(tmp_path, "", env).runtime
    assert runtime.journal_stream == "8:12345"
    assert runtime.notify_socket == "/run/systemd/notify"
    assert runtime.watchdog_interval == 30.0


def test_a_watchdog_meant_for_another_process_is_ignored(tmp_path: Path) -> None:
    env = {**ENV, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert _load(tmp_path, "", env).runtime.watchdog_interval is None


def test_a_malformed_watchdog_interval_is_an_error(tmp_path: Path) -> None:
    assert _error(tmp_path, "", {**ENV, "WATCHDOG_USEC": "soon"}) == (
        "$WATCHDOG_USEC: must be a positive number of microseconds (got 'soon')"
    )


# --- the shipped configuration files ----------------------------------------------------------

EXAMPLE = CONFIG_DIR / "informer-mirror.yaml"


def _commented_example(text: str, title: str) -> str:
    """The YAML of the commented-out block ``# [example: <title>] ... # [end of example]``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if f"# [example: {title}]" in line)
    end = next(i for i in range(start, len(lines)) if "# [end of example]" in lines[i])
    body = [re.sub(r"^(\s*)# ?", r"\1", line, count=1) for line in lines[start + 1 : end]]
    return textwrap.dedent("\n".join(body))


def test_the_demo_config_loads_with_sqlite_in_a_local_path_and_the_api_on_localhost() -> None:
    settings = load_settings(CONFIG_DIR / "demo.yaml", env=ENV)
    assert isinstance(settings.backend, SqliteBackendSettings)
    assert settings.backend.path.is_relative_to(CONFIG_DIR.parent)
    assert (settings.api.host, settings.api.port) == ("127.0.0.1", 8080)


def test_the_production_example_loads() -> None:
    settings = load_settings(EXAMPLE, env=ENV)
    assert settings.cluster.name == "prod-eu1"
    assert isinstance(settings.backend, SqliteBackendSettings)


def test_the_examples_mongo_alternative_loads_with_its_variable_set(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    data = load_settings(EXAMPLE, env=ENV).to_public_dict()  # proves the rest is valid too
    assert data["backend"]["kind"] == "sqlite"
    config = tmp_path / "informer-mirror.yaml"
    active = text.split("\nbackend:\n", 1)
    rest = active[1].split("\n\n", 1)[1]  # drop the active backend section
    config.write_text(active[0] + "\n" + _commented_example(text, "MongoDB backend") + "\n" + rest)
    env = {**ENV, "INFORMER_MIRROR_MONGO_URI": "mongodb://mirror:pw@db/"}
    backend = load_settings(config, env=env).backend
    assert isinstance(backend, MongoBackendSettings)
    assert backend.uri == "mongodb://mirror:pw@db/"


def test_the_examples_custom_resource_loads(tmp_path: Path) -> None:
    block = _commented_example(EXAMPLE.read_text(encoding="utf-8"), "a custom resource")
    custom = yaml.safe_load(block)["custom"]
    settings = parse_settings({"resources": {"custom": custom}}, env=ENV, base_dir=tmp_path)
    (certificates,) = settings.resources.custom
    assert certificates.kind == "Certificate"
    assert set(certificates.fields) == {"ready", "secret"}


def test_the_example_documents_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    keys = {
        *TOP_LEVEL_KEYS,
        *sections.CLUSTER_KEYS,
        *sections.SQLITE_KEYS,
        *sections.MONGO_KEYS,
        *sections.WRITE_CONCERN_KEYS,
        *sections.WRITER_KEYS,
        *sections.API_KEYS,
        *sections.HEALTH_KEYS,
        *sections.LOGGING_KEYS,
        *resource_sections.RESOURCES_KEYS,
        *resource_sections.OVERRIDE_KEYS,
        *resource_sections.CUSTOM_KEYS,
    }
    missing = [k for k in sorted(keys) if not re.search(rf"^[\s#-]*{k}:", text, re.MULTILINE)]
    assert missing == []


# --- robustness -------------------------------------------------------------------------------

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=2)
    | st.binary(max_size=8)
    | st.dates()
    | st.datetimes()
    | st.sampled_from(["", "~", "~nosuchuser/x", "/", ".", "all", "pods", "mongodb://", "v1"])
)
JUNK = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=3)
    ),
    max_leaves=6,
)

KEY_PATHS: list[tuple[str, tuple[Any, ...]]] = [
    *[("sqlite", ("cluster", k)) for k in sections.CLUSTER_KEYS],
    *[("sqlite", ("backend", k)) for k in sections.SQLITE_KEYS],
    *[("mongo", ("backend", k)) for k in sections.MONGO_KEYS],
    *[("mongo", ("backend", "write_concern", k)) for k in sections.WRITE_CONCERN_KEYS],
    *[("sqlite", ("writer", k)) for k in sections.WRITER_KEYS],
    *[("sqlite", ("api", k)) for k in sections.API_KEYS],
    *[("sqlite", ("health", k)) for k in sections.HEALTH_KEYS],
    *[("sqlite", ("logging", k)) for k in sections.LOGGING_KEYS],
    *[("sqlite", ("resources", k)) for k in resource_sections.RESOURCES_KEYS],
    *[("sqlite", ("resources", "custom", 0, k)) for k in resource_sections.CUSTOM_KEYS],
    *[("sqlite", ("resources", "overrides", "pods", k)) for k in resource_sections.OVERRIDE_KEYS],
    *[("sqlite", (k,)) for k in TOP_LEVEL_KEYS],
]


def _valid_data(kind: str) -> dict[str, Any]:
    backend = {"kind": "mongo", "uri_env": "MONGO"} if kind == "mongo" else {"kind": "sqlite"}
    return {
        "backend": backend,
        "resources": {"custom": [dict(CERTIFICATES)], "overrides": {"pods": {"keep_raw": True}}},
    }


@pytest.fixture(scope="module")
def junk_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("junk")
    (directory / "token").write_text("t")
    return directory


@hypothesis_settings(max_examples=300, deadline=None)
@given(where=st.sampled_from(KEY_PATHS), value=JUNK)
def test_junk_at_any_known_key_is_a_config_error_and_never_another_exception(
    junk_dir: Path, where: tuple[str, tuple[Any, ...]], value: object
) -> None:
    kind, path = where
    data = _valid_data(kind)
    parse_settings(data, env={**ENV, "MONGO": "mongodb://db"}, base_dir=junk_dir)  # valid as is
    node: Any = data
    for step in path[:-1]:
        node = node.setdefault(step, {}) if isinstance(step, str) else node[step]
    node[path[-1]] = value
    try:
        settings = parse_settings(data, env={**ENV, "MONGO": "mongodb://db"}, base_dir=junk_dir)
    except ConfigError as e:
        assert str(e).split(":", 1)[0]  # the message starts with a field path
    else:
        json.dumps(settings.to_public_dict())


@hypothesis_settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=200) | JUNK.map(lambda data: json.dumps(data, default=str)))
def test_any_file_content_gives_settings_or_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    with contextlib.suppress(ConfigError):
        load_settings(path, env=ENV)

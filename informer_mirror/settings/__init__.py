"""Configuration: one YAML file -> frozen, validated dataclasses (the first box of the data flow).

``load_settings(path)`` reads the file once at start-up on the main thread; the composition root
hands each section to the component it configures, and no thread ever changes it. Every error is a
:class:`~informer_mirror.errors.ConfigError` whose message starts with the field path
(``writer.batch_size: must be > 0 (got 0)``) or, for an unreadable or malformed file, the file
name and line. This package is the only code that reads ``os.environ``: $KUBECONFIG and $HOME for
the kubeconfig, the MongoDB URI variable, and the systemd variables (``Settings.runtime``).

Modules: ``model`` and ``resources`` (the dataclasses and their defaults), ``loader`` (file, YAML,
top level, environment), ``sections`` and ``resource_sections`` (one parser per section),
``values`` (typed reading and the error wording), ``syntax`` (name and selector grammars),
``secrets`` (MongoDB URI and token sources, masking).

To add a key: a field with default and docstring on the dataclass, the key in its section's
``*_KEYS`` tuple and parser, a commented line in ``config/informer-mirror.yaml`` and a line in the
README reference (``tests/test_settings.py`` checks that the example names every key).
"""

from informer_mirror.settings.loader import TOP_LEVEL_KEYS, load_settings, parse_settings
from informer_mirror.settings.model import (
    DEFAULT_CONFIG_PATH,
    DEFAULT_MONGO_URI_ENV,
    ApiSettings,
    BackendSettings,
    ClusterSettings,
    HealthSettings,
    LogFormat,
    LoggingSettings,
    LogLevel,
    MongoBackendSettings,
    RuntimeEnvironment,
    Settings,
    SqliteBackendSettings,
    WriteConcernSettings,
    WriterSettings,
)
from informer_mirror.settings.resources import (
    ALL,
    ALWAYS_STRIPPED_ANNOTATIONS,
    CustomResourceSettings,
    ResourceOverrides,
    ResourcesSettings,
)
from informer_mirror.settings.secrets import MASK, redact_mongo_uri

__all__ = [
    "ALL",
    "ALWAYS_STRIPPED_ANNOTATIONS",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_MONGO_URI_ENV",
    "MASK",
    "TOP_LEVEL_KEYS",
    "ApiSettings",
    "BackendSettings",
    "ClusterSettings",
    "CustomResourceSettings",
    "HealthSettings",
    "LogFormat",
    "LogLevel",
    "LoggingSettings",
    "MongoBackendSettings",
    "ResourceOverrides",
    "ResourcesSettings",
    "RuntimeEnvironment",
    "Settings",
    "SqliteBackendSettings",
    "WriteConcernSettings",
    "WriterSettings",
    "load_settings",
    "parse_settings",
    "redact_mongo_uri",
]

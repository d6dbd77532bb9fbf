"""Loading the configuration: file -> YAML -> validated :class:`Settings`.

Place in the data flow: the entry point of the settings package, called once at start-up on the
main thread (``run``, ``demo``, ``check-config``) before any other thread exists. Owns file
reading and YAML parsing (errors name the file, line and column), the top-level keys, and the
reading of the process environment: together with the section parsers it is the only code in
informer-mirror that touches ``os.environ`` (``tests/test_layering.py`` enforces it).
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from pathlib import Path

import yaml

from informer_mirror.errors import ConfigError
from informer_mirror.settings.model import RuntimeEnvironment, Settings
from informer_mirror.settings.resource_sections import parse_resources
from informer_mirror.settings.sections import (
    parse_api,
    parse_backend,
    parse_cluster,
    parse_health,
    parse_logging,
    parse_writer,
)
from informer_mirror.settings.values import Context, Section, fail

TOP_LEVEL_KEYS = ("cluster", "backend", "resources", "writer", "api", "health", "logging")


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key repeated in one mapping is an error: silently
    keeping the last one would hide half of an operator's edit."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Hashable, object]:
    seen: dict[tuple[str, str], yaml.Node] = {}
    for key_node, _value in node.value:
        # Only this mapping's own scalar keys: keys merged in with `<<` may be overridden.
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            identity = (key_node.tag, key_node.value)
            if identity in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key_node.value!r}",
                    key_node.start_mark,
                )
            seen[identity] = key_node
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_settings(
    path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None
) -> Settings:
    """Read, parse and validate the configuration file at ``path``.

    ``env`` stands in for the process environment (default: ``os.environ``). Relative paths in
    the file are relative to the file's directory. An empty file gives the defaults. Raises
    ConfigError, whose message names the file (unreadable, not YAML) or the field path.
    """
    file = Path(path).absolute()
    try:
        data = file.read_bytes()
    except OSError as e:
        raise ConfigError(f"{file}: cannot read the configuration: {e.strerror or e}") from e
    except ValueError as e:  # a path the OS cannot represent (NUL byte)
        raise ConfigError(f"{file!s}: cannot read the configuration: {e}") from e
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{file}: not UTF-8 text (bad byte at offset {e.start})") from e
    return _parse(
        _parse_yaml(text, file),
        env=os.environ if env is None else env,
        base_dir=file.parent,
        config_file=file,
    )


def parse_settings(data: object, *, env: Mapping[str, str], base_dir: Path) -> Settings:
    """Validate already-parsed YAML ``data`` (None = empty file = all defaults).

    ``base_dir`` is the directory relative paths resolve against; ``env`` is the environment
    consulted for $KUBECONFIG, $HOME, a ``uri_env`` variable and the systemd variables.
    """
    return _parse(data, env=env, base_dir=base_dir, config_file=None)


def _parse_yaml(text: str, file: Path) -> object:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = e.problem or e.context or "malformed YAML"
        raise ConfigError(f"{file}: invalid YAML at {where}: {problem}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{file}: invalid YAML: {e}") from e
    except RecursionError as e:
        raise ConfigError(f"{file}: invalid YAML: nested too deeply") from e


def _parse(
    data: object, *, env: Mapping[str, str], base_dir: Path, config_file: Path | None
) -> Settings:
    top = Section(data, "", Settings, TOP_LEVEL_KEYS)
    ctx = Context(env=env, base_dir=Path(base_dir).absolute())
    return Settings(
        cluster=parse_cluster(top.raw("cluster"), ctx),
        backend=parse_backend(top.raw("backend"), ctx),
        resources=parse_resources(top.raw("resources")),
        writer=parse_writer(top.raw("writer")),
        api=parse_api(top.raw("api"), ctx),
        health=parse_health(top.raw("health")),
        logging=parse_logging(top.raw("logging")),
        runtime=_runtime(env, os.getpid()),
        config_file=config_file,
    )


def _runtime(env: Mapping[str, str], pid: int) -> RuntimeEnvironment:
    watchdog: float | None = None
    usec = env.get("WATCHDOG_USEC")
    owner = env.get("WATCHDOG_PID")
    # systemd sets WATCHDOG_PID so that a child does not take its parent's watchdog for its own.
    if usec and (not owner or owner == str(pid)):
        if not (usec.isascii() and usec.isdigit() and 0 < len(usec) <= 15 and int(usec) > 0):
            fail("$WATCHDOG_USEC", "must be a positive number of microseconds", got=usec)
        watchdog = int(usec) / 1_000_000
    return RuntimeEnvironment(
        journal_stream=env.get("JOURNAL_STREAM") or None,
        notify_socket=env.get("NOTIFY_SOCKET") or None,
        watchdog_interval=watchdog,
    )

"""Secrets in the configuration: where the MongoDB URI and the API token come from, and masking.

Place in the data flow: the settings loader calls this at start-up (main thread only). It owns the
rules that keep a credential out of the config file itself, out of ``repr()`` and out of every
error message: a message about a secret names the field and its source (a variable name, a file
path), never the value. MongoDB URIs are parsed here by hand, not with pymongo, because pymongo
may be imported only by ``backends/mongo.py``; the backend re-parses the URI when it connects.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl

from informer_mirror.errors import ConfigError

MASK = "***"
"""What a secret is replaced with wherever settings are shown."""

MAX_SECRET_FILE_BYTES = 64 * 1024
"""A secret file larger than this is a wrong path (a log, a binary), not a token or a URI."""

_SCHEMES = ("mongodb://", "mongodb+srv://")


def _split(uri: str) -> tuple[str, str, str, str]:
    """``scheme://userinfo@hosts/rest`` -> (scheme, userinfo, hosts, rest); "" where absent.

    The userinfo ends at the LAST ``@`` before the query, so an unescaped ``/`` or ``@`` in a
    password still counts as part of the password (and is never shown as a host).
    """
    scheme, sep, remainder = uri.partition("://")
    if not sep:
        return "", "", "", uri
    head, q, query = remainder.partition("?")
    userinfo, _at, after = head.rpartition("@")
    hosts, slash, path = after.partition("/")
    return scheme + sep, userinfo, hosts, f"{slash}{path}{q}{query}"


def _password_options(rest: str) -> list[str]:
    """Names of URI options that carry a password (``tlsCertificateKeyFilePassword``, ...)."""
    _path, _q, query = rest.partition("?")
    return [
        name for name, _ in parse_qsl(query, keep_blank_values=True) if "password" in name.lower()
    ]


def has_password(uri: str) -> bool:
    """True when the URI carries a credential: ``user:password@`` or a ``...Password=`` option."""
    _scheme, userinfo, _hosts, rest = _split(uri)
    _user, colon, password = userinfo.partition(":")
    return bool(colon and password) or bool(_password_options(rest))


def redact_mongo_uri(uri: str) -> str:
    """The URI with its password and any password-bearing option replaced by :data:`MASK`."""
    scheme, userinfo, hosts, rest = _split(uri)
    if not scheme:
        return MASK
    user, colon, _password = userinfo.partition(":")
    shown = f"{user}:{MASK}@" if colon else (f"{user}@" if userinfo else "")
    path, q, query = rest.partition("?")
    if q:
        options = [
            f"{name}={MASK if 'password' in name.lower() else value}"
            for name, value in parse_qsl(query, keep_blank_values=True)
        ]
        path = f"{path}?{'&'.join(options)}"
    return f"{scheme}{shown}{hosts}{path}"


def mongo_uri_problem(uri: str) -> str | None:
    """What is wrong with a MongoDB URI, phrased so it never needs to quote the URI; or None."""
    if not uri.startswith(_SCHEMES):
        return "must start with mongodb:// or mongodb+srv://"
    scheme, _userinfo, hosts, _rest = _split(uri)
    host_list = hosts.split(",")
    if not hosts or not all(host_list):
        return "has no host"
    if any(char.isspace() for char in hosts):
        return "has white space in its host list"
    if scheme == "mongodb+srv://":
        if len(host_list) != 1 or ":" in hosts:
            return "must name exactly one host and no port with mongodb+srv://"
        return None
    for host in host_list:
        _name, colon, port = host.rpartition(":") if not host.endswith("]") else ("", "", "")
        if colon and not (port.isdigit() and 1 <= int(port) <= 65535):
            return "has an invalid port (must be 1-65535)"
    return None


def secret_from_env(env: Mapping[str, str], name: str, field_path: str) -> str:
    """The stripped value of environment variable ``name``; ConfigError if unset or empty."""
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{field_path}: environment variable {name} is not set or is empty")
    return value


def read_secret_file(path: Path, field_path: str) -> str:
    """The stripped text of a secret file; ConfigError naming the field if unreadable or empty."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"{field_path}: cannot read {path}: {e.strerror or e}") from e
    except ValueError as e:  # a path the OS cannot even represent (NUL byte, lone surrogate)
        raise ConfigError(f"{field_path}: cannot read {path!r}: {e}") from e
    if len(data) > MAX_SECRET_FILE_BYTES:
        raise ConfigError(
            f"{field_path}: {path} is larger than {MAX_SECRET_FILE_BYTES} bytes; "
            "expected a single secret"
        )
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError as e:
        raise ConfigError(f"{field_path}: {path} is not UTF-8 text") from e
    if not text:
        raise ConfigError(f"{field_path}: {path} is empty")
    return text

"""Syntax of the names and selectors a configuration file may hold: pure predicates, no I/O.

Place in the data flow: the settings loader calls these at start-up (main thread, before any other
thread exists) to reject a malformed value before anything connects; the registry may reuse them.
Owns the regular expressions, kept to what the Kubernetes API server itself accepts
(apimachinery's validation), so a file that passes here is not rejected later by the cluster.
"""

from __future__ import annotations

import ipaddress
import re

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_HOST_LABEL = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?")
_QUALIFIED_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_API_VERSION = re.compile(r"v[1-9][0-9]*((alpha|beta)[1-9][0-9]*)?")
_KIND = re.compile(r"[A-Z][A-Za-z0-9]*")
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELD_PATH = re.compile(r"[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*")
# MongoDB forbids these in database names on every platform (Windows adds none we allow).
_MONGO_DATABASE = re.compile(r'[^/\\. "$*<>:|?\x00]{1,63}')

_LABEL_KEY = r"[^\s!=(),]+"
_SET_REQUIREMENT = re.compile(rf"(?P<key>{_LABEL_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)")
_EQUALITY_REQUIREMENT = re.compile(rf"(?P<key>{_LABEL_KEY})\s*(?:==|!=|=)\s*(?P<value>[^\s,=!()]*)")
_ABSENT_REQUIREMENT = re.compile(rf"!\s*(?P<key>{_LABEL_KEY})")
_FIELD_REQUIREMENT = re.compile(r"(?P<path>[^\s!=,]+)\s*(?:==|!=|=)\s*(?P<value>[^,]*)")


def is_dns_label(text: str) -> bool:
    """RFC 1123 label (a namespace name): lower-case alphanumerics and ``-``, at most 63."""
    return len(text) <= 63 and _DNS_LABEL.fullmatch(text) is not None


def is_resource_name(text: str) -> bool:
    """Plural resource name (``pods``, ``certificates``): an RFC 1035 label, as CRDs require."""
    return len(text) <= 63 and _DNS_1035_LABEL.fullmatch(text) is not None


def is_dns_subdomain(text: str) -> bool:
    """RFC 1123 subdomain: dot-separated labels, at most 253 characters."""
    return 0 < len(text) <= 253 and all(is_dns_label(label) for label in text.split("."))


def is_api_group(text: str) -> bool:
    """A custom resource's API group: a subdomain with at least one dot (``cert-manager.io``)."""
    return "." in text and is_dns_subdomain(text)


def is_api_version(text: str) -> bool:
    """``v1``, ``v1beta1``, ``v2alpha3``: the version pattern Kubernetes sorts and serves."""
    return _API_VERSION.fullmatch(text) is not None


def is_kind(text: str) -> bool:
    """CamelCase kind such as ``Certificate``."""
    return len(text) <= 63 and _KIND.fullmatch(text) is not None


def is_field_name(text: str) -> bool:
    """A document field name a custom resource may define: safe in MongoDB and SQLite JSON."""
    return len(text) <= 64 and _FIELD_NAME.fullmatch(text) is not None


def is_env_name(text: str) -> bool:
    """A portable environment variable name."""
    return _ENV_NAME.fullmatch(text) is not None


def is_cluster_name(text: str) -> bool:
    """The name stored with every document: 1-63 letters, digits, ``-``, ``_`` and ``.``."""
    return len(text) <= 63 and _QUALIFIED_NAME.fullmatch(text) is not None


def is_mongo_database(text: str) -> bool:
    """A MongoDB database name: 1-63 characters, none of ``/\\. "$*<>:|?``."""
    return _MONGO_DATABASE.fullmatch(text) is not None


def is_qualified_name(text: str) -> bool:
    """A label or annotation key: ``[prefix/]name``, prefix a DNS subdomain, name <= 63."""
    prefix, slash, name = text.rpartition("/")
    if slash and not is_dns_subdomain(prefix):
        return False
    return len(name) <= 63 and _QUALIFIED_NAME.fullmatch(name) is not None


def is_label_value(text: str) -> bool:
    """A label value: empty, or up to 63 alphanumerics with ``-_.`` inside."""
    return text == "" or (len(text) <= 63 and _QUALIFIED_NAME.fullmatch(text) is not None)


def is_host(text: str) -> bool:
    """An IP address (v4 or v6) or a DNS host name to bind to."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        labels = text.split(".")
        return len(text) <= 253 and all(
            len(label) <= 63 and _HOST_LABEL.fullmatch(label) for label in labels
        )
    return True


def label_selector_problem(selector: str) -> str | None:
    """Why ``selector`` is not a label selector, or None when it is one.

    The grammar is the one the simulated cluster and the API server share: comma-separated
    requirements ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k``, ``!k``.
    """
    requirements = _split_outside_parentheses(selector)
    if requirements is None:
        return "has unbalanced parentheses"
    for raw in requirements:
        requirement = raw.strip()
        if not requirement:
            return "has an empty requirement"
        problem = _requirement_problem(requirement)
        if problem is not None:
            return f"requirement {requirement!r} {problem}"
    return None


def field_selector_problem(selector: str) -> str | None:
    """Why ``selector`` is not a field selector (``path=value``, ``==``, ``!=``), or None."""
    for raw in selector.split(","):
        requirement = raw.strip()
        match = _FIELD_REQUIREMENT.fullmatch(requirement)
        if match is None:
            return f"requirement {requirement!r} is not 'field=value' or 'field!=value'"
        if _FIELD_PATH.fullmatch(match["path"]) is None:
            return f"requirement {requirement!r} has no field path such as 'metadata.name'"
    return None


def _requirement_problem(requirement: str) -> str | None:
    key: str
    values: list[str]
    if (match := _SET_REQUIREMENT.fullmatch(requirement)) is not None:
        key = match["key"]
        values = [v.strip() for v in match["values"].split(",")]
        if not all(values):
            return "needs one or more values in its parentheses"
    elif (match := _EQUALITY_REQUIREMENT.fullmatch(requirement)) is not None:
        key, values = match["key"], [match["value"]]
    elif (match := _ABSENT_REQUIREMENT.fullmatch(requirement)) is not None:
        key, values = match["key"], []
    elif re.fullmatch(_LABEL_KEY, requirement):
        key, values = requirement, []
    else:
        return "is not key=value, key!=value, key in (...), key notin (...), key or !key"
    if not is_qualified_name(key):
        return f"has an invalid label key {key!r}"
    bad = next((v for v in values if not is_label_value(v)), None)
    if bad is not None:
        return f"has an invalid label value {bad!r}"
    return None


def _split_outside_parentheses(text: str) -> list[str] | None:
    parts: list[str] = []
    depth = 0
    start = 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return None
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    if depth != 0:
        return None
    parts.append(text[start:])
    return parts

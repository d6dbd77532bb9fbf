"""Label and field selectors of the simulated API server, parsed and matched as the real one does.

Place in the data flow: the HTTP layer (``sim/handler.py``, on a request thread) parses the
``labelSelector`` and ``fieldSelector`` query parameters into one :class:`Selector`;
``ClusterState`` (under its lock) matches stored objects against it for lists, and for watches
decides per event whether a watcher sees ADDED, MODIFIED or DELETED. Objects never reach this
module: the state keeps, per stored object, its labels and its *selectable fields*
(:func:`selectable_fields`, the apiserver's ``GetAttrs``), computed once when the object is
written.

Grammar (``k8s.io/apimachinery/pkg/labels`` and ``pkg/fields``):

- labels: comma-separated requirements, all of which must hold: ``k=v``, ``k==v``, ``k!=v`` (also
  true when ``k`` is absent), ``k in (a,b)``, ``k notin (a,b)`` (also true when absent), ``k``
  (exists), ``!k`` (does not exist), ``k>5``, ``k<5`` (integer comparison). Keys must be qualified
  names, values valid label values; anything else raises :class:`SelectorError`. The parser is
  ``informer_mirror.selectors`` (shared with the backends); this module adds field selectors.
- fields: comma-separated ``f=v``, ``f==v``, ``f!=v``; ``\\,``, ``\\=`` and ``\\\\`` escape. Only
  the fields the kind supports (``metadata.name``, ``metadata.namespace`` for namespaced kinds,
  plus a few per built-in kind such as ``spec.nodeName`` and ``status.phase`` for Pods) may be
  used; others raise :class:`SelectorError` ``field label not supported: ...`` as the real server
  does.

Pure functions and immutable values; any thread may call them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from informer_mirror.errors import SelectorError
from informer_mirror.kinds import KindInfo
from informer_mirror.selectors import LabelRequirement, parse_label_selector

# Label selectors are parsed by ``informer_mirror.selectors``, shared with the backends, which
# answer the REST API's labelSelector with the same grammar; re-exported here for the sim's users.
__all__ = [
    "EVERYTHING",
    "FieldRequirement",
    "LabelRequirement",
    "Selector",
    "SelectorError",
    "parse_field_selector",
    "parse_label_selector",
    "selectable_fields",
    "supported_fields",
]


# -- fields -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """One term of a field selector, e.g. ``metadata.namespace!=kube-system``."""

    field: str
    equal: bool
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        """True when the object's selectable ``fields`` satisfy this term."""
        return (fields.get(self.field, "") == self.value) is self.equal


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    buf: list[str] = []
    escaped = False
    for c in text:
        if escaped:
            buf.append("\\" + c)
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == sep:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(c)
    if escaped:
        raise SelectorError(f"invalid field selector: '{text}': trailing backslash")
    parts.append("".join(buf))
    return parts


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if nxt not in ("\\", ",", "="):
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{nxt}")
            out.append(nxt)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _find_unescaped(term: str, op: str) -> int:
    i = 0
    while i < len(term):
        if term[i] == "\\":
            i += 2
            continue
        if term.startswith(op, i):
            return i
        i += 1
    return -1


def parse_field_selector(text: str, supported: frozenset[str]) -> tuple[FieldRequirement, ...]:
    """Parse a ``fieldSelector`` value against the fields the kind supports."""
    reqs: list[FieldRequirement] = []
    for term in _split_unescaped(text, ","):
        if not term:
            continue
        for op in ("!=", "==", "="):
            at = _find_unescaped(term, op)
            if at >= 0:
                field = _unescape(term[:at]).strip()
                value = _unescape(term[at + len(op) :])
                break
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        if field not in supported:
            raise SelectorError(f"field label not supported: {field}")
        reqs.append(FieldRequirement(field, op != "!=", value))
    return tuple(reqs)


# -- selectable fields per kind (the apiserver's GetAttrs / field label conversion) -------------

FieldGetter = Callable[[dict[str, Any]], Any]


def _path(*keys: str) -> FieldGetter:
    def get(obj: dict[str, Any]) -> Any:
        cur: Any = obj
        for k in keys:
            if not isinstance(cur, dict):
                return None
            cur = cur.get(k)
        return cur

    return get


_KIND_FIELDS: dict[tuple[str, str], dict[str, FieldGetter]] = {
    ("", "pods"): {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": _path("spec", "hostNetwork"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    ("", "nodes"): {"spec.unschedulable": _path("spec", "unschedulable")},
    ("", "namespaces"): {"status.phase": _path("status", "phase")},
    ("", "secrets"): {"type": _path("type")},
    ("", "services"): {
        "spec.clusterIP": _path("spec", "clusterIP"),
        "spec.type": _path("spec", "type"),
    },
    ("", "events"): {
        "involvedObject.kind": _path("involvedObject", "kind"),
        "involvedObject.namespace": _path("involvedObject", "namespace"),
        "involvedObject.name": _path("involvedObject", "name"),
        "involvedObject.uid": _path("involvedObject", "uid"),
        "involvedObject.apiVersion": _path("involvedObject", "apiVersion"),
        "involvedObject.resourceVersion": _path("involvedObject", "resourceVersion"),
        "involvedObject.fieldPath": _path("involvedObject", "fieldPath"),
        "reason": _path("reason"),
        "reportingComponent": _path("reportingComponent"),
        "source": _path("source", "component"),
        "type": _path("type"),
    },
    ("apps", "replicasets"): {"status.replicas": _path("status", "replicas")},
    ("batch", "jobs"): {"status.successful": _path("status", "succeeded")},
}


def supported_fields(kind: KindInfo) -> frozenset[str]:
    """Field selector labels the real API server accepts for ``kind`` (a subset, see module doc)."""
    base = {"metadata.name", "metadata.namespace"} if kind.namespaced else {"metadata.name"}
    return frozenset(base | set(_KIND_FIELDS.get((kind.group, kind.plural), {})))


def _field_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def selectable_fields(kind: KindInfo, obj: dict[str, Any]) -> dict[str, str]:
    """The values of every supported field of ``obj``; absent fields read as ``""``."""
    meta = obj.get("metadata") or {}
    fields = {"metadata.name": _field_str(meta.get("name"))}
    if kind.namespaced:
        fields["metadata.namespace"] = _field_str(meta.get("namespace"))
    for name, getter in _KIND_FIELDS.get((kind.group, kind.plural), {}).items():
        fields[name] = _field_str(getter(obj))
    return fields


# -- the combined selector ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Selector:
    """A parsed label selector and field selector; an object must satisfy both."""

    labels: tuple[LabelRequirement, ...] = ()
    fields: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        """True when the selector selects everything (the real server then reports
        ``remainingItemCount`` on paginated lists)."""
        return not self.labels and not self.fields

    def matches(self, labels: Mapping[str, str], fields: Mapping[str, str]) -> bool:
        """True when both the label requirements and the field terms hold."""
        return all(r.matches(labels) for r in self.labels) and all(
            f.matches(fields) for f in self.fields
        )

    @classmethod
    def parse(
        cls, kind: KindInfo, *, label_selector: str = "", field_selector: str = ""
    ) -> Selector:
        """Parse both query parameters for ``kind``; raises :class:`SelectorError` when invalid."""
        return cls(
            labels=parse_label_selector(label_selector) if label_selector else (),
            fields=parse_field_selector(field_selector, supported_fields(kind))
            if field_selector
            else (),
        )


EVERYTHING = Selector()
"""The selector that matches every object."""

"""ResourceSpec: one mirrored resource type, and the one call that turns its objects into documents.

Place in the data flow: built once at start-up by ``build_registry`` (main thread), then read-only.
The informer uses a spec's identity (group/version/plural, scope, selectors, resync period) to list
and watch, and its transform (:meth:`ResourceSpec.transform_for`) as the Store's ingest hook, which
runs on the reflector thread; the writer and backends use ``collection`` and ``indexes``; the API
generates one blueprint per spec. The only mutable part of a spec is its :class:`TransformFailures`
tally, which is thread-safe.

The document (:meth:`ResourceSpec.to_document`) is what the Store holds and the backend stores:
the common metadata fields (``COMMON_FIELDS``), then the kind-specific fields the transformer
extracts, then ``raw`` when ``keep_raw`` is on. ``to_document`` is total: whatever the input, it
returns a document; a transformer failure leaves the metadata plus ``transformError``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from informer_mirror.errors import ConfigError
from informer_mirror.kinds import KindInfo
from informer_mirror.registry.failures import TransformFailures
from informer_mirror.registry.redaction import raw_view
from informer_mirror.registry.transformers.common import (
    MIRROR_FIELD,
    Doc,
    Obj,
    Transformer,
    TransformOptions,
    common_fields,
    object_key,
)
from informer_mirror.settings.syntax import (
    is_api_version,
    is_dns_subdomain,
    is_kind,
    is_resource_name,
)

COLLECTION_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
"""A collection/table name safe unquoted in SQL and as a MongoDB collection name. Names starting
with ``_`` are left to the backends' own bookkeeping."""
INDEX_FIELD_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")
"""A document field an index may name: top-level or dotted into a sub-document."""

RESERVED_API_NAMES: frozenset[str] = frozenset(
    {"status", "resources", "stats", "health", "namespace", "namespaces", "openapi.json", "metrics"}
)
"""Segments under ``/api/v1/`` the API serves itself; a resource may not be named after one.
The built-in Namespace resource is the one exception for ``namespaces`` (the API's
``/api/v1/namespaces/{ns}/{resource}`` routes are deeper and do not clash with its list)."""

DEFAULT_ICON = "📦"


def _default_transformer(_obj: Obj, _options: TransformOptions) -> Doc:
    return {}


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceSpec:
    """One resource type the mirror lists, watches, stores and serves."""

    name: str
    """Plural resource name: the Kubernetes URL segment (``pods``) and the REST API's."""
    group: str
    """API group; ``""`` for the core group."""
    version: str
    """API version within the group (``v1``)."""
    kind: str
    """Object kind (``Pod``)."""
    namespaced: bool
    """True when objects live in namespaces."""
    icon: str = DEFAULT_ICON
    """A short symbol for listings (``informer-mirror resources``, ``/api/v1/resources``)."""
    transformer: Transformer = _default_transformer
    """Kind-specific fields of the document; see ``transformers.common`` for the contract."""
    collection: str = ""
    """Backend collection/table name; ``""`` derives it from ``name`` (``-`` becomes ``_``)."""
    indexes: tuple[tuple[str, ...], ...] = ()
    """Compound indexes (tuples of document fields) beyond every backend's defaults."""
    resync_period: float | None = None
    """Seconds between resyncs (cache -> backend repair, no API call); ``None`` uses the global
    ``resources.resync_period``; 0 disables resync. ``build_registry`` fills in the effective
    value, so specs in a Registry always have a number here."""
    label_selector: str | None = None
    """Server-side label selector restricting what is mirrored (``app=web,tier!=cache``)."""
    field_selector: str | None = None
    """Server-side field selector restricting what is mirrored (``status.phase!=Succeeded``)."""
    keep_raw: bool = False
    """Also store the raw object under ``raw`` (managedFields stripped; Secrets redacted)."""
    input_schema: type | None = None
    """What ``transformer`` reads of an object, as a TypedDict over ``apitypes`` (e.g.
    ``transformers.pods.PodInput``): objects are decoded into it and nothing else, see
    :attr:`decode_schema`. None: the whole object."""
    redact_values: bool = False
    """The payload is confidential (Secrets): annotation values and ``raw`` data become sizes."""
    options: TransformOptions = field(default_factory=TransformOptions)
    """Transformer knobs from the configuration (annotation deny-list, ConfigMap value cap)."""
    source: str = field(default="", compare=False)
    """Where the spec was declared, as a config field path (``resources.custom[0]``), so
    validation errors name the field to fix; ``""`` for built-ins (named ``builtin[<name>]``)."""
    failures: TransformFailures = field(init=False, compare=False, repr=False)
    """Transformer failures of this resource (read by metrics and /status)."""

    def __post_init__(self) -> None:
        if not self.collection:
            object.__setattr__(self, "collection", self.name.replace("-", "_"))
        object.__setattr__(self, "failures", TransformFailures(self.name))

    @property
    def api_version(self) -> str:
        """``apiVersion`` of this resource's objects: ``v1`` or ``apps/v1``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def kind_info(self) -> KindInfo:
        """The resource's identity as ``kinds.KindInfo`` (what the sim and kube/ speak)."""
        return KindInfo(
            group=self.group,
            version=self.version,
            plural=self.name,
            singular=self.kind.lower(),
            kind=self.kind,
            namespaced=self.namespaced,
        )

    @property
    def decode_schema(self) -> type | None:
        """The schema to decode this resource's objects into (``kube/decode.py``): the
        transformer's :attr:`input_schema`, unless ``keep_raw`` wants the whole object."""
        return None if self.keep_raw else self.input_schema

    @property
    def where(self) -> str:
        """The config path prefix used in this spec's error messages."""
        return self.source or f"builtin[{self.name}]"

    def to_document(self, obj: Obj, *, cluster: str) -> Doc:
        """The stored document for raw object ``obj``. Never raises, never mutates ``obj``."""
        # common_fields and raw_view are total by construction (tested on arbitrary input);
        # only the transformer, which may be anyone's code, is guarded
        doc = self._common(obj, cluster)
        try:
            fields = self.transformer(obj, self.options)
            if not isinstance(fields, dict):  # update() could apply part of an iterable
                raise TypeError(f"transformer returned {type(fields).__name__}, not dict")
            expected = len(doc) + len(fields)
            doc.update(fields)
            if len(doc) != expected:  # the transformer set a common field: common metadata wins
                doc.update(self._common(obj, cluster))
            if MIRROR_FIELD in fields:  # the writer's own field (see MIRROR_FIELD)
                del doc[MIRROR_FIELD]
        except Exception as exc:  # noqa: BLE001 - pitfall 10: one odd object must not stop sync
            doc["transformError"] = self.failures.record(object_key(obj), exc)
        if self.keep_raw:
            doc["raw"] = raw_view(
                obj, deny=self.options.annotation_deny_list, redact=self.redact_values
            )
        return doc

    def _common(self, obj: Obj, cluster: str) -> Doc:
        return common_fields(
            obj,
            kind=self.kind,
            api_version=self.api_version,
            cluster=cluster,
            options=self.options,
            redact_values=self.redact_values,
        )

    def transform_for(self, cluster: str) -> Callable[[Obj], Doc]:
        """The Store's ingest transform for this resource: ``obj -> to_document(obj, cluster)``."""
        return partial(self.to_document, cluster=cluster)


def validate_spec(spec: ResourceSpec) -> None:
    """Check one spec's own fields; raise ConfigError naming ``<source>.<field>``."""
    where = spec.where
    if not is_resource_name(spec.name):
        raise ConfigError(
            f"{where}.name: must be a lower-case plural resource name like 'certificates' "
            f"(letters, digits, '-'; at most 63 characters) (got {spec.name!r})"
        )
    if spec.name in RESERVED_API_NAMES and not (spec.group == "" and spec.kind == "Namespace"):
        raise ConfigError(
            f"{where}.name: {spec.name!r} collides with the API path /api/v1/{spec.name}"
        )
    if spec.group and not is_dns_subdomain(spec.group):
        raise ConfigError(
            f"{where}.group: must be a DNS subdomain like 'cert-manager.io' (got {spec.group!r})"
        )
    if not is_api_version(spec.version):
        raise ConfigError(
            f"{where}.version: must look like v1, v1beta1 or v2alpha3 (got {spec.version!r})"
        )
    if not is_kind(spec.kind):
        raise ConfigError(
            f"{where}.kind: must be CamelCase starting with an upper-case letter, like "
            f"'Certificate' (got {spec.kind!r})"
        )
    if not spec.icon or len(spec.icon) > 16:
        raise ConfigError(f"{where}.icon: must be 1 to 16 characters (got {spec.icon!r})")
    if not COLLECTION_RE.fullmatch(spec.collection) or spec.collection.startswith("sqlite_"):
        raise ConfigError(
            f"{where}.collection: must be lower-case letters, digits and '_' starting with a "
            f"letter, at most 63 characters, not starting with 'sqlite_' (got {spec.collection!r})"
        )
    for n, index in enumerate(spec.indexes):
        if not index or not all(INDEX_FIELD_RE.fullmatch(f) for f in index):
            raise ConfigError(
                f"{where}.indexes[{n}]: must be a non-empty list of document field names "
                f"(got {index!r})"
            )
    if spec.resync_period is not None and not (
        math.isfinite(spec.resync_period) and spec.resync_period >= 0
    ):
        raise ConfigError(
            f"{where}.resync_period: must be >= 0 seconds (got {spec.resync_period!r})"
        )

"""Custom resources (CRDs) from configuration alone: ``resources.custom`` entries -> ResourceSpecs.

Place in the data flow: ``build_registry`` (main thread, start-up) calls :func:`custom_specs`,
which compiles every ``fields`` path (a syntax error is a ConfigError naming the field) and builds
the spec. The resulting :class:`FieldExtractor` is the spec's transformer, run on the resource's
reflector thread; it is immutable and total.

A custom resource's document is the common metadata plus one top-level field per ``fields`` entry,
holding whatever the path finds (``None`` when absent). Values are taken as they are in the object
(strings, numbers, or whole sub-objects when a path stops at one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from informer_mirror.errors import ConfigError
from informer_mirror.registry.paths import FieldPath, compile_path
from informer_mirror.registry.spec import ResourceSpec
from informer_mirror.registry.transformers.common import (
    RESERVED_FIELDS,
    Doc,
    Obj,
    TransformOptions,
)
from informer_mirror.settings import CustomResourceSettings

DEFAULT_CUSTOM_ICON = "🧩"


@dataclass(frozen=True, slots=True)
class FieldExtractor:
    """The transformer of a custom resource: ``{field: path.extract(obj)}`` for each field."""

    fields: tuple[tuple[str, FieldPath], ...]

    def __call__(self, obj: Obj, _options: TransformOptions) -> Doc:
        return {name: path.extract(obj) for name, path in self.fields}


def compile_fields(entry: CustomResourceSettings, where: str) -> FieldExtractor:
    """Compile ``entry.fields``; reject names the common metadata already uses."""
    compiled: list[tuple[str, FieldPath]] = []
    for name, text in entry.fields.items():
        field_where = f"{where}.fields.{name}"
        if name in RESERVED_FIELDS or name.startswith("_"):
            raise ConfigError(
                f"{field_where}: {name!r} is a field every document already has "
                f"(reserved: {', '.join(sorted(RESERVED_FIELDS))}, and names starting with '_')"
            )
        compiled.append((name, compile_path(text, where=field_where)))
    return FieldExtractor(tuple(compiled))


def custom_specs(
    entries: Sequence[CustomResourceSettings], options: TransformOptions
) -> tuple[ResourceSpec, ...]:
    """One spec per ``resources.custom`` entry, in file order (selectors and resync applied
    later, with the built-ins', by ``selection.select``)."""
    specs: list[ResourceSpec] = []
    for n, entry in enumerate(entries):
        where = f"resources.custom[{n}]"
        specs.append(
            ResourceSpec(
                name=entry.name,
                group=entry.group,
                version=entry.version,
                kind=entry.kind,
                namespaced=entry.namespaced,
                icon=entry.icon or DEFAULT_CUSTOM_ICON,
                transformer=compile_fields(entry, where),
                options=options,
                source=where,
            )
        )
    return tuple(specs)

"""Parser for the ``resources:`` section: selection, custom resources, per-resource overrides.

Place in the data flow: called by ``loader.parse_settings`` at start-up (main thread). Owns the
syntax checks on resource, namespace, group, version and kind names and on selectors, and the
rules that relate the lists to each other. Whether a name is a kind that exists is the registry's
question (see ``ResourcesSettings.referenced_names``).
"""

from __future__ import annotations

from types import MappingProxyType

from informer_mirror.settings import syntax
from informer_mirror.settings.resources import (
    ALL,
    ALWAYS_STRIPPED_ANNOTATIONS,
    CustomResourceSettings,
    ResourceOverrides,
    ResourcesSettings,
)
from informer_mirror.settings.values import (
    Section,
    boolean,
    fail,
    items,
    join,
    mapping,
    names,
    resync_seconds,
    string,
)

RESOURCES_KEYS = (
    "include",
    "exclude",
    "namespaces",
    "exclude_namespaces",
    "resync_period",
    "strip_annotations",
    "custom",
    "overrides",
)
OVERRIDE_KEYS = ("resync_period", "label_selector", "field_selector", "keep_raw")
CUSTOM_KEYS = ("name", "group", "version", "kind", "namespaced", "icon", "fields", *OVERRIDE_KEYS)

_RESOURCE_RULE = "a plural resource name: lower-case letters, digits and '-' (e.g. 'pods')"
_resource_names = names(syntax.is_resource_name, _RESOURCE_RULE)
_namespace_names = names(syntax.is_dns_label, "a namespace name (a lower-case DNS label)")
_annotation_keys = names(syntax.is_qualified_name, "an annotation key such as 'example.com/x'")
_resource_name = string(syntax.is_resource_name, _RESOURCE_RULE)
_icon = string(lambda text: len(text) <= 16, "a short string such as an emoji (16 characters)")


def _label_selector(value: object, path: str) -> str:
    selector = string()(value, path)
    problem = syntax.label_selector_problem(selector)
    if problem is not None:
        fail(path, f"is not a label selector: {problem}")
    return selector


def _field_selector(value: object, path: str) -> str:
    selector = string()(value, path)
    problem = syntax.field_selector_problem(selector)
    if problem is not None:
        fail(path, f"is not a field selector: {problem}")
    return selector


def parse_resources(raw: object) -> ResourcesSettings:
    """``resources:``."""
    s = Section(raw, "resources", ResourcesSettings, RESOURCES_KEYS)
    include = s.get(
        "include", names(lambda n: n == ALL or syntax.is_resource_name(n), _RESOURCE_RULE)
    )
    if not include:
        fail("resources.include", "must name at least one resource, or be [all]")
    if ALL in include and len(include) > 1:
        fail("resources.include", "'all' cannot be combined with resource names")
    exclude = s.get("exclude", _resource_names)
    for index, name in enumerate(exclude):
        if name == ALL:
            fail(f"resources.exclude[{index}]", "cannot be 'all': list the resources to skip")
        if name in include:
            fail(f"resources.exclude[{index}]", "is also listed in resources.include", got=name)
    namespaces = s.get("namespaces", _namespace_names)
    exclude_namespaces = s.get("exclude_namespaces", _namespace_names)
    if namespaces and exclude_namespaces:
        fail(
            "resources.exclude_namespaces",
            "cannot be combined with resources.namespaces: list only the namespaces to mirror",
        )
    extra_annotations = s.get("strip_annotations", _annotation_keys)
    custom = _parse_custom_list(s.raw("custom"))
    return ResourcesSettings(
        include=include,
        exclude=exclude,
        namespaces=namespaces,
        exclude_namespaces=exclude_namespaces,
        resync_period=s.get("resync_period", resync_seconds),
        strip_annotations=tuple(dict.fromkeys((*ALWAYS_STRIPPED_ANNOTATIONS, *extra_annotations))),
        custom=custom,
        overrides=_parse_overrides_map(s.raw("overrides"), {c.name for c in custom}),
    )


def _parse_custom_list(raw: object) -> tuple[CustomResourceSettings, ...]:
    if raw is None:
        return ()
    entries: list[CustomResourceSettings] = []
    for index, item in enumerate(items(raw, "resources.custom")):
        path = f"resources.custom[{index}]"
        entry = _parse_custom(item, path)
        earlier = next((i for i, e in enumerate(entries) if e.name == entry.name), None)
        if earlier is not None:
            fail(f"{path}.name", f"is already used by resources.custom[{earlier}]", got=entry.name)
        entries.append(entry)
    return tuple(entries)


def _parse_custom(raw: object, path: str) -> CustomResourceSettings:
    s = Section(raw, path, CustomResourceSettings, CUSTOM_KEYS)
    return CustomResourceSettings(
        name=s.required("name", _resource_name),
        group=s.required(
            "group",
            string(
                syntax.is_api_group, "an API group: a DNS subdomain with a dot, e.g. 'example.com'"
            ),
        ),
        version=s.required(
            "version", string(syntax.is_api_version, "an API version such as v1, v1beta1, v2alpha3")
        ),
        kind=s.required("kind", string(syntax.is_kind, "a CamelCase kind such as 'Certificate'")),
        namespaced=s.required("namespaced", boolean),
        icon=s.optional("icon", _icon),
        fields=_parse_fields(s.raw("fields"), f"{path}.fields"),
        resync_period=s.optional("resync_period", resync_seconds),
        label_selector=s.optional("label_selector", _label_selector),
        field_selector=s.optional("field_selector", _field_selector),
        keep_raw=s.get("keep_raw", boolean),
    )


def _parse_fields(raw: object, path: str) -> MappingProxyType[str, str]:
    fields: dict[str, str] = {}
    for name, value in mapping(raw, path).items():
        if not syntax.is_field_name(name):
            fail(
                join(path, name), "must be a field name: letters, digits and '_', not a digit first"
            )
        fields[name] = string()(value, join(path, name))
    return MappingProxyType(fields)


def _parse_overrides_map(
    raw: object, custom_names: set[str]
) -> MappingProxyType[str, ResourceOverrides]:
    overrides: dict[str, ResourceOverrides] = {}
    for name, value in mapping(raw, "resources.overrides").items():
        path = join("resources.overrides", name)
        if not syntax.is_resource_name(name):
            fail(path, f"must be {_RESOURCE_RULE}")
        if name in custom_names:
            fail(path, "is a custom resource: set these keys on its resources.custom entry")
        s = Section(value, path, ResourceOverrides, OVERRIDE_KEYS)
        overrides[name] = ResourceOverrides(
            resync_period=s.optional("resync_period", resync_seconds),
            label_selector=s.optional("label_selector", _label_selector),
            field_selector=s.optional("field_selector", _field_selector),
            keep_raw=s.get("keep_raw", boolean),
        )
    return MappingProxyType(overrides)

"""Architecture rules that a reviewer would otherwise have to remember (ARCHITECTURE.md §3, §4).

Each third-party client is imported in one place only, and only settings.py reads the environment.
The rules are checked on the source with ``ast``, so they hold for code paths no test executes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "informer_mirror"

# top-level module -> the package paths (relative to informer_mirror/) allowed to import it
ALLOWED_IMPORTERS: dict[str, tuple[str, ...]] = {
    "kubernetes": ("kube/",),
    "pymongo": ("backends/mongo.py", "backends/mongo/"),
    "bson": ("backends/mongo.py", "backends/mongo/"),
    "flask": ("api/",),
    "werkzeug": ("api/",),
    "prometheus_client": ("metrics.py", "api/"),
    # the decoder; and the typed views it decodes into, declared beside the transformers that
    # read them (registry/transformers/views.py)
    "msgspec": ("kube/decode.py", "registry/transformers/"),
    "zstandard": ("informer/codec.py",),
}


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        yield rel, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported_top_levels(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def test_the_package_has_modules_to_check() -> None:
    assert len(list(_modules())) >= 5


@pytest.mark.parametrize("library", sorted(ALLOWED_IMPORTERS))
def test_each_third_party_client_is_imported_in_its_own_layer_only(library: str) -> None:
    allowed = ALLOWED_IMPORTERS[library]
    offenders = [
        rel
        for rel, tree in _modules()
        if library in set(_imported_top_levels(tree))
        and not any(rel == a or rel.startswith(a) for a in allowed)
    ]
    assert offenders == [], f"{library} imported outside {allowed}: {offenders}"


def test_only_settings_reads_the_environment() -> None:
    offenders = []
    for rel, tree in _modules():
        if rel in ("settings.py",) or rel.startswith("settings/"):
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("environ", "getenv", "environb")
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
            ):
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == [], f"os.environ read outside settings.py: {offenders}"


def test_every_module_opens_with_a_docstring() -> None:
    missing = [rel for rel, tree in _modules() if ast.get_docstring(tree) is None]
    assert missing == [], f"modules without a docstring: {missing}"


def test_no_library_module_calls_time_sleep() -> None:
    offenders = []
    for rel, tree in _modules():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "sleep"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "time"
            ):
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == [], f"time.sleep in library code (use stop.wait): {offenders}"

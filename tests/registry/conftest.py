"""Fixtures of the registry tests."""

from __future__ import annotations

import pytest

from tests.registry.realistic import Objects, populated_cluster


@pytest.fixture
def cluster_objects() -> Objects:
    """The populated simulated cluster's objects (see ``realistic.populated_cluster``)."""
    return populated_cluster()

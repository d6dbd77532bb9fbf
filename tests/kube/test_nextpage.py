"""A continue page requested ahead (``prefetch_page``), against the simulated API over real HTTP."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from informer_mirror.errors import KubeConnectionError, KubeExpiredError
from informer_mirror.kinds import BUILTIN_BY_PLURAL
from informer_mirror.kube import ApiResource, KubeClient, KubeListerWatcher
from informer_mirror.kube.listwatch import PagePrefetcher
from informer_mirror.sim import SimHandle
from tests.helpers import pod_obj, wait_until

PODS = ApiResource.from_kind(BUILTIN_BY_PLURAL["pods"])


@pytest.fixture
def lw(sim: SimHandle, kubeconfig: Path) -> KubeListerWatcher:
    sim.state.create("namespaces", {"metadata": {"name": "default"}})
    for i in range(5):
        sim.state.create("pods", pod_obj(f"p{i}"))
    sim.faults.clear_requests()
    return KubeListerWatcher(KubeClient.from_kubeconfig(kubeconfig), PODS)


def _lists(sim: SimHandle) -> list[tuple[str, int]]:
    """(query, status) of every list request the sim has received, oldest first."""
    return [(r.query, r.status) for r in sim.faults.requests("/pods") if "watch=" not in r.query]


def _ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("list-ahead/")]


def test_the_real_lister_watcher_can_request_pages_ahead(lw: KubeListerWatcher) -> None:
    assert isinstance(lw, PagePrefetcher)


def test_a_page_requested_ahead_is_answered_before_it_is_asked_for_and_not_requested_again(
    sim: SimHandle, lw: KubeListerWatcher
) -> None:
    first = lw.list_page(resource_version="", limit=2, continue_token=None)
    lw.prefetch_page(limit=2, continue_token=first.continue_token)
    # The server answers the request while the caller is still busy with the first page.
    wait_until(lambda: len(_lists(sim)) == 2 and _lists(sim)[1][1] == 200)
    second = lw.list_page(resource_version=None, limit=2, continue_token=first.continue_token)
    assert [p["metadata"]["name"] for p in second.items] == ["p2", "p3"]
    assert second.continue_token
    assert _lists(sim)[1][0] == f"limit=2&continue={first.continue_token}"
    third = lw.list_page(resource_version=None, limit=2, continue_token=second.continue_token)
    assert [p["metadata"]["name"] for p in third.items] == ["p4"]
    assert len(_lists(sim)) == 3  # one request per page, the one made ahead included
    wait_until(lambda: _ahead_threads() == [])


def test_a_list_with_other_arguments_abandons_the_page_requested_ahead(
    sim: SimHandle, lw: KubeListerWatcher
) -> None:
    first = lw.list_page(resource_version="", limit=2, continue_token=None)
    lw.prefetch_page(limit=2, continue_token=first.continue_token)
    again = lw.list_page(resource_version="", limit=2, continue_token=None)  # a relist instead
    assert [p["metadata"]["name"] for p in again.items] == ["p0", "p1"]
    assert [query for query, _ in _lists(sim)] == [
        "limit=2",
        f"limit=2&continue={first.continue_token}",
        "limit=2",
    ]
    wait_until(lambda: _ahead_threads() == [])
    # Nothing of the abandoned answer is left over for the next call: it makes its own request.
    second = lw.list_page(resource_version=None, limit=2, continue_token=first.continue_token)
    assert [p["metadata"]["name"] for p in second.items] == ["p2", "p3"]
    assert len(_lists(sim)) == 4


def test_an_error_answer_to_a_page_requested_ahead_is_raised_when_it_is_asked_for(
    sim: SimHandle, lw: KubeListerWatcher
) -> None:
    first = lw.list_page(resource_version="", limit=2, continue_token=None)
    sim.faults.expire_history("pods")  # the continue token is now too old
    lw.prefetch_page(limit=2, continue_token=first.continue_token)
    with pytest.raises(KubeExpiredError):
        lw.list_page(resource_version=None, limit=2, continue_token=first.continue_token)
    assert [status for _, status in _lists(sim)] == [200, 410]
    page = lw.list_page(resource_version="", limit=0, continue_token=None)  # the client goes on
    assert len(page.items) == 5


def test_closing_abandons_the_page_requested_ahead(sim: SimHandle, lw: KubeListerWatcher) -> None:
    first = lw.list_page(resource_version="", limit=2, continue_token=None)
    sim.faults.set_delay(0.3)  # the answer arrives after close(): it is shut down then
    lw.prefetch_page(limit=2, continue_token=first.continue_token)
    lw.close()
    with pytest.raises(KubeConnectionError, match="closed"):
        lw.list_page(resource_version=None, limit=2, continue_token=first.continue_token)
    with pytest.raises(KubeConnectionError, match="closed"):
        lw.prefetch_page(limit=2, continue_token=first.continue_token)
    wait_until(lambda: _ahead_threads() == [])


def test_a_watch_abandons_the_page_requested_ahead(sim: SimHandle, lw: KubeListerWatcher) -> None:
    first = lw.list_page(resource_version="", limit=2, continue_token=None)
    lw.prefetch_page(limit=2, continue_token=first.continue_token)
    with lw.watch(resource_version=first.resource_version, timeout_seconds=60):
        wait_until(lambda: _ahead_threads() == [])
    second = lw.list_page(resource_version=None, limit=2, continue_token=first.continue_token)
    assert [p["metadata"]["name"] for p in second.items] == ["p2", "p3"]
    assert len(_lists(sim)) == 3  # asked again: the answer made ahead was dropped

"""PagedList's order of requests, with and without a lister-watcher that can request ahead."""

from __future__ import annotations

from typing import Any

import pytest

from informer_mirror.errors import KubeExpiredError
from informer_mirror.informer.pager import ContinueExpired, PagedList
from informer_mirror.kinds import BUILTIN_BY_PLURAL
from informer_mirror.kube import ApiResource, ListPage
from informer_mirror.kube.listwatch import PagePrefetcher

PODS = ApiResource.from_kind(BUILTIN_BY_PLURAL["pods"])


class Pages:
    """Three pages of two items, tokens "t1" and "t2"; records every call in ``log``."""

    def __init__(self, log: list[str], *, expire: str | None = None) -> None:
        self.log = log
        self._expire = expire

    @property
    def resource(self) -> ApiResource:
        return PODS

    def list_page(
        self, *, resource_version: str | None, limit: int, continue_token: str | None
    ) -> ListPage:
        self.log.append(f"list {continue_token or 'first'}")
        if continue_token is not None and continue_token == self._expire:
            raise KubeExpiredError("continue token expired", status=410)
        k = int(continue_token[1:]) if continue_token else 0
        items = [{"metadata": {"name": f"p{2 * k + i}"}} for i in range(2)]
        return ListPage(items, "7", f"t{k + 1}" if k < 2 else "")


class PagesAhead(Pages):
    def prefetch_page(self, *, limit: int, continue_token: str) -> None:
        self.log.append(f"ahead {continue_token}")


def _consume(lw: Any, log: list[str]) -> list[str]:
    pages = PagedList(
        lw, resource_version="", limit=2, before_request=lambda: log.append("request")
    )
    for item in pages:
        log.append(item["metadata"]["name"])
    return log


def test_a_lister_watcher_that_can_is_asked_for_the_next_page_before_this_one_is_consumed() -> None:
    log: list[str] = []
    assert isinstance(PagesAhead(log), PagePrefetcher)
    assert _consume(PagesAhead(log), log) == [
        *("request", "list first"),
        *("request", "ahead t1", "p0", "p1", "list t1"),
        *("request", "ahead t2", "p2", "p3", "list t2"),
        *("p4", "p5"),  # the last page has no continue token: nothing asked ahead
    ]


def test_a_lister_watcher_that_cannot_is_asked_page_by_page_as_before() -> None:
    log: list[str] = []
    assert not isinstance(Pages(log), PagePrefetcher)
    assert _consume(Pages(log), log) == [
        *("request", "list first", "p0", "p1"),
        *("request", "list t1", "p2", "p3"),
        *("request", "list t2", "p4", "p5"),
    ]


def test_an_expired_page_asked_for_ahead_still_ends_the_list_with_continue_expired() -> None:
    log: list[str] = []
    with pytest.raises(ContinueExpired, match="after 4 objects"):
        _consume(PagesAhead(log, expire="t2"), log)
    assert log[-2:] == ["p3", "list t2"]

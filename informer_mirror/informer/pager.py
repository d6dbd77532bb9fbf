"""The list pager: one complete list of a resource, page by page (client-go ``tools/pager``).

Place in the data flow: called by the Reflector (on its thread) for every list and relist; it calls
``ListerWatcher.list_page`` and hands the items to ``store.replace``. Owns nothing between lists.

Semantics of client-go v0.36 ``tools/pager/pager.go`` (informer-semantics.md §2.1 R4):

* ``limit`` is the page size; 0 asks for everything in one response (L93-95);
* continue pages carry neither ``resourceVersion`` nor ``resourceVersionMatch`` (L158-166): the
  server rejects "specifying resource version is not allowed when using continue";
* when page 2 or later fails with 410 Expired (the continue token outlived the history), make
  **one unpaginated list at the originally requested RV** (``FullListIfExpired``, L108-125); an
  expiry of page 1 goes back to the caller, which relists at ``""``;
* the list's RV is the first page's ``metadata.resourceVersion``, never an item's (pitfall 6);
* the server's "inconsistent continue" token is never used: that list would not be a snapshot.

Unlike client-go, pages are not all collected before ``replace``: :class:`PagedList` reads and
decodes page *k+1* only once the store has consumed page *k*, so a 100k-object list never holds 100k
parsed dicts (19-36 KiB each) at once, only one page of them next to the store's compact records. A
relist stays atomic because ``Store.replace`` swaps its contents only after the iterable is
exhausted: an error on any page (raised out of the iteration) leaves the store untouched. (The first
list into an empty store is published as it arrives instead: nothing to keep atomic there, and the
writer starts at once; see ``Store.replace``.) An expired continue token raises
:class:`ContinueExpired` out of the iteration, and the caller then makes the one unpaginated
list (:func:`full_list`).

One addition, from ``pager.go``'s ``EachListItem`` (``PageBufferSize``) rather than the
reflector's ``ListWithAlloc``: a lister-watcher that can (:class:`PagePrefetcher`, the real one)
is asked for page *k+1* as soon as page *k* arrives: the server builds it while the store
consumes page *k* (``kube/nextpage.py`` has the numbers). The requests are the same, in the same
order; ``before_request`` runs when each is made. A list given up part way leaves its next page
requested; the lister-watcher's next request, or its ``close``, abandons it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from informer_mirror.errors import KubeError, KubeExpiredError
from informer_mirror.kube.listwatch import ListerWatcher, ListPage, PagePrefetcher


class ContinueExpired(KubeError):
    """Page 2 or later answered 410: the continue token expired mid-list."""


class PagedList:
    """A list whose first page is already fetched; iterating yields every item of every page.

    Iterate it once. The first page's request happens in the constructor, so an expired RV
    (410 on page 1) raises there, before anything is consumed.
    """

    def __init__(
        self,
        lister_watcher: ListerWatcher,
        *,
        resource_version: str,
        limit: int,
        before_request: Callable[[], None] | None = None,
    ) -> None:
        self._lw = lister_watcher
        self._limit = limit
        self._before = before_request
        self._ahead = lister_watcher if isinstance(lister_watcher, PagePrefetcher) else None
        self.requested_rv = resource_version
        self._first: ListPage | None = self._fetch(resource_version, None)
        self.resource_version = self._first.resource_version
        """The list's RV (from page 1)."""
        self.paginated = bool(self._first.continue_token)
        """True when the server split the list (client-go ``paginatedResult``)."""
        self.count = 0
        """Items yielded so far."""

    def _fetch(
        self, resource_version: str | None, token: str | None, *, requested: bool = False
    ) -> ListPage:
        if self._before is not None and not requested:
            self._before()
        return self._lw.list_page(
            resource_version=resource_version, limit=self._limit, continue_token=token
        )

    def _request_ahead(self, token: str) -> bool:
        """Have the page after this one requested now, if the lister-watcher can; True if so."""
        if self._ahead is None:
            return False
        if self._before is not None:
            self._before()  # the request is made here, not when the page is taken
        self._ahead.prefetch_page(limit=self._limit, continue_token=token)
        return True

    def __iter__(self) -> Iterator[dict[str, Any]]:
        page, self._first = self._first, None
        if page is None:
            raise RuntimeError("a PagedList can be iterated only once")
        while True:
            token = page.continue_token
            items = page.items
            del page  # let this page's dicts go as the consumer moves on
            requested = bool(token) and self._request_ahead(token)
            for item in items:
                self.count += 1
                yield item
            del items
            if not token:
                return
            try:
                # continue pages never carry an RV
                page = self._fetch(None, token, requested=requested)
            except KubeExpiredError as e:
                raise ContinueExpired(
                    f"{self._lw.resource.name}: continue token expired after {self.count} "
                    f"objects ({e})"
                ) from e


def full_list(
    lister_watcher: ListerWatcher,
    *,
    resource_version: str,
    before_request: Callable[[], None] | None = None,
) -> ListPage:
    """pager.go L108-125: the one unpaginated list at the originally requested RV."""
    if before_request is not None:
        before_request()
    return lister_watcher.list_page(resource_version=resource_version, limit=0, continue_token=None)

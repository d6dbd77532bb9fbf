"""The Kubernetes API boundary: the only package that imports ``kubernetes`` (and urllib3).

``KubeClient`` (client.py) builds the official client's ``ApiClient`` from a kubeconfig or the
in-cluster service account and makes raw GET requests with our timeouts and no hidden retries;
``KubeListerWatcher`` (listwatch.py) lists pages and streams watch events of any resource as raw
JSON dicts. Everything above this package sees only dicts and ``informer_mirror.errors``.
"""

from informer_mirror.kube.client import ClientOptions, KubeClient, RequestTarget
from informer_mirror.kube.listwatch import (
    ApiResource,
    KubeListerWatcher,
    ListerWatcher,
    ListPage,
    MalformedEvent,
    WatchEvent,
    WatchStream,
)

__all__ = [
    "ApiResource",
    "ClientOptions",
    "KubeClient",
    "KubeListerWatcher",
    "ListPage",
    "ListerWatcher",
    "MalformedEvent",
    "RequestTarget",
    "WatchEvent",
    "WatchStream",
]

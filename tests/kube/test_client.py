"""KubeClient: configuration loading and the translation of HTTP and transport failures."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import orjson
import pytest

from informer_mirror.errors import (
    ConfigError,
    KubeApiError,
    KubeConnectionError,
    KubeExpiredError,
    KubeForbidden,
    KubeNotFound,
    KubeResourceVersionTooLarge,
    KubeServerError,
    KubeTimeoutError,
    KubeTooManyRequests,
    KubeUnauthorized,
)
from informer_mirror.kube import ApiResource, ClientOptions, KubeClient, KubeListerWatcher
from tests.kube.scripted import Reply, scripted_server, write_kubeconfig

PODS = ApiResource(group="", version="v1", plural="pods", kind="Pod", namespaced=True)
DEPLOYMENTS_IN_TEAM = ApiResource(
    group="apps",
    version="v1",
    plural="deployments",
    kind="Deployment",
    namespaced=True,
    namespace="team-a",
)


def _status(code: int, reason: str, message: str = "", **details: object) -> bytes:
    body: dict[str, object] = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }
    if details:
        body["details"] = details
    return orjson.dumps(body)


def _client(tmp_path: Path, url: str, **options: float) -> KubeClient:
    return KubeClient.from_kubeconfig(
        write_kubeconfig(tmp_path / "kubeconfig", url), options=ClientOptions(**options)
    )


def test_a_client_from_a_kubeconfig_exposes_the_server_url_and_context(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "kc", "https://10.1.2.3:6443", context="prod")
    client = KubeClient.from_kubeconfig(path, context="prod")
    try:
        assert client.server == "https://10.1.2.3:6443"
        assert client.context == "prod"
    finally:
        client.close()


def test_an_unreadable_kubeconfig_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"cluster\.kubeconfig: .*nope\.yaml"):
        KubeClient.from_kubeconfig(missing)


def test_an_unknown_context_is_a_config_error_naming_it(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "kc", "https://10.1.2.3:6443", context="prod")
    with pytest.raises(ConfigError, match="staging"):
        KubeClient.from_kubeconfig(path, context="staging")


def test_the_bearer_token_from_the_kubeconfig_is_sent(tmp_path: Path) -> None:
    seen: list[str | None] = []
    body = orjson.dumps({"kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": []})
    with scripted_server(Reply(chunks=[body], chunked=False)) as server:
        client = _client(tmp_path, server.url)
        original = client._api.rest_client.pool_manager.request

        def spy(method: str, url: str, **kwargs: object) -> object:
            headers = kwargs.get("headers")
            seen.append(headers.get("authorization") if isinstance(headers, dict) else None)
            return original(method, url, **kwargs)

        client._api.rest_client.pool_manager.request = spy
        KubeListerWatcher(client, PODS).list_page(
            resource_version="0", limit=0, continue_token=None
        )
    assert seen == ["Bearer t0k"]


def test_a_refused_connection_is_a_connection_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = _client(tmp_path, f"http://127.0.0.1:{port}")
    with pytest.raises(KubeConnectionError, match="list pods"):
        KubeListerWatcher(client, PODS).list_page(
            resource_version="0", limit=0, continue_token=None
        )


def test_urllib3_does_not_retry_behind_our_backoff(tmp_path: Path) -> None:
    # A server that accepts and hangs up without answering: urllib3's default would retry 3 times.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted = 0
    done = threading.Event()

    def serve() -> None:
        nonlocal accepted
        listener.settimeout(0.2)
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted += 1
            conn.recv(65536)
            conn.close()

    thread = threading.Thread(target=serve, name="hangup-server")
    thread.start()
    try:
        client = _client(tmp_path, f"http://127.0.0.1:{listener.getsockname()[1]}")
        lw = KubeListerWatcher(client, PODS)
        with pytest.raises(KubeConnectionError):
            lw.list_page(resource_version="0", limit=0, continue_token=None)
    finally:
        done.set()
        thread.join(5)
        listener.close()
    assert accepted == 1


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "text"),
    [
        (410, _status(410, "Expired", "too old resource version: 5 (90)"), {}, KubeExpiredError,
         "too old resource version"),
        (401, _status(401, "Unauthorized", "Unauthorized"), {}, KubeUnauthorized,
         "rejected the credentials"),
        (404, _status(404, "NotFound", "the server could not find the requested resource"), {},
         KubeNotFound, "not served by this API server"),
        (500, _status(500, "InternalError", "etcd is sad"), {}, KubeServerError,
         "server error 500: etcd is sad"),
        (503, b"<html>Service Unavailable</html>", {}, KubeServerError, "Service Unavailable"),
        (422, _status(422, "Invalid", "bad selector"), {}, KubeApiError, "HTTP 422: bad selector"),
    ],
)  # fmt: skip
def test_an_error_status_becomes_the_matching_kube_error(
    tmp_path: Path,
    status: int,
    body: bytes,
    headers: dict[str, str],
    error: type[KubeApiError],
    text: str,
) -> None:
    with scripted_server(Reply(status=status, chunks=[body], headers=headers)) as server:
        lw = KubeListerWatcher(_client(tmp_path, server.url), PODS)
        with pytest.raises(error, match=text) as info:
            lw.list_page(resource_version="0", limit=0, continue_token=None)
    assert type(info.value) is error
    assert info.value.status == status


def test_a_429_carries_the_retry_after_header(tmp_path: Path) -> None:
    reply = Reply(
        status=429,
        chunks=[_status(429, "TooManyRequests", "slow down")],
        headers={"Retry-After": "7"},
    )
    with scripted_server(reply) as server:
        lw = KubeListerWatcher(_client(tmp_path, server.url), PODS)
        with pytest.raises(KubeTooManyRequests) as info:
            lw.watch(resource_version="5", timeout_seconds=300)
    assert info.value.retry_after == 7.0


def test_a_504_with_a_too_large_resource_version_cause_has_its_own_error(tmp_path: Path) -> None:
    body = _status(
        504,
        "Timeout",
        "Too large resource version",
        causes=[{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        retryAfterSeconds=1,
    )
    with scripted_server(Reply(status=504, chunks=[body])) as server:
        lw = KubeListerWatcher(_client(tmp_path, server.url), PODS)
        with pytest.raises(KubeResourceVersionTooLarge):
            lw.list_page(resource_version="999999", limit=0, continue_token=None)


def test_a_403_names_the_verb_the_resource_and_the_rbac_rule_to_add(tmp_path: Path) -> None:
    body = _status(403, "Forbidden", 'pods is forbidden: User "bob" cannot watch resource "pods"')
    with scripted_server(Reply(status=403, chunks=[body])) as server:
        lw = KubeListerWatcher(_client(tmp_path, server.url), PODS)
        with pytest.raises(KubeForbidden) as info:
            lw.watch(resource_version="5", timeout_seconds=300)
    message = str(info.value)
    assert 'cannot watch pods in API group ""' in message
    assert '{apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"]}' in message
    assert "ClusterRole" in message
    assert 'User "bob"' in message


def test_a_namespaced_403_suggests_a_role_in_that_namespace(tmp_path: Path) -> None:
    with scripted_server(Reply(status=403, chunks=[_status(403, "Forbidden")])) as server:
        lw = KubeListerWatcher(_client(tmp_path, server.url), DEPLOYMENTS_IN_TEAM)
        with pytest.raises(KubeForbidden) as info:
            lw.list_page(resource_version="0", limit=500, continue_token=None)
    message = str(info.value)
    assert 'cannot list deployments in API group "apps" in namespace "team-a"' in message
    assert 'apiGroups: ["apps"], resources: ["deployments"]' in message
    assert server.requests[0].path == "/apis/apps/v1/namespaces/team-a/deployments"


def test_silence_before_the_headers_is_a_read_timeout(tmp_path: Path) -> None:
    with socket.socket() as listener:  # accepts (the kernel does) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        lw = KubeListerWatcher(_client(tmp_path, url, read_timeout=0.2), PODS)
        with pytest.raises(KubeTimeoutError, match="read timed out"):
            lw.list_page(resource_version="0", limit=0, continue_token=None)


def test_client_options_reject_nonsense() -> None:
    with pytest.raises(ConfigError, match="read_timeout"):
        ClientOptions(read_timeout=0)

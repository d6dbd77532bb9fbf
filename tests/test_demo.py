"""``informer-mirror demo``: the settings it runs with are config/demo.yaml's, and it mirrors a
churning simulated cluster and prints URLs that answer (in this process; the command itself as a
subprocess is in ``tests/e2e/test_demo_command.py``)."""

from __future__ import annotations

import io
import re
import threading
from dataclasses import replace
from pathlib import Path

from informer_mirror.demo import DemoOptions, demo_settings, run_demo
from informer_mirror.settings import SqliteBackendSettings, load_settings
from tests.e2e.support import http_json
from tests.helpers import wait_until

REPO = Path(__file__).resolve().parent.parent


def test_the_demo_runs_with_config_demo_yaml_and_its_paths_under_the_data_directory() -> None:
    from_file = load_settings(REPO / "config" / "demo.yaml", env={})
    built = demo_settings(DemoOptions(data_dir=REPO / "demo-data"))
    assert replace(built, config_file=None) == replace(from_file, config_file=None)


def test_the_demo_port_option_replaces_the_configured_port(tmp_path: Path) -> None:
    settings = demo_settings(DemoOptions(port=0, data_dir=tmp_path / "data"))
    assert settings.api.port == 0
    assert isinstance(settings.backend, SqliteBackendSettings)
    assert settings.backend.path == tmp_path / "data" / "mirror.db"
    assert settings.cluster.kubeconfig == tmp_path / "data" / "sim.kubeconfig"


def events_delivered(url: str) -> float:
    code, text = http_json(url + "/metrics")
    assert code == 200
    counts = re.findall(r"^informer_mirror_informer_events_total\{[^}]*\} (\S+)$", text, re.M)
    return sum(float(c) for c in counts)


def test_the_demo_mirrors_a_churning_cluster_and_prints_urls_that_answer(tmp_path: Path) -> None:
    out = io.StringIO()
    stop = threading.Event()
    result: list[int] = []
    options = DemoOptions(port=0, objects=100, churn=50, data_dir=tmp_path / "data")
    demo = threading.Thread(
        target=lambda: result.append(run_demo(options, stop=stop, out=out)), name="test-demo"
    )
    demo.start()
    try:
        wait_until(lambda: "Press Ctrl-C to stop." in out.getvalue(), 15)
        text = out.getvalue()
        urls = re.findall(r"curl -s '?(http://\S+?)'?$", text, re.M)
        assert [u.split("/", 3)[3] for u in urls] == [
            "api/v1/pods?limit=5",
            "api/v1/stats/overview",
            "api/v1/status",
            "readyz",
            "metrics",
        ]
        for url in urls:
            assert http_json(url)[0] == 200, url
        base = urls[0].split("/api/")[0]
        assert http_json(base + "/api/v1/stats/overview")[1]["total"] >= 100
        # The churn reaches the mirror.
        before = events_delivered(base)
        wait_until(lambda: events_delivered(base) > before, 10)
    finally:
        stop.set()
        demo.join(30)
    assert result == [0]
    assert (tmp_path / "data" / "mirror.db").is_file()
    assert (tmp_path / "data" / "sim.kubeconfig").is_file()

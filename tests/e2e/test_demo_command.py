"""End to end: ``informer-mirror demo`` as README.rst shows it, as a subprocess, stopped by
Ctrl-C (SIGINT)."""

from __future__ import annotations

import re
import signal
from pathlib import Path

from tests.e2e.support import DaemonProcess, http_json
from tests.helpers import wait_until


def test_the_demo_command_serves_the_mirror_until_ctrl_c(tmp_path: Path) -> None:
    data = tmp_path / "data"
    args = ("demo", "--port", "0", "--objects", "60", "--churn", "2", "--data-dir", str(data))
    with DaemonProcess(*args) as demo:
        wait_until(lambda: "Press Ctrl-C to stop." in demo.stdout, 20)
        banner = "\n".join(demo.stdout)
        api = re.search(r"curl -s (http://[\d.:]+)/readyz", banner)
        assert api is not None, banner
        code, body = http_json(api.group(1) + "/readyz")
        assert code == 200 and body["ready"] is True
        demo.signal(signal.SIGINT)
        assert demo.wait() == 0
        assert not any("Traceback" in line for line in demo.stderr), demo.stderr
    assert (data / "mirror.db").is_file()

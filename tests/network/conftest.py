import subprocess
import uuid

import pytest

from backend.api.cloud import Cloud
from backend.api.context import RequestContext
from backend.virt.demo import demo_settings


@pytest.fixture
def demo(tmp_path):
    cloud = Cloud(demo_settings(tmp_path), connect=False)
    yield cloud
    cloud.close()


@pytest.fixture
def admin():
    return RequestContext.system()


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    """Point the CLI at a private demo data dir."""
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state"),
                     ("XDG_CONFIG_HOME", "cfg")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    for var in ("VIRTSTACK_CONFIG", "VIRTSTACK_TOKEN", "VIRTSTACK_USERNAME",
                "VIRTSTACK_PASSWORD", "VIRTSTACK_PROJECT", "VIRTSTACK_DB_URL"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def sh(*argv):
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30)


@pytest.fixture
def netns():
    """A fresh namespace vst-...: veth nic0/peer0, 10.213.7.2/30 on nic0, default route via
    peer0's 10.213.7.1. Nothing outside it; deleted afterwards."""
    name = f"vst-{uuid.uuid4().hex[:8]}"
    sh("ip", "netns", "add", name)
    try:
        sh("ip", "-n", name, "link", "add", "nic0", "type", "veth", "peer", "name", "peer0")
        sh("ip", "-n", name, "addr", "add", "10.213.7.2/30", "dev", "nic0")
        sh("ip", "-n", name, "addr", "add", "10.213.7.1/30", "dev", "peer0")
        sh("ip", "-n", name, "link", "set", "nic0", "up")
        sh("ip", "-n", name, "link", "set", "peer0", "up")
        sh("ip", "-n", name, "route", "add", "default", "via", "10.213.7.1", "dev", "nic0")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)

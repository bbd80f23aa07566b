"""Fixtures every test family shares: a demo cloud (three test-driver hosts in tmp_path),
the backend's own admin context, and a CLI pointed at private XDG dirs.

A family's own conftest.py may override a name (identity's ``admin`` is a real user)."""
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
    """Point the CLI at a private demo data dir, with no credentials in the environment."""
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state"),
                     ("XDG_CONFIG_HOME", "cfg")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    for var in ("VIRTSTACK_CONFIG", "VIRTSTACK_TOKEN", "VIRTSTACK_USERNAME",
                "VIRTSTACK_PASSWORD", "VIRTSTACK_PROJECT", "VIRTSTACK_DB_URL"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path

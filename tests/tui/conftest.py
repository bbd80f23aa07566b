"""A demo cloud (three test-driver hosts) in tmp_path and the TUI App on top of it."""
from __future__ import annotations

import pytest

from backend.api.cloud import Cloud
from backend.api.context import RequestContext
from backend.virt.demo import demo_settings


@pytest.fixture
def settings(tmp_path):
    return demo_settings(tmp_path)


@pytest.fixture
def cloud(settings):
    # Like run_tui: no blocking connect-all; the dashboard connects in the background.
    c = Cloud(settings, connect=False)
    yield c
    c.close()


@pytest.fixture
def ctx():
    return RequestContext.system()


@pytest.fixture
def make_app(cloud, ctx, settings):
    from tui.app import VirtstackApp

    def make(**kwargs):
        return VirtstackApp(cloud, ctx, settings, **kwargs)
    return make

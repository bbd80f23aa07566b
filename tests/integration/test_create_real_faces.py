"""Issue 4's "a member can create a server from the CLI and the TUI ... on a real host": the
same create as test_create_real.py, driven through the two faces onto a libvirtd + QEMU host
over qemu+ssh://. The CLI runs as a subprocess logged in as the member (VIRTSTACK_USERNAME /
PASSWORD / PROJECT) and reads a config file; the TUI's create wizard is driven with Pilot on
an in-process Cloud of the same host. Guests get no NIC. Each ends with the server deleted
and nothing left: no domain, no root volume, no claim, no quota in use."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import libvirt
import pytest

from backend.api.cloud import Cloud
from backend.config import load_settings
from tests.integration.test_create_real import default_pool, login  # noqa: F401 (fixture)
from tests.integration.test_remote_host import write_config

REPO = Path(__file__).resolve().parents[2]
HOST = "kvm1"
ADMIN_PASSWORD = "Admin-pass-1"
PASSWORD = "Passw0rd-ok"


@pytest.fixture
def home(tmp_path, real_host, default_pool, monkeypatch):  # noqa: F811
    """A config file naming the real host, the member alice of p1, a tiny qcow2 image
    ``img`` and a flavor ``tiny``; the environment the CLI runs in (as alice)."""
    cfg = write_config(tmp_path / "config.toml", real_host, name=HOST)
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               VIRTSTACK_CONFIG=str(cfg))
    for var in ("VIRTSTACK_TOKEN", "VIRTSTACK_DB_URL"):
        env.pop(var, None)
    for var in ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "VIRTSTACK_CONFIG"):
        monkeypatch.setenv(var, env[var])
    monkeypatch.delenv("VIRTSTACK_DB_URL", raising=False)
    settings = load_settings(cfg)  # the same data dir (images) and state DB as the CLI's
    settings.password_hash_profile = "fast"  # tests only
    cloud = Cloud(settings)
    assert cloud.registry.get(HOST).state == "connected", cloud.registry.get(HOST).last_error
    ident = cloud.identity
    ident.bootstrap(ADMIN_PASSWORD)
    admin = login(cloud, "admin", ADMIN_PASSWORD)
    ident.projects.create(admin, "p1")
    ident.users.create(admin, "alice", PASSWORD, project="p1")
    ident.assignments.add(admin, "alice", "p1", "member")
    img = tmp_path / "tiny.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(img), "16M"], check=True)
    cloud.images.create(admin, "img", str(img), disk_format="qcow2")
    cloud.flavors.create(admin, "tiny", vcpus=1, ram_mb=64, root_gb=1)
    env.update(VIRTSTACK_USERNAME="alice", VIRTSTACK_PASSWORD=PASSWORD,
               VIRTSTACK_PROJECT="p1")
    yield cloud, settings, admin, login(cloud, "alice", PASSWORD), env
    cloud.close()


def cli(env, *args, check=True):
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "-f", "json", *args], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, f"virtstack {' '.join(args)}: {proc.stderr}"
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def assert_nothing_left(cloud, admin, alice, real_host, default_pool, srv):  # noqa: F811
    local = libvirt.open(real_host.local_uri)
    try:
        with pytest.raises(libvirt.libvirtError):
            local.lookupByUUIDString(srv["uuid"])
    finally:
        local.close()
    default_pool.refresh(0)
    assert srv["volume"] not in {v.name() for v in default_pool.listAllVolumes(0)}
    res = cloud.compute.resources(admin, HOST)[0]
    assert res["instances"] == 0
    assert (res["vcpus"]["claimed"], res["memory_mb"]["claimed"], res["disk_gb"]["claimed"]) \
        == (0, 0, 0)
    q = cloud.quotas.show(alice)
    assert all(q[r]["in_use"] == 0 for r in ("instances", "cores", "ram", "volumes",
                                             "gigabytes")), q
    assert [r["status"] for r in cloud.compute.records(admin, include_deleted=True)] == \
        ["DELETED"]


def running_on_host(real_host, uuid: str) -> bool:
    local = libvirt.open(real_host.local_uri)
    try:
        dom = local.lookupByUUIDString(uuid)
        from xml.etree import ElementTree as ET
        assert ET.fromstring(dom.XMLDesc(0)).find("devices/interface") is None  # no NIC
        return bool(dom.isActive())
    finally:
        local.close()


def test_member_creates_lists_and_deletes_a_server_with_the_cli(home, real_host,
                                                                 default_pool):  # noqa: F811
    cloud, _settings, admin, alice, env = home
    t0 = time.monotonic()
    [srv] = cli(env, "server", "create", "it-cli", "--flavor", "tiny", "--image", "img")
    assert (srv["status"], srv["host"], srv["flavor"]) == ("ACTIVE", HOST, "tiny"), srv
    assert srv["project_id"] == alice.project_id
    assert running_on_host(real_host, srv["uuid"])

    rows = cli(env, "server", "list")
    assert [(r["name"], r["host"], r["state"]) for r in rows] == [("it-cli", HOST, "running")]
    [rec] = cli(env, "server", "records")
    assert (rec["name"], rec["status"]) == ("it-cli", "ACTIVE")
    assert cli(env, "quota", "show")["instances"]["in_use"] == 1

    refused = subprocess.run([sys.executable, "-m", "tui.cli", "server", "delete", "it-cli"],
                             env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "--yes" in refused.stderr
    out = cli(env, "server", "delete", "it-cli", "--yes")
    assert out["deleted"] is True
    assert cli(env, "server", "list") == []
    assert_nothing_left(cloud, admin, alice, real_host, default_pool, srv)
    assert time.monotonic() - t0 < 60


async def test_member_creates_and_deletes_a_server_with_the_tui(home, real_host,
                                                                default_pool):  # noqa: F811
    from screens.delete_server import DeleteServerScreen
    from tests.tui.helpers import wait_for
    from tests.tui.test_create_wizard import choose, open_wizard, preview_settled, type_name
    from tui.app import VirtstackApp

    cloud, settings, admin, alice, _env = home
    app = VirtstackApp(cloud, alice, settings)
    async with app.run_test(size=(160, 50)) as pilot:
        wiz = await open_wizard(pilot)
        await type_name(pilot, wiz, "it-tui")
        await choose(pilot, wiz, "flavor", "tiny")
        await choose(pilot, wiz, "image", "img")
        await preview_settled(pilot, wiz, lambda: wiz.preview and wiz.preview["ok"]
                              and wiz.request()["flavor"] == "tiny", "the preview")
        assert wiz.preview["chosen"] == [HOST]
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "DashboardScreen",
                       timeout=40, what="back on the dashboard")
        [srv] = cloud.compute.records(admin)
        assert (srv["name"], srv["status"], srv["host"], srv["flavor"]) == \
            ("it-tui", "ACTIVE", HOST, "tiny"), srv["fault"]
        assert srv["project_id"] == alice.project_id
        assert running_on_host(real_host, srv["uuid"])
        dash = app.screen
        await wait_for(pilot, lambda: srv["uuid"] in dash.table.servers, timeout=10,
                       what="it-tui on the dashboard")

        # and away again, as a user: cursor on the row, D, confirm
        assert dash.table.select_uuid(srv["uuid"])
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, DeleteServerScreen),
                       what="the delete dialog")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: srv["uuid"] not in dash.table.servers, timeout=30,
                       what="the row gone")
        await wait_for(pilot, lambda: cloud.compute.records(admin) == [], timeout=10,
                       what="the record deleted")
    assert_nothing_left(cloud, admin, alice, real_host, default_pool, srv)

"""The demo cloud and the libvirt host driver, on test-driver hosts (no daemon)."""
import threading
import time

import libvirt
import pytest

from backend.errors import Conflict, HostUnavailable, InvalidInput, NotFound
from backend.virt.libvirt.xml import domain_xml


def test_three_hosts_connect_and_list(demo, admin):
    hosts = demo.hosts.list(admin)
    assert [h["name"] for h in hosts] == ["node1", "node2", "node3"]
    assert all(h["state"] == "connected" for h in hosts)
    assert [h["vcpus"] for h in hosts] == [8, 16, 32]
    assert [h["availability_zone"] for h in hosts] == ["az1", "az1", "az2"]
    servers = demo.servers.list(admin)
    assert 18 <= len(servers) <= 22
    states = {s["state"] for s in servers}
    assert {"running", "shutoff", "paused"} <= states
    assert {s["host"] for s in servers} == {"node1", "node2", "node3"}
    assert len(demo.servers.list(admin, host="node2")) == hosts[1]["vms_total"]


def test_lifecycle_and_persistence(demo, admin, tmp_path):
    running = [s for s in demo.servers.list(admin) if s["state"] == "running"][0]
    name, host = running["name"], running["host"]
    assert demo.servers.action(admin, name, "destroy")["state"] == "shutoff"
    with pytest.raises(Conflict):
        demo.servers.action(admin, name, "resume")
    assert demo.servers.start(admin, name)["state"] == "running"
    assert demo.servers.suspend(admin, name)["state"] == "paused"
    assert demo.servers.resume(admin, name)["state"] == "running"
    assert demo.servers.shutdown(admin, name)["state"] in ("shutoff", "shutdown")
    # the file was rewritten: a fresh connection (a new Cloud) sees the change
    from backend.api.cloud import Cloud
    fresh = Cloud(demo.settings)
    try:
        again = {s["name"]: s for s in fresh.servers.list(admin, host=host)}
        assert again[name]["state"] == "shutoff"
        assert len(again) == len(demo.servers.list(admin, host=host))
    finally:
        fresh.close()


def test_delete_with_volumes(demo, admin):
    row = demo.servers.list(admin, host="node1")[0]
    host = demo.registry.get("node1")
    pool = host.conn().storagePoolLookupByName("default")
    before = set(pool.listVolumes())
    result = demo.servers.delete(admin, row["name"], delete_volumes=True)
    assert result["deleted"] and result["deleted_volumes"] == [f"default/{row['name']}.qcow2"]
    assert set(pool.listVolumes()) == before - {f"{row['name']}.qcow2"}
    with pytest.raises(NotFound):
        demo.servers.get(admin, row["name"])


def test_unknown_and_ambiguous_names(demo, admin):
    with pytest.raises(NotFound, match="no server named 'ghost'"):
        demo.servers.start(admin, "ghost")
    with pytest.raises(NotFound, match="no host named 'nope'"):
        demo.servers.list(admin, host="nope")
    with pytest.raises(InvalidInput):
        demo.servers.action(admin, "web-01", "explode")
    # the same name on two hosts needs --host
    demo.ensure_hosts()
    for h in ("node1", "node2"):
        demo.registry.get(h).define_domain(domain_xml("twin", memory_mb=64, vcpus=1,
                                                      dom_type="test"))
    with pytest.raises(Conflict, match="pass --host"):
        demo.servers.get(admin, "twin")
    assert demo.servers.get(admin, "twin", host="node2")["host"] == "node2"


def test_xml_escapes_hostile_names():
    xml = domain_xml("a<b&c'd\"", memory_mb=64, vcpus=1)
    assert "a&lt;b&amp;c'd\"" in xml or "a&lt;b&amp;c&apos;d&quot;" in xml
    import xml.etree.ElementTree as ET
    assert ET.fromstring(xml).findtext("name") == "a<b&c'd\""


def test_lifecycle_events_update_cache_without_polling(demo, admin):
    demo.ensure_hosts()
    host = demo.registry.get("node3")
    seen = []
    got = threading.Event()
    demo.registry.add_listener(lambda e: (seen.append(e), got.set())
                               if e.get("type") == "domain" else None)
    row = next(r for r in host.list_domains() if r["state"] == "running")
    # change the state behind virtstack's back, through another handle on the same conn
    host.conn().lookupByUUIDString(row["uuid"]).suspend()
    assert got.wait(5), "no lifecycle event arrived"
    deadline = time.time() + 5
    while host.find(row["uuid"])["state"] != "paused" and time.time() < deadline:
        time.sleep(0.05)
    assert host.find(row["uuid"])["state"] == "paused"
    assert any(e["uuid"] == row["uuid"] and e.get("state") == "paused" for e in seen)


def test_disconnected_host_fails_clearly(demo, admin):
    demo.ensure_hosts()
    host = demo.registry.get("node1")
    host.close()
    with pytest.raises(HostUnavailable, match="node1 is disconnected"):
        demo.servers.list(admin, host="node1")
    # other hosts still answer
    assert {s["host"] for s in demo.servers.list(admin)} == {"node2", "node3"}


def test_bad_uri_host_is_disconnected_not_fatal(tmp_path, admin):
    from backend.api.cloud import Cloud
    from backend.config import HostConfig, Settings
    settings = Settings(hosts=[HostConfig(name="gone", uri=f"test://{tmp_path}/missing.xml")],
                        data_dir=tmp_path, state_dir=tmp_path)
    cloud = Cloud(settings)
    try:
        [h] = cloud.hosts.list(admin)
        assert h["state"] == "disconnected" and h["error"]
        assert cloud.servers.list(admin) == []
    finally:
        cloud.close()


def test_bulk_stats_gives_cpu_percent_for_visible(demo, admin):
    demo.ensure_hosts()
    host = demo.registry.get("node2")
    running = [r["uuid"] for r in host.list_domains() if r["state"] == "running"]
    host.bulk_stats(set(running[:2]))
    time.sleep(0.05)
    stats = host.bulk_stats(set(running[:2]))
    assert set(stats) == set(running[:2])
    assert all(0 <= s["cpu_percent"] <= 100 for s in stats.values())


def test_parallel_connect_takes_the_slowest_not_the_sum(tmp_path, admin):
    """Hosts connect on their own threads: three hosts that each take 0.3 s to open connect
    in well under 0.9 s."""
    from backend.api.cloud import Cloud
    from backend.virt.demo import demo_settings
    orig = libvirt.openAuth

    def slow(*a, **kw):
        time.sleep(0.3)
        return orig(*a, **kw)
    settings = demo_settings(tmp_path)
    libvirt.openAuth = slow
    try:
        t = time.monotonic()
        cloud = Cloud(settings)
        took = time.monotonic() - t
    finally:
        libvirt.openAuth = orig
    try:
        assert all(h.state == "connected" for h in cloud.registry.hosts.values())
        assert took < 0.8, took
    finally:
        cloud.close()


def test_background_connect_keeps_in_process_hosts_off_each_others_cores(tmp_path):
    """The TUI's background connect: the in-process test driver hosts connect one after
    another on one thread (their connect is CPU work that would take the cores from the
    UI's start-up); a remote host gets a thread of its own, so it holds up none of them."""
    from dataclasses import replace

    from backend.hosts.registry import HostRegistry
    from backend.virt.demo import demo_settings
    from backend.virt.libvirt.host import LibvirtHost
    settings = demo_settings(tmp_path)
    remote = replace(settings.hosts[0], name="far", uri="test+ssh://nobody@127.0.0.1:1/x")
    settings = replace(settings, hosts=[*settings.hosts, remote])
    seen: dict[str, str] = {}
    orig = LibvirtHost.connect

    def spy(self, **kw):
        seen[self.name] = threading.current_thread().name
        return orig(self, **kw)
    registry = HostRegistry(settings)
    LibvirtHost.connect = spy
    try:
        registry.connect_async()
        deadline = time.monotonic() + 10
        while len(seen) < 4 or not all(registry.hosts[n].state == "connected"
                                       for n in ("node1", "node2", "node3")):
            assert time.monotonic() < deadline, seen
            time.sleep(0.02)
    finally:
        LibvirtHost.connect = orig
        registry.close()
    assert {seen[n] for n in ("node1", "node2", "node3")} == {"connect-local"}
    assert seen["far"] == "connect-far"


def test_rows_come_from_one_bulk_call_and_figures_follow(tmp_path):
    """Listing reads every domain's state with one bulk call; what the test driver's bulk
    call lacks (vCPUs, memory) is read before connect() returns, or with fill_later after
    "connected", announced by a "figures" event (the TUI shows its rows first)."""
    from backend.virt.demo import demo_settings
    from backend.virt.libvirt.host import LibvirtHost
    settings = demo_settings(tmp_path)
    cfg = settings.hosts[1]
    now = LibvirtHost(cfg, wrapper_dir=tmp_path / "ssh")
    now.connect()
    try:
        expected = {r["uuid"]: (r["vcpus"], r["memory_mb"]) for r in now.list_domains()}
        assert expected and all(v > 0 and m > 0 for v, m in expected.values())
    finally:
        now.close()

    later = LibvirtHost(cfg, wrapper_dir=tmp_path / "ssh")
    events: list[dict] = []
    seen_at_connect: list[list[dict]] = []
    figures = threading.Event()

    def listen(ev):
        if ev.get("type") == "host" and ev.get("state") == "connected":
            seen_at_connect.append(later.list_domains())
        if ev.get("event") == "figures":
            figures.set()
        events.append(ev)
    later.add_listener(listen)
    orig_fill = later._fill_figures
    gate = threading.Event()

    def held_fill(doms, announce=False):
        gate.wait(10)  # hold the background read until the connected rows were seen
        orig_fill(doms, announce)
    later._fill_figures = held_fill
    try:
        later.connect(fill_later=True)
        [rows] = seen_at_connect
        assert {r["uuid"] for r in rows} == set(expected)
        assert all(r["state"] in ("running", "shutoff", "paused") for r in rows)
        assert all(r["vcpus"] is None and r["memory_mb"] is None for r in rows)
        assert later.host_info()["vcpus_allocated"] == 0  # unknown yet, not an error
        gate.set()
        assert figures.wait(10)
        assert {r["uuid"]: (r["vcpus"], r["memory_mb"])
                for r in later.list_domains()} == expected
    finally:
        gate.set()
        later.close()


def test_details_have_disk_sizes_and_next_boot_changes(demo, admin):
    d = demo.servers.get(admin, "web-01")
    assert d["vcpus"] == d["vcpus_max"] == 8 and d["next_boot"] is None
    [disk] = d["disks"]
    assert disk["capacity_bytes"] > 0 and disk["allocation_bytes"] <= disk["capacity_bytes"]
    dom = demo.registry.get("node1")._dom("web-01")
    dom.setVcpusFlags(4, libvirt.VIR_DOMAIN_AFFECT_CONFIG)  # for the next boot only
    d = demo.servers.get(admin, "web-01")
    assert d["vcpus"] == 8 and d["next_boot"] == {"vcpus": 4}


def test_demo_keeps_snapshots_across_other_changes(demo, admin):
    from backend.api.cloud import Cloud
    demo.server_ops.snapshot_create(admin, "api-02", "before")
    demo.servers.start(admin, "api-02")  # another change rewrites the host file
    fresh = Cloud(demo.settings)
    try:
        names = [s["name"] for s in fresh.server_ops.snapshot_list(admin, "api-02")]
        assert names == ["before"]
    finally:
        fresh.close()

"""Pools and volumes through the front door on the demo cloud (libvirt test driver)."""
import pytest

from backend import errors


def test_pool_list_shows_capacity_per_host(demo, admin):
    rows = demo.pools.list(admin)
    assert {r["host"] for r in rows} == {"node1", "node2", "node3"}
    r = rows[0]
    assert r["capacity"] > 0 and r["allocation"] >= 0 and r["available"] >= 0
    assert r["capacity"] == r["allocation"] + r["available"]


def test_pool_lifecycle(demo, admin):
    row = demo.pools.create(admin, "images", "dir", host="node1", target="/srv/vs/images")
    assert row["state"] == "running" and row["autostart"] and row["type"] == "dir"
    assert row["target"] == "/srv/vs/images"
    # the name is unique on node1, so --host may be left out
    assert demo.pools.get(admin, "images")["host"] == "node1"
    assert demo.pools.stop(admin, "images")["state"] == "inactive"
    with pytest.raises(errors.Conflict):
        demo.pools.stop(admin, "images")
    assert demo.pools.start(admin, "images")["state"] == "running"
    assert demo.pools.refresh(admin, "images")["state"] == "running"
    assert demo.pools.autostart(admin, "images", on=False)["autostart"] is False
    demo.pools.delete(admin, "images")
    with pytest.raises(errors.NotFound):
        demo.pools.get(admin, "images", host="node1")


def test_pool_create_needs_host_and_refuses_duplicates(demo, admin):
    with pytest.raises(errors.InvalidInput, match="--host"):
        demo.pools.create(admin, "x", "dir", target="/srv/x")
    with pytest.raises(errors.Conflict, match="already exists"):
        demo.pools.create(admin, "default", "dir", host="node1", target="/srv/x")
    with pytest.raises(errors.Conflict, match="pass --host"):
        demo.pools.get(admin, "default")


def test_bad_input_changes_nothing(demo, admin):
    before = demo.pools.list(admin)
    vols_before = demo.volumes.list(admin, host="node1")
    with pytest.raises(errors.InvalidInput, match="absolute"):
        demo.pools.create(admin, "p", "dir", host="node1", target="relative/dir")
    with pytest.raises(errors.InvalidInput, match="bad characters"):
        demo.pools.create(admin, "it's", "dir", host="node1", target="/srv/x")
    with pytest.raises(errors.InvalidInput, match="greater than zero"):
        demo.volumes.create(admin, "v1", "default", "-1", host="node1")
    with pytest.raises(errors.InvalidInput, match="1 PiB"):
        demo.volumes.create(admin, "v1", "default", "10E", host="node1")
    with pytest.raises(errors.InvalidInput, match="bad characters"):
        demo.volumes.create(admin, "it's", "default", "1G", host="node1")
    with pytest.raises(errors.NotFound, match="no storage pool"):
        demo.volumes.create(admin, "v1", "nopool", "1G", host="node1")
    with pytest.raises(errors.NotFound, match="no storage pool"):
        demo.volumes.create(admin, "v1", "nopool", "1G")
    assert demo.pools.list(admin) == before
    assert demo.volumes.list(admin, host="node1") == vols_before


def test_volume_create_list_clone_delete(demo, admin):
    for fmt in ("raw", "qcow2", "vmdk"):
        row = demo.volumes.create(admin, f"data.{fmt}", "default", "2G", fmt, host="node2")
        assert row["format"] == fmt and row["capacity"] == 2 * 1024**3
    names = {r["name"] for r in demo.volumes.list(admin, pool="default", host="node2")}
    assert {"data.raw", "data.qcow2", "data.vmdk"} <= names
    with pytest.raises(errors.Conflict):
        demo.volumes.create(admin, "data.raw", "default", "1G", host="node2")
    c = demo.volumes.clone(admin, "data.qcow2", "default", "copy.qcow2", host="node2")
    assert c["format"] == "qcow2" and c["capacity"] == 2 * 1024**3
    shown = demo.volumes.get(admin, "copy.qcow2", "default", host="node2")
    assert shown["bootable"] is True and shown["attached_to"] == []
    demo.volumes.delete(admin, "copy.qcow2", "default", host="node2")
    with pytest.raises(errors.NotFound):
        demo.volumes.get(admin, "copy.qcow2", "default", host="node2")


def test_unsupported_on_test_driver_said_clearly(demo, admin, tmp_path):
    demo.volumes.create(admin, "d.raw", "default", "1G", host="node1")
    with pytest.raises(errors.NotSupported, match="not supported"):
        demo.volumes.resize(admin, "d.raw", "default", "2G", host="node1")
    with pytest.raises(errors.NotSupported):
        demo.volumes.wipe(admin, "d.raw", "default", host="node1")
    src = tmp_path / "disk.img"
    src.write_bytes(b"x" * 4096)
    with pytest.raises(errors.NotSupported):
        demo.volumes.upload(admin, "up.raw", "default", str(src), host="node1")
    # the failed upload left no volume behind
    names = {r["name"] for r in demo.volumes.list(admin, pool="default", host="node1")}
    assert "up.raw" not in names
    server = demo.servers.list(admin, host="node1")[0]["name"]
    with pytest.raises(errors.NotSupported, match="cannot attach"):
        demo.volumes.attach(admin, "d.raw", "default", server, host="node1")


def test_shrink_needs_flag(demo, admin):
    demo.volumes.create(admin, "s.raw", "default", "2G", host="node1")
    with pytest.raises(errors.InvalidInput, match="--shrink"):
        demo.volumes.resize(admin, "s.raw", "default", "1G", host="node1")


def test_pool_with_volumes_refuses_delete(demo, admin):
    demo.pools.create(admin, "p2", "dir", host="node3", target="/srv/p2")
    demo.volumes.create(admin, "v.raw", "p2", "1G", host="node3")
    with pytest.raises(errors.Conflict, match="--delete-volumes"):
        demo.pools.delete(admin, "p2", host="node3")
    out = demo.pools.delete(admin, "p2", host="node3", delete_volumes=True)
    assert out["deleted_volumes"] == ["v.raw"]


def test_volume_in_stopped_pool(demo, admin):
    demo.pools.create(admin, "p3", "dir", host="node1", target="/srv/p3")
    demo.pools.stop(admin, "p3", host="node1")
    with pytest.raises(errors.Conflict, match="not running"):
        demo.volumes.create(admin, "v.raw", "p3", "1G", host="node1")


def test_audit_records_mutations(demo, admin):
    demo.pools.create(admin, "aud", "dir", host="node1", target="/srv/aud")
    with pytest.raises(errors.InvalidInput):
        demo.volumes.resize(admin, "nope", "aud", "-1", host="node1")
    with pytest.raises(errors.NotFound):
        demo.volumes.resize(admin, "nope", "aud", "2G", host="node1")
    recs = demo.identity.audit_log.list(action="pool:create")
    assert recs[0]["outcome"] == "success"
    fails = demo.identity.audit_log.list(action="volume:resize")
    assert fails and fails[0]["outcome"] == "failure"


def test_policy_member_cannot_create_pool(demo):
    from backend.api.context import RequestContext
    member = RequestContext(user_id="u1", user_name="alice", project_id="p1",
                            project_name="demo", roles=("member",))
    with pytest.raises(errors.PolicyDenied):
        demo.pools.create(member, "mine", "dir", host="node1", target="/srv/mine")
    assert all(r["name"] != "mine" for r in demo.pools.list(demo_ctx()))


def demo_ctx():
    from backend.api.context import RequestContext
    return RequestContext.system()


def test_demo_state_persists_across_clouds(tmp_path, admin):
    from backend.api.cloud import Cloud
    from backend.virt.demo import demo_settings
    c1 = Cloud(demo_settings(tmp_path), connect=False)
    c1.pools.create(admin, "kept", "dir", host="node1", target="/srv/kept")
    c1.volumes.create(admin, "kept.qcow2", "kept", "1G", "qcow2", host="node1")
    c1.close()
    c2 = Cloud(demo_settings(tmp_path), connect=False)
    try:
        assert c2.pools.get(admin, "kept", host="node1")["state"] == "running"
        assert c2.volumes.get(admin, "kept.qcow2", "kept", host="node1")["format"] == "qcow2"
    finally:
        c2.close()


def test_logical_pool_volume_is_never_a_boot_disk(demo, admin):
    """The test driver keeps an LVM pool's definition (no LVM needed): its volumes are raw
    LVs, refused as boot disks with the reason, allowed as data disks."""
    row = demo.pools.create(admin, "vg0", "logical", host="node1")
    assert row["type"] == "logical" and row["target"] == "/dev/vg0"
    demo.volumes.create(admin, "lv0", "vg0", "1G", host="node1")
    with pytest.raises(errors.InvalidInput, match="logical volumes, not qcow2"):
        demo.volumes.create(admin, "lv1", "vg0", "1G", "qcow2", host="node1")
    with pytest.raises(errors.InvalidInput, match="no boot record"):
        demo.volumes.check_boot(admin, "lv0", "vg0", host="node1")
    assert demo.volumes.get(admin, "lv0", "vg0", host="node1")["bootable"] is False
    demo.volumes.check_boot(admin, "api-01.qcow2", "default", host="node1")


def test_cli_check_boot(cli_env, capsys):
    import json as _json
    from tui.cli import main
    assert main(["--demo", "pool", "create", "vg0", "--type", "logical", "--host",
                 "node2"]) == 0
    assert main(["--demo", "volume", "create", "lv0", "--pool", "vg0", "--size", "1G",
                 "--host", "node2"]) == 0
    capsys.readouterr()
    code = main(["--demo", "volume", "check-boot", "lv0", "--pool", "vg0", "--host", "node2"])
    _, err = capsys.readouterr()
    assert code == 2 and "boot record" in err
    code = main(["--demo", "-f", "json", "volume", "check-boot", "api-02.qcow2", "--pool",
                 "default", "--host", "node2"])
    out, err = capsys.readouterr()
    assert code == 0 and _json.loads(out)["bootable"] is True, err

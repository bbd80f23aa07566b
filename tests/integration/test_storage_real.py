"""Storage on the real daemon (libvirtd + QEMU): a dir pool, raw/qcow2 volumes, resize, clone,
wipe, stream upload with progress and download, an interrupted upload leaving nothing, a data
disk attached to a running TCG guest; netfs/iscsi/rbd refused clearly when their source is
unreachable; logical pools where the kernel has device-mapper."""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

import libvirt
import pytest

from backend import errors
from backend.api.cloud import Cloud
from backend.api.context import RequestContext
from backend.config import HostConfig, Settings
from backend.storage.transfer import TransferCancelled
from tests.realhost import tiny_domain_xml

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, real_host):
    base = tmp_path_factory.mktemp("storage-real")
    settings = Settings(hosts=[HostConfig(name="real", uri=real_host.local_uri)],
                        db_url=f"sqlite:///{base / 'state.db'}", data_dir=base,
                        state_dir=base / "state")
    c = Cloud(settings)
    assert c.registry.get("real").state == "connected"
    yield c
    c.close()


@pytest.fixture(scope="module")
def ctx():
    return RequestContext.system()


@pytest.fixture(scope="module")
def pool(cloud, ctx):
    # Not under pytest's 0700 tmp dir: the qemu user must reach the volumes of a guest.
    base = Path(tempfile.mkdtemp(prefix="vs-it-pool-"))
    base.chmod(0o755)
    target = base / "images"
    row = cloud.pools.create(ctx, "vs-it-pool", "dir", host="real", target=str(target))
    yield row
    try:
        cloud.pools.delete(ctx, "vs-it-pool", host="real", delete_volumes=True,
                           delete_data=True)
    except errors.VirtstackError:
        pass
    shutil.rmtree(base, ignore_errors=True)


def test_dir_pool_created_built_started(cloud, ctx, pool):
    assert pool["state"] == "running" and pool["autostart"] and pool["persistent"]
    assert Path(pool["target"]).is_dir()          # build made the directory
    assert pool["capacity"] > 0 and pool["available"] > 0
    assert cloud.pools.refresh(ctx, "vs-it-pool", host="real")["state"] == "running"
    listed = {r["name"] for r in cloud.pools.list(ctx, host="real")}
    assert "vs-it-pool" in listed


def test_volumes_raw_qcow2_resize_clone_wipe_delete(cloud, ctx, pool):
    raw = cloud.volumes.create(ctx, "it-raw.img", "vs-it-pool", "8M", "raw", host="real")
    assert raw["capacity"] == 8 * MiB and os.path.getsize(raw["path"]) == 8 * MiB
    q = cloud.volumes.create(ctx, "it.qcow2", "vs-it-pool", "64M", "qcow2", host="real")
    assert q["format"] == "qcow2" and q["allocation"] < 64 * MiB   # thin
    with open(q["path"], "rb") as f:
        assert f.read(4) == b"QFI\xfb"
    full = cloud.volumes.create(ctx, "it-full.img", "vs-it-pool", "4M", "raw", host="real",
                                allocation="full")
    assert full["allocation"] >= 4 * MiB
    grown = cloud.volumes.resize(ctx, "it-raw.img", "vs-it-pool", "16M", host="real")
    assert grown["capacity"] == 16 * MiB
    with pytest.raises(errors.InvalidInput, match="--shrink"):
        cloud.volumes.resize(ctx, "it-raw.img", "vs-it-pool", "1M", host="real")
    qg = cloud.volumes.resize(ctx, "it.qcow2", "vs-it-pool", "128M", host="real")
    assert qg["capacity"] == 128 * MiB
    clone = cloud.volumes.clone(ctx, "it.qcow2", "vs-it-pool", "it-clone.qcow2", host="real")
    assert clone["format"] == "qcow2" and clone["capacity"] == 128 * MiB
    cloud.volumes.wipe(ctx, "it-full.img", "vs-it-pool", host="real")
    for name in ("it-raw.img", "it.qcow2", "it-full.img", "it-clone.qcow2"):
        cloud.volumes.delete(ctx, name, "vs-it-pool", host="real")
    assert cloud.volumes.list(ctx, pool="vs-it-pool", host="real") == []


def test_bad_input_changes_nothing(cloud, ctx, pool):
    before = cloud.volumes.list(ctx, pool="vs-it-pool", host="real")
    with pytest.raises(errors.InvalidInput):
        cloud.volumes.create(ctx, "x.img", "vs-it-pool", "-1", host="real")
    with pytest.raises(errors.InvalidInput):
        cloud.volumes.create(ctx, "x.img", "vs-it-pool", "10EiB", host="real")
    with pytest.raises(errors.InvalidInput):
        cloud.volumes.create(ctx, "it's.img", "vs-it-pool", "1M", host="real")
    with pytest.raises(errors.NotFound):
        cloud.volumes.create(ctx, "x.img", "no-such-pool", "1M", host="real")
    with pytest.raises(errors.InvalidInput):
        cloud.pools.create(ctx, "rel", "dir", host="real", target="relative/dir")
    assert cloud.volumes.list(ctx, pool="vs-it-pool", host="real") == before
    assert "rel" not in {r["name"] for r in cloud.pools.list(ctx, host="real")}


def test_upload_with_progress_and_download(cloud, ctx, pool, tmp_path):
    src = tmp_path / "disk.raw"
    payload = os.urandom(3 * MiB + 12345)
    src.write_bytes(payload)
    calls: list[tuple[int, int]] = []
    row = cloud.volumes.upload(ctx, "up.raw", "vs-it-pool", str(src), host="real",
                               progress=lambda d, t: calls.append((d, t)))
    assert row["uploaded_bytes"] == len(payload) and row["capacity"] == len(payload)
    assert len(calls) == 4 and calls[-1] == (len(payload), len(payload))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    dest = tmp_path / "back.raw"
    seen: list[tuple[int, int]] = []
    out = cloud.volumes.download(ctx, "up.raw", "vs-it-pool", str(dest), host="real",
                                 progress=lambda d, t: seen.append((d, t)))
    assert out["bytes"] == len(payload) and dest.read_bytes() == payload
    assert seen and seen[-1][0] == len(payload)
    assert not (tmp_path / "back.raw.part").exists()
    with pytest.raises(errors.Conflict, match="--overwrite"):
        cloud.volumes.download(ctx, "up.raw", "vs-it-pool", str(dest), host="real")
    cloud.volumes.delete(ctx, "up.raw", "vs-it-pool", host="real")


def test_qcow2_upload_keeps_its_format(cloud, ctx, pool, tmp_path):
    import subprocess
    img = tmp_path / "small.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(img), "32M"], check=True)
    row = cloud.volumes.upload(ctx, "small.qcow2", "vs-it-pool", str(img), host="real")
    assert row["format"] == "qcow2" and row["capacity"] == 32 * MiB
    cloud.volumes.delete(ctx, "small.qcow2", "vs-it-pool", host="real")


def test_interrupted_upload_leaves_no_volume(cloud, ctx, pool, tmp_path):
    src = tmp_path / "big.raw"
    src.write_bytes(os.urandom(4 * MiB))
    cancel = threading.Event()

    def progress(done, total):
        cancel.set()   # the user presses Esc after the first chunk

    with pytest.raises(TransferCancelled, match="removed"):
        cloud.volumes.upload(ctx, "half.raw", "vs-it-pool", str(src), host="real",
                             progress=progress, cancel=cancel)
    names = {r["name"] for r in cloud.volumes.list(ctx, pool="vs-it-pool", host="real")}
    assert "half.raw" not in names
    assert not (Path(pool["target"]) / "half.raw").exists()


def _fresh_domain(conn, cloud, name, acpi):
    try:
        old = conn.lookupByName(name)
        if old.isActive():
            old.destroy()
        old.undefine()
    except libvirt.libvirtError:
        pass
    xml = tiny_domain_xml(name)
    if acpi:   # PCI hotplug on the pc machine needs ACPI
        xml = xml.replace("<devices>", "<features><acpi /></features><devices>", 1)
    conn.defineXML(xml)
    cloud.registry.get("real")._refresh_one(conn.lookupByName(name).UUIDString())
    return conn.lookupByName(name)


def _drop_domain(conn, name):
    try:
        dom = conn.lookupByName(name)
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    except libvirt.libvirtError:
        pass


def test_attach_detach_data_disk_live_and_persistent(cloud, ctx, pool, real_host):
    conn = libvirt.open(real_host.local_uri)
    name = "vs-storage-vm"
    try:
        dom = _fresh_domain(conn, cloud, name, acpi=True)
        cloud.volumes.create(ctx, "data.qcow2", "vs-it-pool", "16M", "qcow2", host="real")
        # shut off: persistent definition only
        out = cloud.volumes.attach(ctx, "data.qcow2", "vs-it-pool", name, host="real")
        assert out["live"] is False and out["target"] == "vdb" and "next start" in out["note"]
        assert cloud.volumes.get(ctx, "data.qcow2", "vs-it-pool", host="real")[
            "attached_to"] == [name]
        with pytest.raises(errors.Conflict, match="detach it first"):
            cloud.volumes.delete(ctx, "data.qcow2", "vs-it-pool", host="real")
        cloud.volumes.detach(ctx, "data.qcow2", "vs-it-pool", name, host="real")
        # running: live and persistent
        dom.create()
        out = cloud.volumes.attach(ctx, "data.qcow2", "vs-it-pool", name, host="real")
        assert out["live"] is True and out["persistent"] is True, out
        assert "data.qcow2" in dom.XMLDesc(0)
        assert "data.qcow2" in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        assert cloud.volumes.detach(ctx, "data.qcow2", "vs-it-pool", name,
                                    host="real")["detached"]
        assert "data.qcow2" not in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    finally:
        _drop_domain(conn, name)
        conn.close()
        try:
            cloud.volumes.delete(ctx, "data.qcow2", "vs-it-pool", host="real")
        except errors.VirtstackError:
            pass


def test_attach_to_running_vm_without_hotplug_goes_to_config(cloud, ctx, pool, real_host):
    conn = libvirt.open(real_host.local_uri)
    name = "vs-storage-vm2"
    try:
        dom = _fresh_domain(conn, cloud, name, acpi=False)
        dom.create()
        cloud.volumes.create(ctx, "d2.raw", "vs-it-pool", "8M", host="real")
        out = cloud.volumes.attach(ctx, "d2.raw", "vs-it-pool", name, host="real")
        assert out["live"] is False and "hotplug" in out["note"], out
        assert "d2.raw" in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        assert "d2.raw" not in dom.XMLDesc(0)
    finally:
        _drop_domain(conn, name)
        conn.close()
        try:
            cloud.volumes.delete(ctx, "d2.raw", "vs-it-pool", host="real")
        except errors.VirtstackError:
            pass


@pytest.mark.parametrize("ptype,spec", [
    ("netfs", {"source_host": "127.0.0.1", "source_dir": "/vs-no-such-export"}),
    ("iscsi", {"source_host": "127.0.0.1", "iqn": "iqn.2026-11.org.example:none"}),
    ("rbd", {"source_host": "127.0.0.1", "source_port": 1, "source_name": "rbd"}),
])
def test_remote_pool_unreachable_source_is_a_clear_error(cloud, ctx, tmp_path, ptype, spec):
    if ptype == "netfs":
        spec = dict(spec, target=str(tmp_path / "mnt"))
    name = f"vs-it-{ptype}"
    with pytest.raises(errors.VirtstackError) as info:
        cloud.pools.create(ctx, name, ptype, host="real", **spec)
    msg = info.value.message
    print(f"{ptype}: {msg}")
    assert isinstance(info.value, (errors.OperationFailed, errors.NotSupported,
                                   errors.HostUnavailable))
    assert ("unreachable" in msg or "not supported" in msg), msg
    assert name not in {r["name"] for r in cloud.pools.list(ctx, host="real")}


def _device_mapper_missing() -> str | None:
    if not os.path.exists("/dev/mapper/control"):
        return ("this kernel has no device-mapper (/dev/mapper/control missing): LVM volume "
                "groups, hence logical pools, cannot be created here")
    if shutil.which("vgcreate") is None or shutil.which("losetup") is None:
        return "lvm2 (vgcreate) or losetup is not installed"
    return None


def test_logical_pool_on_a_loop_device(cloud, ctx, tmp_path):
    reason = _device_mapper_missing()
    if reason:
        pytest.skip(reason)
    import subprocess
    backing = tmp_path / "pv.img"
    with open(backing, "wb") as f:
        f.truncate(64 * MiB)
    loop = subprocess.run(["losetup", "--find", "--show", str(backing)], check=True,
                          capture_output=True, text=True).stdout.strip()
    vg = "vsitvg"
    try:
        row = cloud.pools.create(ctx, vg, "logical", host="real", source_devices=[loop])
        assert row["type"] == "logical" and row["state"] == "running"
        lv = cloud.volumes.create(ctx, "lv0", vg, "8M", host="real")
        assert lv["path"] == f"/dev/{vg}/lv0" and lv["type"] == "block"
        with pytest.raises(errors.InvalidInput, match="no boot record"):
            cloud.volumes.check_boot(ctx, "lv0", vg, host="real")
        cloud.volumes.delete(ctx, "lv0", vg, host="real")
    finally:
        try:
            cloud.pools.delete(ctx, vg, host="real", delete_volumes=True, delete_data=True)
        except errors.VirtstackError:
            pass
        subprocess.run(["losetup", "-d", loop], capture_output=True)


def test_logical_volume_refused_as_boot_disk(cloud, ctx, pool):
    # the refusal itself needs no LVM: it is decided from the pool's type
    from backend.storage.xml import check_boot_disk
    with pytest.raises(errors.InvalidInput, match="no boot record"):
        check_boot_disk("logical", "vg0", "lv0")
    cloud.volumes.create(ctx, "boot.qcow2", "vs-it-pool", "8M", "qcow2", host="real")
    cloud.volumes.check_boot(ctx, "boot.qcow2", "vs-it-pool", host="real")   # dir: fine
    cloud.volumes.delete(ctx, "boot.qcow2", "vs-it-pool", host="real")


def test_import_converts_with_progress(cloud, ctx, pool, tmp_path):
    src = tmp_path / "src.raw"
    with open(src, "wb") as f:
        f.write(os.urandom(MiB))
        f.truncate(8 * MiB)
    phases: list[str] = []
    calls: list[tuple[int, int]] = []
    row = cloud.volumes.import_image(ctx, "imported.qcow2", "vs-it-pool", str(src), "qcow2",
                                     host="real", on_phase=phases.append,
                                     progress=lambda d, t: calls.append((d, t)))
    assert phases == ["convert", "upload"]
    assert (10000, 10000) in calls and calls[-1][0] == calls[-1][1]
    assert row["format"] == "qcow2" and row["capacity"] == 8 * MiB
    with open(row["path"], "rb") as f:
        assert f.read(4) == b"QFI\xfb"
    cloud.volumes.delete(ctx, "imported.qcow2", "vs-it-pool", host="real")


def test_cli_upload_shows_progress_on_stderr(real_host, tmp_path, pool):
    """The CLI face on the real daemon: a progress bar on stderr, JSON on stdout."""
    import json
    import subprocess
    import sys
    repo = Path(__file__).resolve().parents[2]
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[state]\ndb_url = "sqlite:///{tmp_path / "s.db"}"\n\n'
                   f'[[hosts]]\nname = "real"\nuri = "{real_host.local_uri}"\n')
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "d"), XDG_STATE_HOME=str(tmp_path / "s"),
               XDG_CONFIG_HOME=str(tmp_path / "c"), VIRTSTACK_CONFIG=str(cfg))
    for v in ("VIRTSTACK_TOKEN", "VIRTSTACK_DB_URL"):
        env.pop(v, None)
    pw = tmp_path / "pw"
    pw.write_text("Integration-Test-Pw-1\n")
    pw.chmod(0o600)
    boot = subprocess.run([sys.executable, "-m", "tui.cli", "bootstrap",
                           "--admin-password-file", str(pw)], env=env, cwd=repo,
                          capture_output=True, text=True, timeout=120)
    assert boot.returncode == 0, boot.stderr
    env.update(VIRTSTACK_USERNAME="admin", VIRTSTACK_PASSWORD="Integration-Test-Pw-1",
               VIRTSTACK_PROJECT="admin")
    src = tmp_path / "cli.raw"
    src.write_bytes(os.urandom(2 * MiB + 1))
    up = subprocess.run([sys.executable, "-m", "tui.cli", "-f", "json", "volume", "upload",
                         "cli.raw", "--pool", "vs-it-pool", "--host", "real", str(src)],
                        env=env, cwd=repo, capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, up.stderr
    assert "upload cli.raw [" in up.stderr and "100.0%" in up.stderr
    assert json.loads(up.stdout)["capacity"] == 2 * MiB + 1
    rm = subprocess.run([sys.executable, "-m", "tui.cli", "volume", "delete", "cli.raw",
                         "--pool", "vs-it-pool", "--host", "real", "--yes"], env=env,
                        cwd=repo, capture_output=True, text=True, timeout=120)
    assert rm.returncode == 0, rm.stderr

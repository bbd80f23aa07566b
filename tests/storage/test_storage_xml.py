"""Pool and volume XML: built with ElementTree, validated before libvirt sees it."""
import xml.etree.ElementTree as ET

import pytest

from backend.errors import InvalidInput
from backend.storage.xml import check_boot_disk, disk_xml, pool_xml, volume_xml


def test_dir_pool_xml():
    root = ET.fromstring(pool_xml("images", "dir", target="/srv/images/"))
    assert root.get("type") == "dir"
    assert root.findtext("name") == "images"
    assert root.findtext("target/path") == "/srv/images"


@pytest.mark.parametrize("target", ["relative/path", "images", "", "/srv/../etc",
                                    "/srv/it's", "/srv/a b", "/srv/<x>", "/"])
def test_dir_pool_rejects_bad_targets(target):
    with pytest.raises(InvalidInput):
        pool_xml("p", "dir", target=target)


@pytest.mark.parametrize("name", ["it's", "a<b", "", "a b", "-lead", "x" * 64, "a&b"])
def test_pool_rejects_unsafe_names(name):
    with pytest.raises(InvalidInput):
        pool_xml(name, "dir", target="/srv/p")


def test_logical_pool_xml():
    root = ET.fromstring(pool_xml("vg0", "logical", source_devices=["/dev/loop7"]))
    assert root.get("type") == "logical"
    assert root.find("source/device").get("path") == "/dev/loop7"
    assert root.findtext("source/name") == "vg0"
    assert root.find("source/format").get("type") == "lvm2"
    assert root.findtext("target/path") == "/dev/vg0"
    with pytest.raises(InvalidInput):
        pool_xml("vg0", "logical", source_devices=["loop7"])


def test_netfs_pool_xml_and_required_fields():
    root = ET.fromstring(pool_xml("nfs1", "netfs", source_host="nas.example.org",
                                  source_dir="/export/vms", target="/mnt/nfs1"))
    assert root.find("source/host").get("name") == "nas.example.org"
    assert root.find("source/dir").get("path") == "/export/vms"
    assert root.find("source/format").get("type") == "nfs"
    assert root.findtext("target/path") == "/mnt/nfs1"
    with pytest.raises(InvalidInput, match="source-host"):
        pool_xml("nfs1", "netfs", source_dir="/export", target="/mnt/x")
    with pytest.raises(InvalidInput, match="target"):
        pool_xml("nfs1", "netfs", source_host="nas", source_dir="/export")
    with pytest.raises(InvalidInput, match="source host"):
        pool_xml("nfs1", "netfs", source_host="bad host;rm", source_dir="/e", target="/m")
    with pytest.raises(InvalidInput, match="absolute"):
        pool_xml("nfs1", "netfs", source_host="nas", source_dir="export", target="/m")


def test_iscsi_pool_xml():
    root = ET.fromstring(pool_xml("san", "iscsi", source_host="10.0.0.5",
                                  iqn="iqn.2026-11.org.example:disk1"))
    assert root.find("source/host").get("name") == "10.0.0.5"
    assert root.find("source/device").get("path") == "iqn.2026-11.org.example:disk1"
    assert root.findtext("target/path") == "/dev/disk/by-path"
    with pytest.raises(InvalidInput, match="iqn"):
        pool_xml("san", "iscsi", source_host="10.0.0.5", iqn="not an iqn")
    with pytest.raises(InvalidInput):
        pool_xml("san", "iscsi", iqn="iqn.2026-11.org.example:disk1")


def test_rbd_pool_xml():
    root = ET.fromstring(pool_xml("ceph", "rbd", source_host="mon1", source_port=6789,
                                  source_name="rbd", auth_user="libvirt",
                                  secret_uuid="2ec115d7-3a88-3ceb-bc12-0ac909a6fd87"))
    assert root.find("source/host").get("port") == "6789"
    assert root.findtext("source/name") == "rbd"
    assert root.find("source/auth").get("username") == "libvirt"
    assert root.find("source/auth/secret").get("uuid").startswith("2ec115d7")
    assert root.find("target") is None
    with pytest.raises(InvalidInput):
        pool_xml("ceph", "rbd", source_host="mon1")
    with pytest.raises(InvalidInput):
        pool_xml("ceph", "rbd", source_host="mon1", source_name="rbd", auth_user="x")
    with pytest.raises(InvalidInput, match="port"):
        pool_xml("ceph", "rbd", source_host="mon1", source_name="rbd", source_port=70000)


def test_unknown_pool_type():
    with pytest.raises(InvalidInput, match="unknown pool type"):
        pool_xml("p", "zfs", target="/x")


def test_volume_xml_formats_and_allocation():
    raw = ET.fromstring(volume_xml("a.img", "10G", "raw"))
    assert raw.findtext("capacity") == str(10 * 1024**3)
    assert raw.findtext("allocation") == "0"
    full = ET.fromstring(volume_xml("a.img", "1G", "raw", allocation="full"))
    assert full.findtext("allocation") == str(1024**3)
    q = ET.fromstring(volume_xml("b.qcow2", "1G", "qcow2", backing="/srv/base.qcow2"))
    assert q.find("target/format").get("type") == "qcow2"
    assert q.findtext("backingStore/path") == "/srv/base.qcow2"
    v = ET.fromstring(volume_xml("c.vmdk", "1G", "vmdk"))
    assert v.find("target/format").get("type") == "vmdk"


@pytest.mark.parametrize("size", ["-1", -1, "0", "10E", "10EiB", "abc", "1X"])
def test_volume_xml_rejects_bad_sizes(size):
    with pytest.raises(InvalidInput):
        volume_xml("v", size, "raw")


def test_volume_xml_rejects_bad_format_and_backing():
    with pytest.raises(InvalidInput):
        volume_xml("v", "1G", "vdi")
    with pytest.raises(InvalidInput, match="backing"):
        volume_xml("v", "1G", "raw", backing="/srv/base.qcow2")
    with pytest.raises(InvalidInput):
        volume_xml("v", "1G", "qcow2", backing="base.qcow2")
    with pytest.raises(InvalidInput):
        volume_xml("it's", "1G", "raw")


def test_disk_xml_and_boot_check():
    d = ET.fromstring(disk_xml("default", "data.raw", "raw", "vdb"))
    assert d.get("type") == "volume"
    assert d.find("source").attrib == {"pool": "default", "volume": "data.raw"}
    assert d.find("target").get("dev") == "vdb"
    check_boot_disk("dir", "default", "x")
    with pytest.raises(InvalidInput, match="boot record"):
        check_boot_disk("logical", "vg0", "lv1")

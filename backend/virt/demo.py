"""The embedded demo cloud: three libvirt test-driver hosts, one ``<node>`` XML file each.

Every new connection to a test-driver file starts from the file, so the demo writes each
host's state back after every change (``LibvirtHost._persist``): a stop made by one
``virtstack --demo`` command is what the next one sees.
"""
from __future__ import annotations

import random
import uuid as uuidlib
import xml.etree.ElementTree as ET
from pathlib import Path

from backend.config import HostConfig, Settings, data_dir
from backend.virt.libvirt.xml import TEST_NS, text_el

DEMO_HOSTS = [
    # name, cores, memory GiB, availability zone, VM count
    ("node1", 8, 32, "az1", 5),
    ("node2", 16, 64, "az1", 7),
    ("node3", 32, 128, "az2", 8),
]
ROLES = ["web", "db", "cache", "api", "worker", "mq", "ci", "lb", "mon", "dns", "mail", "vpn"]
FLAVOR_SHAPES = [(1, 512), (1, 1024), (2, 2048), (2, 4096), (4, 8192), (8, 16384)]
RUNSTATES = [1, 1, 1, 1, 5, 5, 3]  # mostly running, some shut off, a few paused


def demo_dir(base: Path | None = None) -> Path:
    return (base or data_dir()) / "demo"


def host_node_xml(name: str, cores: int, mem_gib: int, vms: list[dict], pool_dir: str,
                  net_index: int) -> ET.Element:
    node = ET.Element("node")
    cpu = ET.SubElement(node, "cpu")
    for tag, val in (("mhz", 2400), ("model", "x86_64"), ("active", cores), ("nodes", 1),
                     ("sockets", 1), ("cores", cores), ("threads", 1)):
        text_el(cpu, tag, val)
    text_el(node, "memory", mem_gib * 1024 * 1024)
    for vm in vms:
        dom = ET.SubElement(node, "domain", type="test")
        text_el(dom, "name", vm["name"])
        text_el(dom, "uuid", vm["uuid"])
        text_el(dom, "memory", vm["memory_mb"] * 1024, unit="KiB")
        text_el(dom, "currentMemory", vm["memory_mb"] * 1024, unit="KiB")
        text_el(dom, "vcpu", vm["vcpus"])
        os_el = ET.SubElement(dom, "os")
        text_el(os_el, "type", "hvm", arch="x86_64")
        devices = ET.SubElement(dom, "devices")
        if vm.get("disk"):
            disk = ET.SubElement(devices, "disk", type="file", device="disk")
            text_el(disk, "driver", name="qemu", type="qcow2")
            text_el(disk, "source", file=f"{pool_dir}/{vm['disk']}")
            text_el(disk, "target", dev="vda", bus="virtio")
        iface = ET.SubElement(devices, "interface", type="network")
        text_el(iface, "mac", address=vm["mac"])
        text_el(iface, "source", network="default")
        text_el(iface, "model", type="virtio")
        text_el(dom, f"{{{TEST_NS}}}runstate", vm["runstate"])
    net = ET.SubElement(node, "network")
    text_el(net, "name", "default")
    text_el(net, "bridge", name="virbr0")
    text_el(net, "forward", mode="nat")
    ip = text_el(net, "ip", address=f"192.168.{122 + net_index}.1", netmask="255.255.255.0")
    dhcp = ET.SubElement(ip, "dhcp")
    text_el(dhcp, "range", start=f"192.168.{122 + net_index}.2",
            end=f"192.168.{122 + net_index}.254")
    pool = ET.SubElement(node, "pool", type="dir")
    text_el(pool, "name", "default")
    text_el(pool, "capacity", 2 * 1024**4, unit="bytes")
    text_el(pool, "allocation", 0, unit="bytes")
    text_el(pool, "available", 2 * 1024**4, unit="bytes")
    target = ET.SubElement(pool, "target")
    text_el(target, "path", pool_dir)
    for vm in vms:
        if not vm.get("disk"):
            continue
        vol = ET.SubElement(pool, "volume")
        text_el(vol, "name", vm["disk"])
        text_el(vol, "capacity", vm["disk_gb"] * 1024**3, unit="bytes")
        text_el(vol, "allocation", vm["disk_gb"] * 1024**3 // 4, unit="bytes")
        vt = ET.SubElement(vol, "target")
        text_el(vt, "format", type="qcow2")
    return node


def make_vms(host: str, count: int, rng: random.Random, start_index: int = 0,
             with_disks: bool = True) -> list[dict]:
    vms = []
    for i in range(count):
        n = start_index + i
        vcpus, mem = rng.choice(FLAVOR_SHAPES)
        name = f"{ROLES[n % len(ROLES)]}-{n // len(ROLES) + 1:02d}"
        vm = {"name": name, "uuid": str(uuidlib.UUID(int=rng.getrandbits(128), version=4)),
              "vcpus": vcpus, "memory_mb": mem, "runstate": rng.choice(RUNSTATES),
              "mac": "52:54:00:%02x:%02x:%02x" % (rng.randrange(256), rng.randrange(256),
                                                  rng.randrange(256))}
        if with_disks:
            vm["disk"] = f"{name}.qcow2"
            vm["disk_gb"] = rng.choice([10, 20, 40])
        vms.append(vm)
    return vms


def write_demo_hosts(directory: Path, hosts=DEMO_HOSTS, seed: int = 42,
                     force: bool = False) -> list[HostConfig]:
    """Write one node XML per host (unless present) and return their host configs."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    configs = []
    index = 0
    for i, (name, cores, mem_gib, az, count) in enumerate(hosts):
        path = directory / f"{name}.xml"
        vms = make_vms(name, count, rng, start_index=index, with_disks=count <= 200)
        index += count
        if force or not path.exists():
            node = host_node_xml(name, cores, mem_gib, vms, f"/var/lib/libvirt/images/{name}", i)
            tmp = path.with_suffix(".tmp")
            ET.ElementTree(node).write(tmp, encoding="unicode")
            tmp.replace(path)
        configs.append(HostConfig(name=name, uri=f"test://{path.resolve()}",
                                  availability_zone=az))
    return configs


def demo_settings(base: Path | None = None) -> Settings:
    settings = Settings(demo=True)
    if base is not None:
        settings.data_dir = base
        settings.state_dir = base / "state"
    settings.hosts = write_demo_hosts(demo_dir(settings.data_dir))
    return settings


DEMO_IMAGE = "demo-tiny"


def seed_demo_images(cloud, ctx) -> None:
    """A fresh demo cloud gets one small raw image, so a server can be created at once
    (the test driver keeps volume metadata only: the bits are a few zero bytes)."""
    if cloud.images.list(ctx):
        return
    path = Path(cloud.settings.data_dir) / "demo" / f"{DEMO_IMAGE}.raw"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(1024 * 1024)
    cloud.images.create(ctx, DEMO_IMAGE, str(path), disk_format="raw")


def is_demo_host(cfg: HostConfig) -> bool:
    return cfg.uri.startswith("test:///") and cfg.uri != "test:///default"

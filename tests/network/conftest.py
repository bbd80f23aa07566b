"""Network tests: namespaces made (and deleted) by the tests."""
import subprocess
import uuid

import pytest



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

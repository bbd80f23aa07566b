"""The RealHost helper gives a working, verified qemu+ssh host and stops cleanly."""

from __future__ import annotations

import os
import subprocess
import time

import libvirt
import pytest

from tests.realhost import tiny_domain_xml


def _open(uri: str) -> libvirt.virConnect:
    return libvirt.open(uri)


def test_connects_over_ssh_to_our_own_daemon(real_host):
    conn = _open(real_host.uri)
    try:
        assert conn.getType() == "QEMU"
        assert conn.getURI().startswith("qemu+ssh://root@127.0.0.1:")
        assert conn.isAlive()
        local = _open(real_host.local_uri)  # the same daemon, without ssh
        try:
            assert local.getHostname() == conn.getHostname()
        finally:
            local.close()
    finally:
        conn.close()


def test_wrong_host_key_is_refused(real_host, tmp_path):
    # A different ed25519 key for the same [127.0.0.1]:PORT: a "changed host key".
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
                   check=True, stdin=subprocess.DEVNULL)
    kind, blob = (tmp_path / "other_key.pub").read_text().split()[:2]
    wrong = tmp_path / "known_hosts_wrong"
    wrong.write_text(f"[127.0.0.1]:{real_host.port} {kind} {blob}\n")
    with pytest.raises(libvirt.libvirtError):
        _open(real_host.remote_uri(known_hosts=wrong))

    empty = tmp_path / "known_hosts_empty"  # an unknown host is refused as well
    empty.write_text("")
    with pytest.raises(libvirt.libvirtError):
        _open(real_host.remote_uri(known_hosts=empty))

    right = tmp_path / "known_hosts_right"  # the same path with the real key works
    right.write_text(real_host.host_key_line())
    _open(real_host.remote_uri(known_hosts=right)).close()


def test_changed_host_key_is_refused_until_accepted(real_host):
    old_line = real_host.known_hosts.read_text()
    new_line = real_host.replace_host_key()
    assert new_line != old_line
    with pytest.raises(libvirt.libvirtError):
        _open(real_host.uri)
    real_host.known_hosts.write_text(new_line)
    _open(real_host.uri).close()


def test_tiny_tcg_guest_runs(real_host):
    name = f"smoke-{os.getpid()}"
    conn = _open(real_host.uri)
    try:
        dom = conn.defineXML(tiny_domain_xml(name))
        try:
            dom.create()
            assert dom.isActive()
            assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
            assert name in [d.name() for d in conn.listAllDomains(
                libvirt.VIR_CONNECT_LIST_DOMAINS_RUNNING)]
            dom.destroy()
            assert dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
        finally:
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        assert name not in [d.name() for d in conn.listAllDomains()]
    finally:
        conn.close()


def test_sshd_outage_and_recovery(real_host):
    conn = _open(real_host.uri)
    real_host.stop_sshd()
    try:
        with pytest.raises(libvirt.libvirtError):
            _open(real_host.uri)
        # The open session dropped with the daemon, as on a real outage.
        deadline = time.monotonic() + 5
        while conn.isAlive() and time.monotonic() < deadline:
            try:
                conn.getHostname()
            except libvirt.libvirtError:
                break
            time.sleep(0.1)
        assert not conn.isAlive()
    finally:
        real_host.start_sshd()
        try:
            conn.close()
        except libvirt.libvirtError:
            pass
    _open(real_host.uri).close()


def test_libvirtd_restart_keeps_guests(real_host):
    if not real_host.owns_libvirtd:
        pytest.skip("reusing a libvirtd this RealHost did not start: not ours to stop")
    name = f"restart-{os.getpid()}"
    conn = _open(real_host.uri)
    dom = conn.createXML(tiny_domain_xml(name))  # transient
    conn.close()
    real_host.stop_libvirtd()
    try:
        with pytest.raises(libvirt.libvirtError):
            _open(real_host.uri)
    finally:
        real_host.start_libvirtd()
    conn = _open(real_host.uri)
    try:
        dom = conn.lookupByName(name)
        assert dom.isActive()
        dom.destroy()
    finally:
        conn.close()

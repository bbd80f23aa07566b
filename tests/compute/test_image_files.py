"""What an image file may be: a qcow2 with a backing file or a vmdk descriptor names files
elsewhere (on the host, a guest would read them): refused; self-contained images pass."""
from __future__ import annotations

import struct

import pytest

from backend.compute.images import sniff
from backend.errors import InvalidInput


def qcow2_header(virtual: int, backing_offset: int = 0) -> bytes:
    return (b"QFI\xfb" + struct.pack(">I", 3) + struct.pack(">Q", backing_offset)
            + struct.pack(">I", 9 if backing_offset else 0) + struct.pack(">I", 16)
            + struct.pack(">Q", virtual) + b"\0" * 480)


def test_self_contained_qcow2_gives_its_virtual_size(tmp_path):
    f = tmp_path / "ok.qcow2"
    f.write_bytes(qcow2_header(16 << 20))
    assert sniff(f, "qcow2", f.stat().st_size) == 16 << 20


def test_qcow2_with_a_backing_file_is_refused(tmp_path):
    f = tmp_path / "evil.qcow2"
    f.write_bytes(qcow2_header(16 << 20, backing_offset=512) + b"/etc/shadow")
    with pytest.raises(InvalidInput, match="backing file"):
        sniff(f, "qcow2", f.stat().st_size)


def test_vmdk_descriptor_is_refused_sparse_vmdk_passes(tmp_path):
    d = tmp_path / "d.vmdk"
    d.write_text('# Disk DescriptorFile\nRW 2048 FLAT "/etc/shadow" 0\n')
    with pytest.raises(InvalidInput, match="descriptor"):
        sniff(d, "vmdk", d.stat().st_size)
    s = tmp_path / "s.vmdk"
    s.write_bytes(b"KDMV" + struct.pack("<I", 1) + struct.pack("<I", 3)
                  + struct.pack("<Q", 2048) + b"\0" * 492)
    assert sniff(s, "vmdk", s.stat().st_size) == 2048 * 512
    junk = tmp_path / "j.vmdk"
    junk.write_bytes(b"\0" * 512)
    with pytest.raises(InvalidInput, match="not a vmdk"):
        sniff(junk, "vmdk", 512)

"""The compute CLI on the demo cloud, -f json: plain data, clear errors, exit codes."""
import json
import struct

from tui.cli import main


def run(capsys, *argv):
    code = main(["--demo", "-f", "json", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_cli_flavor_image_create_quota_host(tmp_path, monkeypatch, capsys):
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state"),
                     ("XDG_CONFIG_HOME", "cfg")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    for var in ("VIRTSTACK_CONFIG", "VIRTSTACK_TOKEN", "VIRTSTACK_USERNAME",
                "VIRTSTACK_PASSWORD", "VIRTSTACK_PROJECT", "VIRTSTACK_DB_URL"):
        monkeypatch.delenv(var, raising=False)
    img = tmp_path / "c.qcow2"
    img.write_bytes(b"QFI\xfb" + b"\0" * 20 + struct.pack(">Q", 1 << 30) + b"\0" * 480)

    code, out, _ = run(capsys, "flavor", "list")
    assert code == 0 and [f["name"] for f in out][0] == "m1.tiny"
    code, _, err = run(capsys, "flavor", "create", "bad<&'\";", "--vcpus", "1", "--ram", "512")
    assert code == 2 and "bad characters" in err
    code, _, err = run(capsys, "flavor", "create", "neg", "--vcpus", "-1", "--ram", "512")
    assert code == 2 and "vcpus must be between 1 and 1024" in err
    code, _, err = run(capsys, "flavor", "create", "huge", "--vcpus", "1", "--ram", "10**9")
    assert code == 2
    code, out, _ = run(capsys, "flavor", "create", "f1", "--vcpus", "2", "--ram", "1024",
                       "--disk", "5", "--property", "hw:cpu_policy=shared")
    assert code == 0 and out["extra_specs"] == {"hw:cpu_policy": "shared"}
    code, _, err = run(capsys, "flavor", "create", "f1", "--vcpus", "2", "--ram", "1024")
    assert code == 4 and "already exists" in err
    code, out, err = run(capsys, "image", "create", "cirros", "--file", str(img))
    assert code == 0 and out["status"] == "active" and out["virtual_size_bytes"] == 1 << 30
    assert "cirros [" in err  # the progress bar on stderr
    code, _, err = run(capsys, "image", "create", "raw1", "--file", str(img),
                       "--disk-format", "raw")
    assert code == 2 and "is a qcow2 image" in err

    code, out, _ = run(capsys, "server", "create", "vm", "--flavor", "f1", "--image",
                       "cirros", "--network", "default")
    assert code == 0 and out[0]["status"] == "ACTIVE" and out[0]["host"] == "node3"
    code, out, _ = run(capsys, "quota", "show")
    assert out["cores"]["in_use"] == 2
    code, out, _ = run(capsys, "host", "disable", "node2", "--reason", "maintenance")
    assert code == 0 and out["enabled"] is False
    code, out, _ = run(capsys, "host", "resources")
    assert {r["host"]: r["instances"] for r in out} == {"node1": 0, "node2": 0, "node3": 1}
    code, out, _ = run(capsys, "server", "group", "create", "g", "--policy", "affinity")
    assert code == 0 and out["policy"] == "affinity"
    code, out, _ = run(capsys, "server", "create", "vm2", "--flavor", "m1.tiny", "--image",
                       "cirros", "--hint", "group=g", "--dry-run")
    assert code == 0 and out["ok"] and out["rejected"]["node2"].startswith("ComputeFilter")
    code, _, err = run(capsys, "server", "delete", "vm", "--yes")
    assert code == 0
    code, out, _ = run(capsys, "quota", "show")
    assert out["cores"]["in_use"] == 0

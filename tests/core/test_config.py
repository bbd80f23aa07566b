import pytest

from backend.config import load_settings
from backend.errors import ConfigError


def write(tmp_path, text):
    p = tmp_path / "config.toml"
    p.write_text(text)
    return p


def test_hosts_and_defaults(tmp_path):
    p = write(tmp_path, """
[state]
db_url = "sqlite:////tmp/x.db"

[[hosts]]
name = "kvm1"
uri = "qemu+ssh://root@127.0.0.1:2222/system"
keyfile = "/root/.ssh/id_ed25519"
availability_zone = "az1"
cpu_allocation_ratio = 4.0

[[hosts]]
name = "kvm2"
uri = "qemu:///system"
""")
    s = load_settings(p)
    assert [h.name for h in s.hosts] == ["kvm1", "kvm2"]
    assert s.hosts[0].cpu_allocation_ratio == 4.0
    assert s.hosts[1].ram_allocation_ratio == 1.5
    assert s.db_url == "sqlite:////tmp/x.db"


def test_wrong_uri_names_file_line_and_key(tmp_path):
    p = write(tmp_path, '[[hosts]]\nname = "a"\nuri = "qemu:///system"\n[[hosts]]\nname = "b"\nuri = "http://nope"\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(p)
    msg = exc.value.message
    assert str(p) in msg and ":6:" in msg and "uri" in msg


def test_missing_uri(tmp_path):
    p = write(tmp_path, '[[hosts]]\nname = "a"\n')
    with pytest.raises(ConfigError, match="missing required key 'uri'"):
        load_settings(p)


def test_unknown_key_and_bad_ratio(tmp_path):
    p = write(tmp_path, '[[hosts]]\nname = "a"\nuri = "qemu:///system"\nram_ratio = 2\n')
    with pytest.raises(ConfigError, match=r":4: ram_ratio: unknown host key"):
        load_settings(p)
    p = write(tmp_path, '[[hosts]]\nname = "a"\nuri = "qemu:///system"\n'
                        'cpu_allocation_ratio = -1\n')
    with pytest.raises(ConfigError, match=r":4: cpu_allocation_ratio"):
        load_settings(p)


def test_bad_toml_and_bad_name(tmp_path):
    with pytest.raises(ConfigError, match="config.toml"):
        load_settings(write(tmp_path, "[[hosts]\nname=1"))
    with pytest.raises(ConfigError, match="invalid host name"):
        load_settings(write(tmp_path, '[[hosts]]\nname = "a<b"\nuri = "qemu:///system"\n'))


def test_explicit_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_migration_uri_checked(tmp_path):
    p = write(tmp_path, '[[hosts]]\nname = "a"\nuri = "qemu:///system"\n'
                        'migration_uri = "qemu+ssh://root@10.0.0.5/system"\n')
    assert load_settings(p).hosts[0].migration_uri == "qemu+ssh://root@10.0.0.5/system"
    p = write(tmp_path, '[[hosts]]\nname = "a"\nuri = "qemu:///system"\n'
                        'migration_uri = "nope"\n')
    with pytest.raises(ConfigError, match=r":4: migration_uri"):
        load_settings(p)

"""Host aggregates from the config file reach the scheduler on a real create path: a flavor
asking for ``aggregate_instance_extra_specs:ssd=true`` lands only on the host whose aggregate
says ssd=true (AggregateInstanceExtraSpecsFilter), on the demo cloud."""
from __future__ import annotations

import pytest

from backend.api.cloud import Cloud
from backend.config import load_settings
from backend.errors import ConfigError, NoValidHost
from backend.scheduler.config import DEFAULT_FILTERS
from backend.virt.demo import demo_dir, write_demo_hosts
from tests.compute.conftest import ADMIN_PASSWORD, login
from tests.compute.test_create_demo import qcow2

FILTERS = ", ".join(f'"{f}"' for f in (*DEFAULT_FILTERS, "AggregateInstanceExtraSpecsFilter"))


def write_config(tmp_path, node1_extra: str = "") -> str:
    hosts = write_demo_hosts(demo_dir(tmp_path / "data"))
    text = f"[state]\ndb_url = \"sqlite:///{tmp_path / 'state.db'}\"\n\n"
    text += f"[scheduler]\nenabled_filters = [{FILTERS}]\n\n"
    for h in hosts:
        text += (f"[[hosts]]\nname = \"{h.name}\"\nuri = \"{h.uri}\"\n"
                 f"availability_zone = \"{h.availability_zone}\"\n")
        if h.name == "node1":
            text += node1_extra
        text += "\n"
    path = tmp_path / "config.toml"
    path.write_text(text)
    return str(path)


SSD = ('aggregates = [{name = "fast-disks", metadata = {ssd = true, tier = "gold"}}]\n')


@pytest.fixture
def cloud(tmp_path):
    settings = load_settings(write_config(tmp_path, SSD))
    settings.data_dir, settings.state_dir = tmp_path / "data", tmp_path / "state"
    settings.password_hash_profile = "fast"  # tests only
    c = Cloud(settings)
    c.identity.bootstrap(ADMIN_PASSWORD)
    admin = login(c, "admin", ADMIN_PASSWORD)
    c.images.create(admin, "cirros", qcow2(tmp_path / "c.qcow2"), disk_format="qcow2")
    c.flavors.create(admin, "ssd.small", vcpus=1, ram_mb=2048, root_gb=20,
                     extra_specs={"aggregate_instance_extra_specs:ssd": "true"})
    c.flavors.create(admin, "platinum", vcpus=1, ram_mb=2048, root_gb=20,
                     extra_specs={"aggregate_instance_extra_specs:tier": "platinum"})
    yield c, admin
    c.close()


def test_config_aggregates_are_read_with_string_metadata(tmp_path):
    settings = load_settings(write_config(tmp_path, SSD))
    node1 = next(h for h in settings.hosts if h.name == "node1")
    # TOML's true is nova's metadata string "true" (what a flavor's extra spec compares to)
    assert node1.aggregates == [{"name": "fast-disks",
                                 "metadata": {"ssd": "true", "tier": "gold"}}]


@pytest.mark.parametrize("bad, says", [
    ('aggregates = "fast"\n', "array of tables"),
    ('aggregates = [{metadata = {ssd = "true"}}]\n', "name"),
    ('aggregates = [{name = "a", metadata = "ssd"}]\n', "metadata"),
    ('aggregates = [{name = "a", metadata = {ssd = [1]}}]\n', "metadata"),
    ('aggregates = [{name = "a", colour = "red"}]\n', "colour"),
])
def test_bad_aggregates_are_config_errors(tmp_path, bad, says):
    with pytest.raises(ConfigError) as err:
        load_settings(write_config(tmp_path, bad))
    assert "aggregates" in err.value.message and says in err.value.message


def test_an_ssd_flavor_lands_only_on_the_ssd_aggregate(cloud):
    c, admin = cloud
    plain = c.compute.create(admin, {"name": "plain", "flavor": "m1.small",
                                     "image": "cirros"})
    assert plain[0]["host"] == "node3"  # without the spec: the most free RAM wins
    preview = c.compute.preview(admin, {"name": "fast", "flavor": "ssd.small",
                                        "image": "cirros"})
    assert preview["chosen"] == ["node1"]
    for host in ("node2", "node3"):
        assert preview["rejected"][host].startswith(
            "AggregateInstanceExtraSpecsFilter: no aggregate of the host sets 'ssd'")
    servers = c.compute.create(admin, {"name": "fast", "flavor": "ssd.small",
                                       "image": "cirros", "max_count": 3})
    assert [(s["status"], s["host"]) for s in servers] == [("ACTIVE", "node1")] * 3
    node1 = c.compute.resources(admin, "node1")[0]
    assert node1["aggregates"][0]["metadata"]["ssd"] == "true"

    # a value no aggregate gives: nowhere, and the reason names the values there are
    with pytest.raises(NoValidHost) as err:
        c.compute.create(admin, {"name": "plat", "flavor": "platinum", "image": "cirros"})
    assert "AggregateInstanceExtraSpecsFilter" in err.value.message


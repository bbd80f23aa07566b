import pytest

from backend.errors import ConfigError
from backend.scheduler import DEFAULT_FILTERS, Scheduler
from backend.scheduler.filters import BaseHostFilter
from backend.scheduler.weighers import BaseHostWeigher

from .conftest import make_host, make_spec


class EvenNameFilter(BaseHostFilter):
    """A third-party filter written per host: only hosts whose name ends in an even digit."""

    def host_passes(self, host, spec):
        return int(host.name[-1]) % 2 == 0

    def reason(self, host, spec):
        return "odd host"


class NameLengthWeigher(BaseHostWeigher):
    def weigh(self, host, spec):
        return len(host.name)


class NotAFilter:
    pass


def test_defaults():
    s = Scheduler()
    assert [f.name for f in s.filters] == list(DEFAULT_FILTERS)
    assert [(w.name, w.multiplier) for w in s.weighers] == [("RAMWeigher", 1.0)]


def test_plugin_filter_and_weigher_by_dotted_path():
    s = Scheduler({"enabled_filters": ["ComputeFilter", f"{__name__}.EvenNameFilter"],
                   "weighers": {f"{__name__}.NameLengthWeigher": 1.0}})
    hosts = [make_host("h1"), make_host("h2"), make_host("host4")]
    d = s.select(make_spec(), hosts)
    assert d.chosen == ["host4"]
    assert d.rejected == {"h1": "EvenNameFilter: odd host"}
    assert d.weights == {"host4": 1.0, "h2": 0.0}


def test_plugin_listed_in_available_filters_is_enabled_by_class_name():
    s = Scheduler({"available_filters": ["RamFilter", f"{__name__}.EvenNameFilter"],
                   "enabled_filters": ["EvenNameFilter", "RamFilter"]})
    assert [f.name for f in s.filters] == ["EvenNameFilter", "RamFilter"]
    with pytest.raises(ConfigError, match="ComputeFilter"):
        Scheduler({"available_filters": ["RamFilter"], "enabled_filters": ["ComputeFilter"]})


@pytest.mark.parametrize("config,needle", [
    ({"enabled_filters": ["RamFiltr"]}, "unknown scheduler filter 'RamFiltr'"),
    ({"weighers": {"RAMWeighr": 1.0}}, "unknown scheduler weigher 'RAMWeighr'"),
    ({"enabled_filters": ["no.such.module.Filter"]}, "no.such.module.Filter"),
    ({"enabled_filters": [f"{__name__}.Missing"]}, "has no class 'Missing'"),
    ({"enabled_filters": [f"{__name__}.NotAFilter"]}, "is not a filter"),
    ({"weighers": {"RAMWeigher": "high"}}, "multiplier must be a number"),
    ({"host_subset_size": 0}, "host_subset_size"),
    ({"enabled_filter": ["RamFilter"]}, "unknown setting"),
])
def test_bad_config_fails_at_construction_naming_the_culprit(config, needle):
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        Scheduler(config)


class NoArgFilter:
    """A duck-typed plugin: no base class, no config argument."""

    def __init__(self):
        self.built = True

    def host_passes(self, host, spec):
        return host.name != "b"


class BrokenFilter(BaseHostFilter):
    def __init__(self, config):
        raise RuntimeError("needs a licence key")


def test_duck_typed_plugin_without_config_works():
    s = Scheduler({"enabled_filters": [f"{__name__}.NoArgFilter"]})
    d = s.select(make_spec(), [make_host("a"), make_host("b")])
    assert dict(d.filters)["NoArgFilter"] == ["a"]
    assert d.rejected == {"b": "NoArgFilter: host rejected"}


def test_plugin_failing_to_start_is_a_config_error():
    with pytest.raises(ConfigError, match="BrokenFilter: needs a licence key"):
        Scheduler({"enabled_filters": [f"{__name__}.BrokenFilter"]})

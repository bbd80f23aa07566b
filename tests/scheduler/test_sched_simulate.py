import io
import json

import pytest

from backend.errors import ConfigError, InvalidInput
from backend.scheduler.simulate import parse_scenario, simulate
from tui.cli import main

SCENARIO = {
    "hosts": [
        {"name": "kvm1", "az": "az1", "vcpus": 16, "memory_mb": 32768, "memory_mb_used": 47000,
         "disk_gb": 500},
        {"name": "kvm2", "az": "az1", "vcpus": 16, "memory_mb": 16384, "disk_gb": 500},
        {"name": "kvm3", "az": "az2", "vcpus": 16, "memory_mb": 12288, "disk_gb": 500,
         "aggregates": [{"name": "ssd", "metadata": {"ssd": "true"}}]},
    ],
    "requests": [
        {"flavor": {"vcpus": 2, "memory_mb": 4096, "root_gb": 20}},
        {"flavor": {"vcpus": 2, "memory_mb": 4096, "root_gb": 20}, "az": "az2"},
        {"flavor": {"memory_mb": 100000}},
    ],
}


def run_cli(capsys, tmp_path, scenario, *extra):
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario))
    rc = main(["-f", "json", "scheduler", "simulate", str(path), *extra])
    out = capsys.readouterr()
    return rc, out


def test_simulate_end_to_end_through_the_cli(capsys, tmp_path):
    rc, out = run_cli(capsys, tmp_path, SCENARIO)
    assert rc == 0
    result = json.loads(out.out)
    assert [r["chosen"] for r in result] == [["kvm2"], ["kvm3"], []]
    first = result[0]
    assert set(first) == {"chosen", "filters", "rejected", "weights"}
    assert first["filters"][2] == {"filter": "RamFilter", "hosts": ["kvm2", "kvm3"]}
    assert first["rejected"] == {
        "kvm1": "RamFilter: 1.5 x 32768 - 47000 = 2152 MB free < 4096 MB"}
    assert first["weights"] == {"kvm2": 1.0, "kvm3": 0.75}
    assert result[1]["rejected"]["kvm2"].startswith("AvailabilityZoneFilter")
    assert "flavor needs 100000 MB" in result[2]["rejected"]["kvm2"]
    assert result[2]["weights"] == {}


def test_cli_reads_stdin_and_prints_a_table(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(SCENARIO)))
    assert main(["scheduler", "simulate"]) == 0
    out = capsys.readouterr().out
    assert "kvm2" in out and "none left after RamFilter" in out


def test_cli_reports_bad_json_and_unknown_filters(capsys, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{\"hosts\": [")
    assert main(["scheduler", "simulate", str(path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    rc, out = run_cli(capsys, tmp_path, {**SCENARIO, "filters": ["RamFilter", "Bogus"]})
    assert rc == 2 and "Bogus" in json.loads(out.err)["message"]


def test_later_requests_see_earlier_usage():
    scenario = {"hosts": [{"name": "a", "memory_mb": 8192, "ram_allocation_ratio": 1.0},
                          {"name": "b", "memory_mb": 6144, "ram_allocation_ratio": 1.0}],
                "requests": [{"flavor": {"memory_mb": 4096}}] * 4}
    assert [r["chosen"] for r in simulate(scenario)] == [["a"], ["b"], ["a"], []]


def test_group_members_placed_earlier_count_for_later_requests():
    group = {"name": "web", "policy": "anti-affinity"}
    scenario = {"hosts": [{"name": n, "memory_mb": 8192} for n in ("a", "b")],
                "requests": [{"flavor": {"memory_mb": 512}, "group": group}] * 3}
    assert [r["chosen"] for r in simulate(scenario)] == [["a"], ["b"], []]
    together = {"name": "db", "policy": "affinity"}
    scenario["requests"] = [{"flavor": {"memory_mb": 512}, "group": together}] * 3
    assert [r["chosen"] for r in simulate(scenario)] == [["a"], ["a"], ["a"]]


def test_multi_instance_request_and_weighers_from_the_scenario():
    scenario = {"hosts": [{"name": "a", "memory_mb": 8192},
                          {"name": "b", "memory_mb": 8192, "memory_mb_used": 4096}],
                "requests": [{"flavor": {"memory_mb": 1024}, "num_instances": 2}],
                "weighers": {"RAMWeigher": -1.0}}
    assert simulate(scenario)[0]["chosen"] == ["b", "b"]


def test_conflicting_group_policies_are_rejected():
    scenario = {"hosts": [{"name": "a"}], "requests": [
        {"group": {"name": "g", "policy": "affinity"}},
        {"group": {"name": "g", "policy": "anti-affinity"}}]}
    with pytest.raises(InvalidInput, match="group 'g'"):
        simulate(scenario)


@pytest.mark.parametrize("scenario,needle", [
    ({"hosts": [{"name": "a", "memory_mb": -1}]}, r"hosts\[0\].*memory_mb must not be negative"),
    ({"requests": [{"flavor": {"vcpus": -2}}]}, r"requests\[0\].*vcpus must not be negative"),
    ({"requests": [{"flavor": {"ram": 1}}]}, "unknown field"),
    ({"requests": [{"num_instances": 0}]}, "num_instances"),
    ({"hosts": [{"name": "a"}, {"name": "a"}]}, "duplicate"),
    ({"hosts": {"name": "a"}}, "must be a list"),
    ({"host": []}, "unknown key"),
    ({"requests": [{"group": {"name": "g", "policy": "together"}}]}, "policy"),
])
def test_bad_input_is_invalid_input(scenario, needle):
    with pytest.raises(InvalidInput, match=needle):
        simulate(scenario)


def test_unknown_filter_is_a_config_error_and_non_json_is_invalid_input():
    with pytest.raises(ConfigError, match="Nope"):
        simulate({"filters": ["Nope"]})
    with pytest.raises(InvalidInput, match="line 1"):
        parse_scenario("not json")
    with pytest.raises(InvalidInput, match="JSON object"):
        parse_scenario("[1, 2]")


def test_extra_specs_must_be_scalars():
    with pytest.raises(InvalidInput, match="extra_specs"):
        simulate({"requests": [{"flavor": {"extra_specs": {"ssd": ["a"]}}}]})

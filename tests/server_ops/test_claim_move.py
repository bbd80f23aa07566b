"""The claim moves with the VM (backend.compute.migrate.ClaimMove) and the scheduler's choice
respects the compute layer (a disabled host is never picked) -- on the demo cloud's DB."""
import pytest
from sqlalchemy import select

from backend import errors
from backend.compute import resources
from backend.compute.migrate import ClaimMove
from backend.compute.models import ComputeNode, Server
from tests.server_ops.conftest import first


def used(cloud):
    with cloud.db.transaction() as s:
        return dict(s.execute(select(ComputeNode.host, ComputeNode.memory_mb_used)).all())


@pytest.fixture
def adopted(demo, admin):
    demo.identity.bootstrap("Claim-Move-Pw-1")
    demo.compute.resources(admin)
    vm = first(demo, admin, "running", host="node1")
    demo.compute.adopt(admin, vm["name"], "admin", host="node1")
    return vm


def test_claim_taken_on_destination_then_moved(demo, adopted):
    before = used(demo)
    mem = adopted["memory_mb"]
    move = ClaimMove.begin(demo, adopted["uuid"], "node2")
    assert used(demo)["node2"] == before["node2"] + mem      # room taken before the move
    move.rollback()                                          # the move failed
    assert used(demo) == before
    move = ClaimMove.begin(demo, adopted["uuid"], "node2")
    move.commit()
    after = used(demo)
    assert after["node1"] == before["node1"] - mem and after["node2"] == before["node2"] + mem
    with demo.db.transaction() as s:
        assert s.get(Server, adopted["uuid"]).host == "node2"


def test_untracked_server_has_no_claim_to_move(demo, admin):
    demo.compute.resources(admin)
    vm = first(demo, admin, "running", host="node1")
    assert ClaimMove.begin(demo, vm["uuid"], "node2") is None


def test_disabled_host_is_refused_and_never_chosen(demo, admin, adopted):
    resources.set_enabled(demo.db, "node3", False, "maintenance")
    with pytest.raises(errors.NoValidHost, match="disabled"):
        ClaimMove.begin(demo, adopted["uuid"], "node3")
    for _ in range(5):
        assert demo.server_ops.choose_destination(admin, adopted["name"],
                                                  host="node1") == "node2"

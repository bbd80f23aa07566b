"""The CLI face: server snapshot|clone|set|console|migrate, host evacuate, -f json."""
import json

from tui.cli import main


def run(capsys, *argv):
    code = main(["--demo", "-f", "json", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def running(capsys):
    _, out, _ = run(capsys, "server", "list")
    return next(r for r in json.loads(out) if r["state"] == "running")


def test_snapshot_commands_across_runs(cli_env, capsys):
    vm = running(capsys)["name"]
    code, out, err = run(capsys, "server", "snapshot", "create", vm, "s1")
    assert code == 0, err
    assert json.loads(out)["name"] == "s1"
    code, out, err = run(capsys, "server", "snapshot", "create", vm, "s2",
                         "--description", "second")
    assert code == 0, err
    code, out, _ = run(capsys, "server", "snapshot", "list", vm)
    rows = json.loads(out)
    assert [(r["name"], r["current"]) for r in rows] == [("s1", False), ("s2", True)]
    code, _, err = run(capsys, "server", "snapshot", "revert", vm, "s1")
    assert code == 2 and "--yes" in err
    code, out, err = run(capsys, "server", "snapshot", "revert", vm, "s1", "--yes")
    assert code == 0 and json.loads(out)["current"] is True, err
    code, out, _ = run(capsys, "server", "snapshot", "delete", vm, "s2", "--yes")
    assert json.loads(out)["deleted"] is True
    code, out, _ = run(capsys, "server", "snapshot", "list", vm)
    assert [r["name"] for r in json.loads(out)] == ["s1"]
    code, _, err = run(capsys, "server", "snapshot", "delete", vm, "nope", "--yes")
    assert code == 3 and "nope" in err


def test_clone_and_set(cli_env, capsys):
    vm = running(capsys)["name"]
    code, _, err = run(capsys, "server", "clone", vm, "twin")
    assert code == 4 and "shut it off" in err
    run(capsys, "server", "destroy", vm, "--yes")
    code, out, err = run(capsys, "server", "clone", vm, "twin")
    assert code == 0, err
    assert json.loads(out)["name"] == "twin"
    code, out, err = run(capsys, "server", "set", "twin", "--vcpus", "3", "--memory", "768",
                         "--autostart")
    assert code == 0, err
    rows = {r["setting"]: r for r in json.loads(out)}
    assert rows["vcpus"]["value"] == 3 and rows["vcpus"]["applied"] == "next boot"
    assert rows["memory_mb"]["value"] == 768 and rows["autostart"]["value"] is True
    code, out, _ = run(capsys, "server", "show", "twin")
    shown = json.loads(out)
    assert (shown["vcpus"], shown["memory_mb"]) == (3, 768)
    assert "test driver" in rows["autostart"]["note"]  # not kept in the demo's files
    code, _, err = run(capsys, "server", "set", "twin")
    assert code == 2 and "--vcpus" in err


def test_console_and_migrate_say_the_test_driver_cannot(cli_env, capsys):
    vm = running(capsys)
    code, _, err = run(capsys, "server", "console", vm["name"])
    assert code == 6 and "serial console" in json.loads(err)["message"]
    code, _, err = run(capsys, "server", "migrate", vm["name"])
    assert code == 6 and "cannot migrate" in err
    code, _, err = run(capsys, "host", "evacuate", vm["host"])
    assert code == 2 and "--yes" in err
    code, _, err = run(capsys, "host", "evacuate", vm["host"], "--yes")
    assert code == 6 and "stopped at server" in err

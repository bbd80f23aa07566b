"""The identity CLI: login/logout, token cache, openstack-shaped commands, exit codes."""
import json
import stat

import pytest

from tui.cli import main


@pytest.fixture
def cli(tmp_path, monkeypatch):
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state"),
                     ("XDG_CONFIG_HOME", "cfg")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    for var in ("VIRTSTACK_TOKEN", "VIRTSTACK_USERNAME", "VIRTSTACK_PASSWORD",
                "VIRTSTACK_PROJECT", "VIRTSTACK_DB_URL", "VIRTSTACK_APPLICATION_CREDENTIAL_ID",
                "VIRTSTACK_APPLICATION_CREDENTIAL_SECRET"):
        monkeypatch.delenv(var, raising=False)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[state]\ndb_url = "sqlite:///{tmp_path}/state.db"\n')
    monkeypatch.setenv("VIRTSTACK_CONFIG", str(cfg))
    (tmp_path / "admin.pw").write_text("Adm1n-secret\n")
    (tmp_path / "bob.pw").write_text("Bob-secret-9\n")
    return tmp_path


def run(capsys, *argv, fmt="json"):
    code = main(["-f", fmt, *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out and fmt == "json" else out), err


def test_no_credentials_is_a_clear_error(cli, capsys):
    code, _, err = run(capsys, "project", "list")
    assert code == 7
    assert "no credentials: run `virtstack login`" in json.loads(err)["message"]


def test_bootstrap_login_and_the_openstack_shaped_commands(cli, capsys, monkeypatch):
    code, out, _ = run(capsys, "bootstrap", "--admin-password-file", str(cli / "admin.pw"))
    assert code == 0 and "user admin" in out["created"]
    code, out, _ = run(capsys, "bootstrap", "--admin-password-file", str(cli / "admin.pw"))
    assert code == 0 and out["created"] == []
    code, out, err = run(capsys, "login", "--username", "admin", "--password-file",
                         str(cli / "admin.pw"))
    assert code == 0, err
    cache = cli / "state" / "virtstack" / "token"
    assert out["token_cache"] == str(cache) and "admin" in out["roles"]
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert "Adm1n-secret" not in cache.read_text()

    assert run(capsys, "project", "create", "demo")[0] == 0
    code, _, err = run(capsys, "project", "create", "demo")
    assert code == 4 and "already exists" in err
    code, _, err = run(capsys, "project", "create", "bad<name>")
    assert code == 2 and "bad characters" in err
    assert run(capsys, "user", "create", "bob", "--password-file", str(cli / "bob.pw"),
               "--project", "demo")[0] == 0
    assert run(capsys, "role", "add", "--user", "bob", "--project", "demo", "member")[0] == 0
    code, _, err = run(capsys, "role", "add", "--user", "bob", "--project", "demo", "boss")
    assert code == 3 and "role 'boss' not found" in err
    code, rows, _ = run(capsys, "role", "assignment", "list", "--project", "demo")
    assert [(r["user"], r["role"]) for r in rows] == [("bob", "member")]
    code, rows, _ = run(capsys, "catalog", "list")
    assert rows[0]["type"] == "identity"

    # bob, through the environment like OS_USERNAME/OS_PASSWORD
    monkeypatch.setenv("VIRTSTACK_USERNAME", "bob")
    monkeypatch.setenv("VIRTSTACK_PASSWORD", "Bob-secret-9")
    code, _, err = run(capsys, "project", "create", "mine")
    msg = json.loads(err)["message"]
    assert code == 8 and "project:create" in msg and "role:admin" in msg
    code, rows, _ = run(capsys, "project", "list")
    assert [p["name"] for p in rows] == ["demo"]
    code, cred, _ = run(capsys, "credential", "create", "ci", "--role", "reader")
    assert code == 0 and cred["roles"] == ["reader"] and cred["secret"]
    monkeypatch.delenv("VIRTSTACK_USERNAME")
    monkeypatch.delenv("VIRTSTACK_PASSWORD")

    # the admin (cached token) sees all of it in the audit log
    code, rows, _ = run(capsys, "audit", "list", "--user", "bob", "--outcome", "denied")
    assert rows[0]["action"] == "project:create"

    code, out, _ = run(capsys, "logout")
    assert out["logged_out"] and out["token_revoked"] and not cache.exists()
    assert run(capsys, "project", "list")[0] == 7


def test_a_stale_cached_token_says_log_in_again(cli, capsys):
    run(capsys, "bootstrap", "--admin-password-file", str(cli / "admin.pw"))
    run(capsys, "login", "-u", "admin", "--password-file", str(cli / "admin.pw"))
    code, tok, _ = run(capsys, "token", "issue")
    code, out, _ = run(capsys, "token", "revoke", tok["token"])
    assert code == 0 and out["revoked"]
    cache = json.loads((cli / "state" / "virtstack" / "token").read_text())
    code, out, _ = run(capsys, "token", "revoke", cache["token"])  # the cached one
    assert code == 0
    code, _, err = run(capsys, "project", "list")
    assert code == 7 and "virtstack login" in err and "revoked" in err


def test_demo_mode_bootstraps_itself_and_keeps_its_own_token(cli, capsys, monkeypatch):
    monkeypatch.delenv("VIRTSTACK_CONFIG")
    code, rows, err = run(capsys, "--demo", "role", "list", fmt="table")
    assert code == 0, err
    pw = cli / "data" / "virtstack" / "demo-admin-password"
    assert str(pw) in err and stat.S_IMODE(pw.stat().st_mode) == 0o600
    demo_cache = cli / "state" / "virtstack" / "demo-token"
    assert stat.S_IMODE(demo_cache.stat().st_mode) == 0o600
    assert not (cli / "state" / "virtstack" / "token").exists()
    code, rows, err = run(capsys, "--demo", "role", "list")
    assert code == 0 and err == ""  # said once only
    assert {r["name"] for r in rows} == {"admin", "member", "reader"}
    code, rows, _ = run(capsys, "--demo", "audit", "list", "--action", "identity:*")
    assert [r["action"] for r in rows] == ["identity:login", "identity:bootstrap"]

"""Storage in the TUI, driven as a user over the demo cloud (libvirt test driver): pools and
volumes tables, the create dialogs with the backend's refusals, delete confirmations, and
uploads with a progress bar (the test driver cannot stream: the dialog says so)."""
from __future__ import annotations

import shutil
import threading

import pytest

from backend import errors
from screens.action_form import ActionFormScreen, Field
from screens.confirm import ConfirmScreen
from screens.progress import ProgressScreen
from screens.storage import StorageScreen, pool_key
from tests.tui.helpers import loaded, screen_text, wait_for


async def open_storage(pilot) -> StorageScreen:
    await loaded(pilot)
    await pilot.press("v")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, StorageScreen),
                   what="storage screen")
    screen = pilot.app.screen
    await wait_for(pilot, lambda: len(screen.pools) >= 3, what="the default pools")
    return screen


async def select_pool(pilot, screen: StorageScreen, host: str, name: str = "default"):
    table = screen.pool_table
    table.focus()
    table.move_cursor(row=table.get_row_index(f"{host}/{name}"))
    await wait_for(pilot, lambda: screen.volumes_of == f"{host}/{name}" and screen.volumes,
                   what=f"volumes of {host}/{name}")


def form_error(form: ActionFormScreen) -> str:
    return str(form.query_one("#form-error").content)


async def fill(pilot, form: ActionFormScreen, **values: str) -> None:
    for key, value in values.items():
        w = form.query_one(f"#field-{key}")
        w.value = value
    await pilot.pause()


async def test_tables_show_pools_and_volumes_across_hosts(make_app, cloud, ctx):
    async with make_app().run_test(size=(160, 50)) as pilot:
        screen = await open_storage(pilot)
        assert {r["host"] for r in screen.pools.values()} == {"node1", "node2", "node3"}
        await select_pool(pilot, screen, "node2")
        want = {r["name"] for r in cloud.volumes.list(ctx, pool="default", host="node2")}
        assert set(screen.volumes) == want
        text = screen_text(pilot.app)
        assert "node2" in text and "100.0 GiB" in text and "Volumes in default on node2" in text
        # one host only
        screen.query_one("#host-select").value = "node3"
        await wait_for(pilot, lambda: {r["host"] for r in screen.pools.values()} == {"node3"},
                       what="node3 only")


async def test_create_volume_from_dialog_and_bad_size(make_app, cloud, ctx):
    async with make_app().run_test(size=(120, 40)) as pilot:
        screen = await open_storage(pilot)
        await select_pool(pilot, screen, "node1")
        before = {r["name"] for r in cloud.volumes.list(ctx, host="node1")}
        screen.volume_table.focus()
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ActionFormScreen),
                       what="new volume dialog")
        form = pilot.app.screen
        # bad sizes: the backend's words in the dialog, nothing created
        for bad, words in (("-1", "greater than zero"), ("10E", "1 PiB limit")):
            await fill(pilot, form, name="bad.raw", size=bad)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: words in form_error(form),
                           what=f"the error for size {bad}")
            assert pilot.app.screen is form
        await fill(pilot, form, name="it's.raw", size="1G")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "bad characters" in form_error(form),
                       what="the error for a name with a quote")
        assert {r["name"] for r in cloud.volumes.list(ctx, host="node1")} == before
        # a good one: the dialog closes and the table shows it
        await fill(pilot, form, name="data.qcow2", size="2G", format="qcow2")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: pilot.app.screen is screen, what="dialog closed")
        row = cloud.volumes.get(ctx, "data.qcow2", "default", host="node1")
        assert row["capacity"] == 2 * 1024**3 and row["format"] == "qcow2"
        await wait_for(pilot, lambda: "data.qcow2" in screen.volumes, what="row shown")


async def test_create_pool_bad_path_then_good(make_app, cloud, ctx):
    async with make_app().run_test(size=(120, 40)) as pilot:
        screen = await open_storage(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ActionFormScreen),
                       what="new pool dialog")
        form = pilot.app.screen
        await fill(pilot, form, name="images", host="node2", target="relative/dir")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "must be an absolute path" in form_error(form),
                       what="relative path refused")
        assert "images" not in {r["name"] for r in cloud.pools.list(ctx)}
        await fill(pilot, form, target="/srv/vs/images")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "node2/images" in screen.pools, what="new pool row")
        assert cloud.pools.get(ctx, "images", host="node2")["state"] == "running"


async def test_delete_volume_cancelled_keeps_it_confirmed_removes_it(make_app, cloud, ctx):
    cloud.ensure_hosts()
    cloud.volumes.create(ctx, "scratch.raw", "default", "1G", host="node3")
    async with make_app().run_test(size=(120, 40)) as pilot:
        screen = await open_storage(pilot)
        await select_pool(pilot, screen, "node3")
        await wait_for(pilot, lambda: "scratch.raw" in screen.volumes, what="volume row")
        vt = screen.volume_table
        vt.focus()
        vt.move_cursor(row=vt.get_row_index("scratch.raw"))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen),
                       what="confirmation")
        await pilot.press("enter")   # the focused button is Cancel
        await wait_for(pilot, lambda: pilot.app.screen is screen, what="back")
        await pilot.pause(0.2)
        assert cloud.volumes.get(ctx, "scratch.raw", "default", host="node3")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen),
                       what="confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: "scratch.raw" not in screen.volumes, what="row gone")
        with pytest.raises(errors.NotFound):
            cloud.volumes.get(ctx, "scratch.raw", "default", host="node3")


async def test_delete_pool_asks_twice(make_app, cloud, ctx):
    cloud.ensure_hosts()
    cloud.pools.create(ctx, "tmp", "dir", host="node1", target="/srv/tmp")
    async with make_app().run_test(size=(120, 40)) as pilot:
        screen = await open_storage(pilot)
        await wait_for(pilot, lambda: "node1/tmp" in screen.pools, what="pool row")
        screen.pool_table.move_cursor(row=screen.pool_table.get_row_index("node1/tmp"))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen),
                       what="first question")
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen)
                       and "Really" in screen_text(pilot.app), what="second question")
        await pilot.press("n")           # second answer no: the pool stays
        await wait_for(pilot, lambda: pilot.app.screen is screen, what="back")
        await pilot.pause(0.2)
        assert cloud.pools.get(ctx, "tmp", host="node1")
        await pilot.press("d", "y")
        await wait_for(pilot, lambda: "Really" in screen_text(pilot.app), what="again")
        await pilot.press("y")
        await wait_for(pilot, lambda: "node1/tmp" not in screen.pools, what="row gone")
        with pytest.raises(errors.NotFound):
            cloud.pools.get(ctx, "tmp", host="node1")


async def test_upload_on_test_driver_says_it_cannot_stream(make_app, cloud, ctx, tmp_path):
    src = tmp_path / "disk.img"
    src.write_bytes(b"\0" * 8192)
    async with make_app().run_test(size=(120, 40)) as pilot:
        screen = await open_storage(pilot)
        await select_pool(pilot, screen, "node1")
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ActionFormScreen),
                       what="upload dialog")
        await fill(pilot, pilot.app.screen, file=str(src), name="up.raw")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgressScreen),
                       what="progress dialog")
        progress = pilot.app.screen
        await wait_for(pilot, lambda: progress.finished, what="upload finished")
        text = screen_text(pilot.app)
        assert "failed" in text and "not supported by this host" in text
        assert "up.raw was removed" in text
        assert "up.raw" not in {r["name"] for r in cloud.volumes.list(ctx, host="node1")}
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is screen, what="closed")


async def test_progress_dialog_bar_and_cancel(make_app):
    """The dialog with a job that streams like an upload: the bar follows the callback and
    the cancel key stops the job, whose cleanup message is shown."""
    release = threading.Event()
    cleaned: list[str] = []

    def job(progress, cancel, _phase):
        total = 10 * 1024 * 1024
        for i in range(1, 1000):
            if cancel.is_set():
                cleaned.append("partial volume removed")
                raise errors.VirtstackError("upload cancelled after "
                                            f"{i - 1} MiB; the partial volume was removed")
            progress(min(i, 5) * 1024 * 1024, total)
            if i == 5:
                release.wait(5)
            else:
                release.wait(0.01)
        return {"ok": True}

    async with make_app().run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        results: list = []
        screen = ProgressScreen("Upload test", job)
        pilot.app.push_screen(screen, results.append)
        await wait_for(pilot, lambda: screen.is_mounted and screen.query("ProgressBar"),
                       what="dialog shown")
        from textual.widgets import ProgressBar
        bar = screen.query_one(ProgressBar)
        await wait_for(pilot, lambda: bar.progress == 5 * 1024 * 1024, what="bar at 50%")
        assert bar.percentage == pytest.approx(0.5)
        assert "5.0 MiB of 10.0 MiB" in screen_text(pilot.app)
        await pilot.press("escape")          # cancel
        release.set()
        await wait_for(pilot, lambda: screen.finished, what="job stopped")
        assert cleaned and "cancelled" in screen_text(pilot.app)
        assert "partial volume was removed" in screen_text(pilot.app)
        await pilot.press("escape")          # close
        await wait_for(pilot, lambda: results == [None], what="dismissed with None")


async def test_progress_dialog_success_dismisses_with_result(make_app):
    def job(progress, cancel, phase):
        phase("upload")
        for i in range(1, 5):
            progress(i, 4)
        return {"name": "v"}

    async with make_app().run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        results: list = []
        pilot.app.push_screen(ProgressScreen("t", job, done_delay=0.05), results.append)
        await wait_for(pilot, lambda: results == [{"name": "v"}], what="result")


async def test_dialog_input_margin_is_the_prompts_own(make_app):
    """The details screen's prompt puts its field a line below the message; that rule no
    longer reaches other dialogs' fields (a form's field sits right under its label)."""
    from textual.widgets import Input

    from screens.prompt import PromptScreen
    async with make_app().run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        form = ActionFormScreen("t", [Field("name", "Name")], lambda v: v)
        pilot.app.push_screen(form)
        await wait_for(pilot, lambda: form.is_mounted and form.query(Input), what="form")
        assert form.query_one(Input).styles.margin.top == 0
        form.dismiss(None)
        await wait_for(pilot, lambda: not form.is_attached, what="form closed")
        prompt = PromptScreen("Clone vm1", "A new server.")
        pilot.app.push_screen(prompt)
        await wait_for(pilot, lambda: prompt.is_mounted and prompt.query(Input),
                       what="prompt")
        assert prompt.query_one(Input).styles.margin.top == 1


async def select_volume(pilot, screen: StorageScreen, name: str) -> None:
    await wait_for(pilot, lambda: name in screen.volumes, what=f"volume {name}")
    vt = screen.volume_table
    vt.focus()
    vt.move_cursor(row=vt.get_row_index(name))
    await pilot.pause()


async def test_attach_and_detach_show_the_backends_refusal(make_app, cloud, ctx):
    """The test driver cannot attach disks: the attach form says so and stays open; nothing
    is attached. Detach of a disk that is not attached says that."""
    cloud.ensure_hosts()
    cloud.volumes.create(ctx, "data.raw", "default", "1G", host="node1")
    async with make_app().run_test(size=(80, 24)) as pilot:
        screen = await open_storage(pilot)
        await select_pool(pilot, screen, "node1")
        await select_volume(pilot, screen, "data.raw")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ActionFormScreen),
                       what="attach dialog")
        form = pilot.app.screen
        await fill(pilot, form, server="nosuch")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "no server 'nosuch'" in form_error(form),
                       what="unknown server refused")
        await fill(pilot, form, server="api-01")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "cannot attach disks" in form_error(form),
                       what="the host's NotSupported")
        assert "nothing changed" in form_error(form) and pilot.app.screen is form
        assert "cannot attach disks" in screen_text(pilot.app)
        assert cloud.volumes.get(ctx, "data.raw", "default", host="node1")["attached_to"] \
            == []
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is screen, what="closed")
        await pilot.press("T")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ActionFormScreen),
                       what="detach dialog")
        form = pilot.app.screen
        await fill(pilot, form, server="api-01")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "not attached to api-01" in form_error(form),
                       what="detach refused")


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="import converts with qemu-img")
async def test_import_converts_then_says_the_host_cannot_stream(make_app, cloud, ctx,
                                                                tmp_path):
    """Two phases in one progress dialog: qemu-img convert (here), then the upload, which
    the test driver refuses; the half-made volume is removed and the dialog says so."""
    src = tmp_path / "disk.img"
    src.write_bytes(b"\1" * 256 * 1024)
    async with make_app().run_test(size=(80, 24)) as pilot:
        screen = await open_storage(pilot)
        await select_pool(pilot, screen, "node1")
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ActionFormScreen),
                       what="import dialog")
        form = pilot.app.screen
        await fill(pilot, form, file=str(tmp_path / "missing.img"))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "no such file" in form_error(form),
                       what="missing file refused")
        await fill(pilot, form, file=str(src), format="qcow2")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgressScreen),
                       what="progress dialog")
        progress = pilot.app.screen
        assert "Import disk.qcow2 (qcow2)" in screen_text(pilot.app)
        await wait_for(pilot, lambda: progress.finished, what="import finished")
        assert progress.phases == ["convert", "upload"]
        status = str(progress.query_one("#progress-status").content)
        assert "not supported by this host" in status and "disk.qcow2 was removed" in status
        assert "failed" in str(progress.query_one("#dialog-title").content)
        assert "disk.qcow2" not in {r["name"] for r in cloud.volumes.list(ctx, host="node1")}
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is screen, what="closed")

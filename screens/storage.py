"""Storage pools and their volumes, on one host or across every host (``cloud.pools``,
``cloud.volumes``).

Two tables: the pools (host, name, type, state, autostart, capacity/allocation/available)
and, below, the volumes of the pool under the cursor. The keys act on the table that has
the focus (tab switches): ``n`` new pool or volume, ``d`` delete (a volume asks once, a pool
twice), ``s``/``x`` start/stop a pool, ``a`` its autostart, ``r`` resize, ``C`` clone,
``w`` wipe a volume, ``u`` upload a local file into a new volume and ``g`` download one
(with a progress bar; escape cancels), ``i`` import an image with format conversion (two
phases in the progress dialog: convert, then upload), ``t``/``T`` attach the volume to a
server as a data disk / detach it, ``e`` choose the host, ``R`` reload.

Every backend call runs in a thread worker; failures become notifications (or, in a form,
the form's own error line), and bad input changes nothing.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Label, Static

from backend.errors import InvalidInput, VirtstackError
from backend.validation import validate_name
from screens.action_form import ActionFormScreen, Field
from screens.confirm import ConfirmScreen
from screens.progress import ProgressScreen, human_bytes
from themes import HERE as THEMES_DIR
from screens.host_scoped import HostScopedScreen


POOL_COLUMNS = (("host", "Host"), ("name", "Pool"), ("type", "Type"), ("state", "State"),
                ("autostart", "Auto"), ("capacity", "Capacity"), ("allocation", "Used"),
                ("available", "Free"))
VOLUME_COLUMNS = (("pool", "Pool"), ("name", "Volume"), ("format", "Format"),
                  ("capacity", "Capacity"), ("allocation", "Used"), ("path", "Path"))
SIZES = ("capacity", "allocation", "available")


def cell(key: str, value: Any) -> str:
    if key in SIZES:
        return human_bytes(value) if isinstance(value, (int, float)) else ""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return "" if value is None else str(value)


def pool_key(row: dict[str, Any]) -> str:
    return f"{row['host']}/{row['name']}"


class PoolsLoaded(Message):
    def __init__(self, rows: list[dict[str, Any]] | None, error: str | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.error = error


class VolumesLoaded(Message):
    def __init__(self, key: str, rows: list[dict[str, Any]] | None,
                 error: str | None = None) -> None:
        super().__init__()
        self.key = key
        self.rows = rows
        self.error = error


class StorageChanged(Message):
    """A change finished: say so and reload."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


def local_file(value: str, what: str) -> Path:
    """A file on this machine to upload or import from; a clear error if there is none."""
    path = Path(value).expanduser()
    if not path.is_file():
        raise InvalidInput(f"no such file to {what}: {str(path)!r}")
    return path


class StorageScreen(HostScopedScreen):
    NAME = "storage"
    CSS_PATH = THEMES_DIR / "storage.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("n", "new", "New"),
        Binding("d", "delete", "Delete"),
        Binding("s", "pool('start')", "Start"),
        Binding("x", "pool('stop')", "Stop"),
        Binding("a", "autostart", "Autostart"),
        Binding("r", "resize", "Resize"),
        Binding("C", "clone", "Clone"),
        Binding("w", "wipe", "Wipe"),
        Binding("u", "upload", "Upload"),
        Binding("g", "download", "Download"),
        Binding("i", "import_image", "Import"),
        Binding("t", "attach", "Attach"),
        Binding("T", "detach", "Detach"),
        Binding("e", "choose_host", "Host"),
        Binding("R", "reload", "Reload"),
    ]

    def __init__(self, cloud, ctx, *, host: str | None = None) -> None:
        super().__init__(cloud, ctx, host=host)
        self.pools: dict[str, dict[str, Any]] = {}
        self.volumes: dict[str, dict[str, Any]] = {}
        self.volumes_of: str | None = None   # pool key the volume table shows

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="storage-head", classes="screen-head"):
            yield Label("Storage", classes="screen-name")
            yield self.host_select()
            yield Static("", id="storage-summary", markup=False)
        with Vertical(id="storage-body"):
            yield Static("Pools", classes="table-title")
            yield DataTable(id="pools", cursor_type="row", zebra_stripes=True)
            yield Static("Volumes", id="volumes-title", classes="table-title")
            yield DataTable(id="volumes", cursor_type="row", zebra_stripes=True)
        yield Static("", id="storage-status", markup=False)
        yield Footer(compact=True)

    @property
    def pool_table(self) -> DataTable:
        return self.query_one("#pools", DataTable)

    @property
    def volume_table(self) -> DataTable:
        return self.query_one("#volumes", DataTable)

    def on_mount(self) -> None:
        for key, label in POOL_COLUMNS:
            self.pool_table.add_column(label, key=key)
        for key, label in VOLUME_COLUMNS:
            self.volume_table.add_column(label, key=key)
        self.pool_table.focus()
        self.follow_hosts()
        self.load_pools()

    def reload(self) -> None:
        self.load_pools()

    def host_switched(self) -> None:
        self.volumes_of = None

    # -- loading ------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="pools", exit_on_error=False)
    def load_pools(self) -> None:
        try:
            self.post_message(PoolsLoaded(self.cloud.pools.list(self.ctx, host=self.host)))
        except VirtstackError as exc:
            self.post_message(PoolsLoaded(None, exc.message))

    def on_pools_loaded(self, message: PoolsLoaded) -> None:
        table = self.pool_table
        if message.error is not None:
            table.clear()
            self.pools = {}
            self.status(message.error, error=True)
            return
        current = self.current_pool()
        keep = pool_key(current) if current else None
        self.pools = {pool_key(r): r for r in message.rows or []}
        table.clear()
        for k, r in self.pools.items():
            table.add_row(*(cell(c, r.get(c)) for c, _ in POOL_COLUMNS), key=k)
        if keep in self.pools:
            table.move_cursor(row=table.get_row_index(keep))
        hosts = {r["host"] for r in self.pools.values()}
        total = sum(r.get("capacity") or 0 for r in self.pools.values())
        free = sum(r.get("available") or 0 for r in self.pools.values())
        self.query_one("#storage-summary", Static).update(
            f"{len(self.pools)} pools on {len(hosts)} host{'s' if len(hosts) != 1 else ''}"
            f" · {human_bytes(free)} free of {human_bytes(total)}")
        self.status("")
        self._show_volumes_of(self.current_pool(), force=True)

    def current_pool(self) -> dict[str, Any] | None:
        table = self.pool_table
        if not self.pools or table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - no row under the cursor
            return None
        return self.pools.get(key)

    def current_volume(self) -> dict[str, Any] | None:
        table = self.volume_table
        if not self.volumes or table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001
            return None
        return self.volumes.get(key)

    @on(DataTable.RowHighlighted, "#pools")
    def _pool_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_volumes_of(self.current_pool())

    def _show_volumes_of(self, pool: dict[str, Any] | None, force: bool = False) -> None:
        key = pool_key(pool) if pool else None
        if key == self.volumes_of and not force:
            return
        self.volumes_of = key
        title = self.query_one("#volumes-title", Static)
        if pool is None:
            self.volumes = {}
            self.volume_table.clear()
            title.update("Volumes")
            return
        title.update(f"Volumes in {pool['name']} on {pool['host']}")
        if pool.get("state") != "running":
            self.volumes = {}
            self.volume_table.clear()
            title.update(f"Volumes in {pool['name']} on {pool['host']} "
                         f"(pool {pool.get('state')}: start it with s)")
            return
        self.load_volumes(pool["name"], pool["host"], key)

    @work(thread=True, exclusive=True, group="volumes", exit_on_error=False)
    def load_volumes(self, pool: str, host: str, key: str) -> None:
        try:
            rows = self.cloud.volumes.list(self.ctx, pool=pool, host=host)
            self.post_message(VolumesLoaded(key, rows))
        except VirtstackError as exc:
            self.post_message(VolumesLoaded(key, None, exc.message))

    def on_volumes_loaded(self, message: VolumesLoaded) -> None:
        if message.key != self.volumes_of:
            return  # the cursor moved on
        table = self.volume_table
        keep = self.current_volume()
        table.clear()
        if message.error is not None:
            self.volumes = {}
            self.status(message.error, error=True)
            return
        self.volumes = {r["name"]: r for r in message.rows or []}
        for name, r in self.volumes.items():
            table.add_row(*(cell(c, r.get(c)) for c, _ in VOLUME_COLUMNS), key=name)
        if keep and keep["name"] in self.volumes:
            table.move_cursor(row=table.get_row_index(keep["name"]))


    # -- running changes ----------------------------------------------------------------------
    def _change(self, name: str, fn, done_text: str) -> None:
        """Run one backend change in a worker; a failure becomes a notification."""
        def run() -> None:
            fn()
            self.post_message(StorageChanged(done_text))
        self.run_worker(run, name=name, group="change", thread=True, exit_on_error=False)

    def on_storage_changed(self, message: StorageChanged) -> None:
        self.notify(message.text, timeout=4, markup=False)
        self.load_pools()

    def on_worker_state_changed(self, event) -> None:
        super().on_worker_state_changed(event)
        if event.worker.group == "change" and event.state.name == "ERROR":
            self.load_pools()  # show what is, after a refused change

    def _volumes_focused(self) -> bool:
        return self.focused is self.volume_table

    def _need_pool(self) -> dict[str, Any] | None:
        pool = self.current_pool()
        if pool is None:
            self.notify("No pool selected.", severity="warning")
        return pool

    def _need_volume(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        pool, vol = self.current_pool(), self.current_volume()
        if pool is None or vol is None:
            self.notify("No volume selected (tab to the volumes table).", severity="warning")
            return None
        return pool, vol

    def _form_done(self, what: str, result: Any) -> None:
        if result is not None:
            self.notify(what, timeout=4, markup=False)
        self.load_pools()

    # -- new ------------------------------------------------------------------------------------
    def action_new(self) -> None:
        if self._volumes_focused():
            self.new_volume()
        else:
            self.new_pool()

    def new_pool(self) -> None:
        hosts = list(self.cloud.registry.hosts)
        default_host = self.host or (self.current_pool() or {}).get("host") or hosts[0]

        def create(v: dict[str, Any]) -> Any:
            return self.cloud.pools.create(self.ctx, v["name"], v["type"], host=v["host"],
                                           target=v["target"] or None)
        fields = [Field("name", "Name", "images", required=True),
                  Field("host", "Host", choices=tuple((h, h) for h in hosts),
                        value=default_host),
                  Field("type", "Type", choices=(("dir", "dir (a directory)"),)),
                  Field("target", "Target path", "/var/lib/libvirt/images2",
                        help="absolute; created (built) when missing")]
        self.app.push_screen(
            ActionFormScreen("New storage pool", fields, create,
                             note="Defined, built, started and autostarted. Other pool "
                                  "types: virtstack pool create --type …"),
            lambda r: self._form_done(f"Created pool {r['name']} on {r['host']}.", r)
            if r else self.load_pools())

    def new_volume(self) -> None:
        pool = self._need_pool()
        if pool is None:
            return

        def create(v: dict[str, Any]) -> Any:
            return self.cloud.volumes.create(self.ctx, v["name"], pool["name"], v["size"],
                                             v["format"], host=pool["host"],
                                             allocation=v["allocation"])
        fields = [Field("name", "Name", "data.qcow2", required=True),
                  Field("size", "Size", "10G", required=True, help="e.g. 512M, 10G, 1T"),
                  Field("format", "Format", choices=(("raw", "raw"),
                                                     ("qcow2", "qcow2 (thin)"),
                                                     ("vmdk", "vmdk"))),
                  Field("allocation", "Allocation (raw)",
                        choices=(("sparse", "sparse"), ("full", "fully allocated")))]
        self.app.push_screen(
            ActionFormScreen(f"New volume in {pool['name']} on {pool['host']}", fields,
                             create),
            lambda r: self._form_done(f"Created volume {r['name']}.", r))

    # -- pool actions ---------------------------------------------------------------------------
    def action_pool(self, verb: str) -> None:
        pool = self._need_pool()
        if pool is None:
            return
        fn = getattr(self.cloud.pools, verb)
        past = {"start": "Started", "stop": "Stopped"}[verb]
        self._change(f"{verb} pool {pool['name']}",
                     partial(fn, self.ctx, pool["name"], host=pool["host"]),
                     f"{past} pool {pool['name']} on {pool['host']}.")

    def action_autostart(self) -> None:
        pool = self._need_pool()
        if pool is None:
            return
        on = not pool.get("autostart")
        self._change(f"autostart pool {pool['name']}",
                     partial(self.cloud.pools.autostart, self.ctx, pool["name"], on=on,
                             host=pool["host"]),
                     f"Pool {pool['name']} {'now starts' if on else 'no longer starts'} "
                     f"with {pool['host']}.")

    # -- delete ---------------------------------------------------------------------------------
    def action_delete(self) -> None:
        if self._volumes_focused():
            self.delete_volume()
        else:
            self.delete_pool()

    def delete_volume(self) -> None:
        self._confirm_volume_change(
            "delete", "Delete", "Deleted",
            lambda pool, vol: f"{vol.get('path') or vol['name']}\non {pool['host']}, "
            f"{human_bytes(vol.get('capacity'))}.\n\nIts data is gone for good.")

    def _confirm_volume_change(self, verb: str, label: str, done: str, detail) -> None:
        """Ask, then run ``cloud.volumes.<verb>`` on the selected volume in a worker."""
        sel = self._need_volume()
        if sel is None:
            return
        pool, vol = sel

        def answered(yes: bool | None) -> None:
            if yes:
                self._change(f"{verb} volume {vol['name']}",
                             partial(getattr(self.cloud.volumes, verb), self.ctx,
                                     vol["name"], pool["name"], host=pool["host"]),
                             f"{done} volume {vol['name']}.")
        self.app.push_screen(ConfirmScreen(f"{label} volume {vol['name']}?",
                                           detail(pool, vol), confirm_label=label), answered)

    def delete_pool(self) -> None:
        """Asks twice: the pool, then (naming what goes with it) once more."""
        pool = self._need_pool()
        if pool is None:
            return
        n = pool.get("volumes") or 0

        def second(yes: bool | None) -> None:
            if yes:
                self._change(f"delete pool {pool['name']}",
                             partial(self.cloud.pools.delete, self.ctx, pool["name"],
                                     host=pool["host"], delete_volumes=n > 0),
                             f"Deleted pool {pool['name']} on {pool['host']}.")

        def first(yes: bool | None) -> None:
            if not yes:
                return
            what = (f"Its {n} volume{'s' if n != 1 else ''} will be DELETED with it."
                    if n else "It holds no volumes.")
            self.app.push_screen(ConfirmScreen(
                f"Really delete pool {pool['name']}?",
                f"Last chance. {what}\nThe directory {pool.get('target') or ''} is kept.",
                confirm_label="Delete pool"), second)
        self.app.push_screen(ConfirmScreen(
            f"Delete pool {pool['name']} on {pool['host']}?",
            f"Stops and undefines the {pool.get('type')} pool {pool['name']} "
            f"({human_bytes(pool.get('capacity'))}, {n} volume{'s' if n != 1 else ''}).",
            confirm_label="Delete"), first)

    # -- volume actions ---------------------------------------------------------------------------
    def action_resize(self) -> None:
        sel = self._need_volume()
        if sel is None:
            return
        pool, vol = sel

        def resize(v: dict[str, Any]) -> Any:
            return self.cloud.volumes.resize(self.ctx, vol["name"], pool["name"], v["size"],
                                             host=pool["host"],
                                             allow_shrink=v["shrink"] == "yes")
        fields = [Field("size", "New size", "e.g. 40G", required=True,
                        help=f"now {human_bytes(vol.get('capacity'))}"),
                  Field("shrink", "Allow shrinking (loses data at the end)",
                        choices=(("no", "no"), ("yes", "yes")))]
        self.app.push_screen(ActionFormScreen(f"Resize {vol['name']}", fields, resize,
                                              submit_label="Resize"),
                             lambda r: self._form_done(f"Resized {vol['name']}.", r))

    def action_clone(self) -> None:
        sel = self._need_volume()
        if sel is None:
            return
        pool, vol = sel

        def clone(v: dict[str, Any]) -> Any:
            return self.cloud.volumes.clone(self.ctx, vol["name"], pool["name"], v["new"],
                                            host=pool["host"])
        self.app.push_screen(
            ActionFormScreen(f"Clone {vol['name']}",
                             [Field("new", "New volume name", f"copy-{vol['name']}",
                                    required=True)], clone, submit_label="Clone"),
            lambda r: self._form_done(f"Cloned {vol['name']} to {r['name']}.", r)
            if r else None)

    def action_wipe(self) -> None:
        self._confirm_volume_change(
            "wipe", "Wipe", "Wiped",
            lambda pool, vol: "Overwrites all of its data with zeros. The volume stays.")

    # -- transfers ----------------------------------------------------------------------------------
    def action_upload(self) -> None:
        pool = self._need_pool()
        if pool is None:
            return

        def ask(v: dict[str, Any]) -> dict[str, Any]:
            path = local_file(v["file"], "upload")
            name = validate_name(v["name"] or path.name, "volume name")
            return {"file": str(path), "name": name}
        fields = [Field("file", "Local file", "/path/to/disk.qcow2", required=True),
                  Field("name", "Volume name", "(default: the file's name)")]
        self.app.push_screen(
            ActionFormScreen(f"Upload into {pool['name']} on {pool['host']}", fields, ask,
                             submit_label="Upload",
                             note="A new volume sized to the file; its format is read from "
                                  "the file. Escape during the upload cancels it and removes "
                                  "the partial volume."),
            lambda v: self.start_upload(pool, v["file"], v["name"]) if v else None)

    def start_upload(self, pool: dict[str, Any], path: str, name: str) -> None:
        def job(progress, cancel, _phase):
            return self.cloud.volumes.upload(self.ctx, name, pool["name"], path,
                                             host=pool["host"], progress=progress,
                                             cancel=cancel)
        self.app.push_screen(
            ProgressScreen(f"Upload {name} to {pool['name']} on {pool['host']}", job),
            lambda r: self._form_done(f"Uploaded {name} "
                                      f"({human_bytes(r.get('uploaded_bytes'))}).", r)
            if r else self.load_pools())

    def action_import_image(self) -> None:
        pool = self._need_pool()
        if pool is None:
            return

        def ask(v: dict[str, Any]) -> dict[str, Any]:
            path = local_file(v["file"], "import")
            name = validate_name(v["name"] or f"{path.stem}.{v['format']}", "volume name")
            return {"file": str(path), "name": name, "format": v["format"],
                    "source": v["source"] or None}
        fields = [Field("file", "Local image", "/path/to/disk.img", required=True),
                  Field("format", "Convert to", choices=(("qcow2", "qcow2 (thin)"),
                                                         ("raw", "raw"), ("vmdk", "vmdk"))),
                  Field("name", "Volume name", "(default: the file's name, new extension)"),
                  Field("source", "Source format", "(default: detected)",
                        help="raw, qcow2, vmdk, vdi, vhdx, … as qemu-img names them")]
        self.app.push_screen(
            ActionFormScreen(f"Import into {pool['name']} on {pool['host']}", fields, ask,
                             submit_label="Import",
                             note="qemu-img converts the image here, then it is uploaded as "
                                  "a new volume. Escape during either phase cancels; nothing "
                                  "half-made is left."),
            lambda v: self.start_import(pool, v) if v else None)

    def start_import(self, pool: dict[str, Any], v: dict[str, Any]) -> None:
        def job(progress, cancel, phase):
            return self.cloud.volumes.import_image(
                self.ctx, v["name"], pool["name"], v["file"], v["format"],
                host=pool["host"], progress=progress, cancel=cancel, on_phase=phase,
                src_format=v["source"])
        self.app.push_screen(
            ProgressScreen(f"Import {v['name']} ({v['format']}) to {pool['name']} on "
                           f"{pool['host']}", job),
            lambda r: self._form_done(f"Imported {v['name']} "
                                      f"({human_bytes(r.get('uploaded_bytes'))}).", r)
            if r else self.load_pools())

    def _disk_form(self, verb: str) -> None:
        """Attach (``t``) or detach (``T``) the volume under the cursor: ask for the server;
        the backend's refusal (no such server, a host that cannot, ...) stays in the form."""
        sel = self._need_volume()
        if sel is None:
            return
        pool, vol = sel
        fields = [Field("server", "Server", "name of a server on " + pool["host"],
                        required=True)]
        if verb == "attach":
            fields.append(Field("bus", "Bus", choices=(("virtio", "virtio"),
                                                       ("scsi", "scsi"), ("sata", "sata"))))

        def act(v: dict[str, Any]) -> Any:
            if verb == "attach":
                return self.cloud.volumes.attach(self.ctx, vol["name"], pool["name"],
                                                 v["server"], host=pool["host"],
                                                 bus=v["bus"])
            return self.cloud.volumes.detach(self.ctx, vol["name"], pool["name"],
                                             v["server"], host=pool["host"])

        def done(r: dict[str, Any] | None) -> None:
            if r is None:
                return
            if verb == "attach":
                text = (f"Attached {vol['name']} to {r['server']} as {r.get('target')}"
                        + (f" ({r['note']})." if r.get("note") else "."))
            else:
                text = f"Detached {vol['name']} from {r['server']}."
            self._form_done(text, r)
        self.app.push_screen(
            ActionFormScreen(f"{verb.capitalize()} {vol['name']} "
                             f"{'to' if verb == 'attach' else 'from'} a server", fields, act,
                             submit_label=verb.capitalize(),
                             note="As a data disk: live when the server runs and the host "
                                  "can, and in its persistent definition."
                             if verb == "attach" else ""),
            done)

    def action_attach(self) -> None:
        self._disk_form("attach")

    def action_detach(self) -> None:
        self._disk_form("detach")

    def action_download(self) -> None:
        sel = self._need_volume()
        if sel is None:
            return
        pool, vol = sel

        def ask(v: dict[str, Any]) -> dict[str, Any]:
            dest = Path(v["file"]).expanduser()
            if dest.exists():
                raise InvalidInput(f"{str(dest)!r} exists: choose another file")
            if not dest.parent.is_dir():
                raise InvalidInput(f"no such directory: {str(dest.parent)!r}")
            return {"file": str(dest)}
        self.app.push_screen(
            ActionFormScreen(f"Download {vol['name']}",
                             [Field("file", "To local file", f"./{vol['name']}",
                                    value=f"./{vol['name']}", required=True)],
                             ask, submit_label="Download"),
            lambda v: self.start_download(pool, vol, v["file"]) if v else None)

    def start_download(self, pool: dict[str, Any], vol: dict[str, Any], dest: str) -> None:
        def job(progress, cancel, _phase):
            return self.cloud.volumes.download(self.ctx, vol["name"], pool["name"], dest,
                                               host=pool["host"], progress=progress,
                                               cancel=cancel)
        self.app.push_screen(
            ProgressScreen(f"Download {vol['name']} from {pool['host']}", job),
            lambda r: self.notify(f"Downloaded {vol['name']} to {r['file']}.", timeout=4,
                                  markup=False) if r else None)

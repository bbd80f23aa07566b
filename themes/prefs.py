"""The UI's remembered choices (the theme name), a small JSON file under the state dir."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

FILENAME = "ui.json"


def ui_state_path(state_dir: Path | str) -> Path:
    return Path(state_dir) / FILENAME


def load_ui_state(state_dir: Path | str) -> dict:
    path = ui_state_path(state_dir)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def save_ui_state(state_dir: Path | str, **changes) -> None:
    """Merge ``changes`` into the file; written atomically, errors are logged, not raised
    (a read-only state dir must not crash the UI)."""
    path = ui_state_path(state_dir)
    data = load_ui_state(state_dir)
    data.update(changes)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not save %s: %s", path, exc)

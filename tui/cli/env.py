"""What a CLI handler gets: the parsed args, a lazily opened Cloud and the caller's context."""
from __future__ import annotations

from functools import cached_property


class CliEnv:
    def __init__(self, args):
        self.args = args
        self._cloud = None

    @cached_property
    def settings(self):
        from backend.config import load_settings
        from backend.virt import demo
        if self.args.demo:
            return demo.demo_settings()
        settings = load_settings(self.args.config)
        if not settings.hosts and not self.args.config and not settings.config_path.exists():
            # First run with no config: the embedded demo cloud.
            return demo.demo_settings()
        return settings

    @property
    def cloud(self):
        if self._cloud is None:
            from backend.api.cloud import Cloud
            self._cloud = Cloud(self.settings, connect=False)
        return self._cloud

    @cached_property
    def ctx(self):
        from tui.cli.auth import resolve_context
        return resolve_context(self)

    def close(self) -> None:
        if self._cloud is not None:
            self._cloud.close()
            self._cloud = None

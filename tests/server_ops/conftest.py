"""Server-ops tests use the shared demo/admin/cli_env fixtures of tests/conftest.py."""


def first(cloud, ctx, state, host=None):
    return next(r for r in cloud.servers.list(ctx, host=host) if r["state"] == state)

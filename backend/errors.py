"""The project's own exceptions. Faces show ``str(exc)``; the CLI exits with ``exc.exit_code``."""


class VirtstackError(Exception):
    """Base of every error a face should show as a message, not a traceback."""

    exit_code = 1
    kind = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(VirtstackError):
    exit_code = 2
    kind = "invalid-input"


class ConfigError(VirtstackError):
    exit_code = 2
    kind = "config"


class NotFound(VirtstackError):
    exit_code = 3
    kind = "not-found"


class Conflict(VirtstackError):
    exit_code = 4
    kind = "conflict"


class HostUnavailable(VirtstackError):
    """The host is disconnected, vanished or its connection dropped mid-call."""

    exit_code = 5
    kind = "host-unavailable"


class NotSupported(VirtstackError):
    """The host cannot do this (libvirt VIR_ERR_NO_SUPPORT and friends)."""

    exit_code = 6
    kind = "not-supported"


class AuthenticationFailed(VirtstackError):
    exit_code = 7
    kind = "unauthenticated"


class PolicyDenied(VirtstackError):
    exit_code = 8
    kind = "forbidden"


class QuotaExceeded(VirtstackError):
    exit_code = 9
    kind = "quota"


class NoValidHost(VirtstackError):
    exit_code = 10
    kind = "no-valid-host"


class HostKeyError(VirtstackError):
    """An SSH host key is unknown or has changed."""

    exit_code = 11
    kind = "host-key"


class OperationFailed(VirtstackError):
    """libvirt (or another back end) refused the operation; the message says why."""

    exit_code = 12
    kind = "failed"

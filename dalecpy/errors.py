"""The one base class of errors a user can cause: the CLI and the frontend report these as messages,
never as tracebacks (tracebacks are for our bugs)."""


class UserError(Exception):
    """Bad input (spec, flags, target, platform) or a daemon that cannot do what the spec asks."""

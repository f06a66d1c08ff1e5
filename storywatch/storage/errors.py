"""The storage error, in a module of its own so that the CLI can catch it without
importing SQLAlchemy (`storywatch --help` must start fast)."""


class StorageError(Exception):
    """The database cannot be opened or used; the message says which and why."""

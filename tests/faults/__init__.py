"""A hostile web on 127.0.0.1: every fault the crawler must survive, served by path."""

from tests.faults.server import FaultServer

__all__ = ["FaultServer"]

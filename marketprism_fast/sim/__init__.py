"""The venue simulator: each venue's documented public protocol on loopback (server.py),
fed by replayed captures (replay.py) or synthetic streams (generate.py), with faults (faults.py)."""

from .server import Simulator, VenueServer

__all__ = ["Simulator", "VenueServer"]

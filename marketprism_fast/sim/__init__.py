"""The venue simulator: each venue's documented public protocol on loopback (server.py; several venues at once: simulator.py),
fed by replayed captures (replay.py) or synthetic streams (generate.py), with faults (faults.py)."""

from .server import VenueServer
from .simulator import Simulator

__all__ = ["Simulator", "VenueServer"]

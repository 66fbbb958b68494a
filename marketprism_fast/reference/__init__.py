"""What the pure-Python reference parsers share (``base.py``, ``fields.py``).

Each venue family's reference parser lives in ``venues/<family>/reference.py``;
``parser.reference_parser(venue)`` makes one. They are the fallback when the compiled core
is not built and the oracle the compiled parsers are tested against: simple, strict, and
written to ``data-model.md`` line by line. They implement ``marketprism_fast.parser.Parser``.
"""

from .base import ReferenceParser

__all__ = ["ReferenceParser"]

"""marketprism_fast: crypto market-data ingest, decoded in Cython into columnar batches."""

__version__ = "0.1.0"

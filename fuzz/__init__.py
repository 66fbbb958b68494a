"""Fuzzing of the compiled core, differential against the reference parsers (see README.md)."""

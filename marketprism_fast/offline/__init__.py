"""The offline path: recorded capture files -> parser -> typed files (the ``normalize`` command).

``capture`` reads frames from recorded files, ``normalize`` drives the parser and the book
builder over them, ``writers`` turns the parser's batches into JSON Lines, CSV or Parquet.
"""

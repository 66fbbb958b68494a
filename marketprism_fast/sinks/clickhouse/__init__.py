"""ClickHouse: the DDL (``ddl.py``), the native columnar writer (``writer.py``) and the sink
(``sink.py``: the writer on one worker thread, with the disk spool of ``sinks/spool.py``)."""

"""From the parser's record buffers to the sinks: batches on size or age, fanned out to
one bounded queue and task per sink."""

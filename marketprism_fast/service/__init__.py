"""The live node: composition root, HTTP, metrics, health."""

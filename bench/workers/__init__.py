"""Measurements that run in a fresh interpreter each (``python -m bench._worker NAME ARGS``).

Modules here import only the standard library at the top, so what a measurement imports,
allocates and peaks at is its own. Each public function takes the JSON arguments and
returns a JSON-able dict.
"""

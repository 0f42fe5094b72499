"""Tests of the conformance kit itself (``imagebridge.testing``, in src/imagebridge/testing/).

The built-in plugins are certified *with* the kit in tests/plugins/test_builtin_conformance.py.
"""

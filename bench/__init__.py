"""imagebridge's benchmark suite: ``python -m bench`` from the repository root (see README.md).

Kept free of imports so that worker subprocesses (``python -m bench._worker``) start from a
clean interpreter and their memory and import figures are not polluted by the harness.
"""

"""``python -m bench._worker MODULE.FUNCTION ARGS_JSON``: one measurement, one JSON line.

MODULE is a module of :mod:`bench.workers`; it is imported only now, so the interpreter
holds nothing but what that measurement needs.
"""

from __future__ import annotations

import importlib
import json
import sys


def main() -> None:
    target, args = sys.argv[1], json.loads(sys.argv[2])
    module_name, _, function = target.rpartition(".")
    module = importlib.import_module(f"bench.workers.{module_name}")
    result = getattr(module, function)(args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

"""``python -m rayblas compare [...]``: see ``rayblas.compare``; ``python -m rayblas info``
prints ``rayblas.info()``."""

import json
import sys


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m rayblas {compare,info} [options]\n\n"
              "  compare  (x @ x.T).sum() through rayblas's strategies, numpy and dask.array,\n"
              "           each in a fresh process, interleaved (compare --help)\n"
              "  info     the linked BLAS, the CPU, the defaults (info --measure: the limits)")
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "compare":
        from ._compare import main as compare_main

        return compare_main(rest)
    if cmd == "info":
        import rayblas

        print(json.dumps(rayblas.info(measure="--measure" in rest), indent=1))
        return 0
    print(f"python -m rayblas: unknown command {cmd!r} (compare, info)", file=sys.stderr)
    return 2


sys.exit(main(sys.argv[1:]))

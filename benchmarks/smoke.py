"""The tiny form of every benchmark command: `KERAS_GATES_SMOKE=1`.

With `KERAS_GATES_SMOKE=1` in the environment, each command line of
`benchmarks/` runs in seconds, offline: what it times or compares (its
layers, variants and files) stays what the command asks for; the shapes,
rounds, epochs and data become tiny, whatever sizes the command names. The
documentation's tests run its command lines so. What such a run prints
and draws means nothing, and it says so on stderr.
"""

import os
import sys

MESSAGE = "smoke run (KERAS_GATES_SMOKE=1): tiny settings, figures not meaningful"
_announced = []


def smoke():
    """Whether `KERAS_GATES_SMOKE=1` asks for the tiny form; the first time
    it does, `MESSAGE` goes to stderr."""
    active = os.environ.get("KERAS_GATES_SMOKE") == "1"
    if active and not _announced:
        print(MESSAGE, file=sys.stderr, flush=True)
        _announced.append(True)
    return active


def parse_args(parser, argv=None, **tiny):
    """`parser.parse_args(argv)`, with the values of `tiny` (by destination)
    in place of those given or defaulted when `smoke()`."""
    args = parser.parse_args(argv)
    if smoke():
        vars(args).update(tiny)
    return args

"""python -m unlocked: the talk's table, measured in this interpreter."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap

from . import _talk


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m unlocked",
        description="Measure the PyCon US 2024 talk's ways of going parallel (plain loop, 100 threads, "
                    "ThreadPoolExecutor, asyncio, multiprocessing, sub-interpreters) against numpy and "
                    "Unlocked, on the talk's 100,000 ints and one large size, in this interpreter.")
    parser.add_argument("--quick", action="store_true",
                        help="fewer repetitions and a 1Mi large size (a few seconds instead of up to a minute)")
    parser.add_argument("--size-large", type=int, metavar="N",
                        help="elements of the large size (default 4194304; 1048576 with --quick)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    try:
        lines = _talk.main(arguments.quick, arguments.size_large, progress=sys.stderr.isatty())
    except ValueError as error:
        print(f"python -m unlocked: {error}", file=sys.stderr)
        return 64
    except KeyboardInterrupt:
        print("python -m unlocked: interrupted", file=sys.stderr)
        return 130
    try:
        for line in lines:
            # The table is made to fit; verdicts wrap at 100 columns.
            print(textwrap.fill(line, 100, subsequent_indent="  ") if len(line) > 100 else line)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (| head): exit quietly, code 74 (output I/O)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 74
    return 0


if __name__ == "__main__":
    sys.exit(main())

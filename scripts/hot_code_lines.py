#!/usr/bin/env python3
"""Code footprint of one hot path: the 64-byte code lines a verification runs, by function.

A fresh token's overhead above the bare signature check is as much where its code sits as how
many instructions it runs (docs/PERFORMANCE.md, "The floor"): the library's code and aws-lc's
together are larger than the 32 KiB first-level instruction cache, so most of their lines are
fetched again on every verification. This counts those lines from a callgrind profile made
with `--dump-instr=yes`:

    cargo build --release -p auth0-api --example instructions
    valgrind --tool=callgrind --dump-instr=yes --toggle-collect='*measured_*' \\
        --callgrind-out-file=cg.off target/release/examples/instructions off 400
    scripts/hot_code_lines.py cg.off 400 [TOP]

N (400 above) is the number of verifications the profile counted. A line is **hot** when
the instructions counted on it add up to at least 0.9 N: on average it runs on every
verification (a line that runs once in the whole profile, such as the runtime's start-up,
does not count). Prints the hot lines in all and by kind (aws-lc, libc, the rest), then the
TOP (40) functions of the rest with their hot lines and instructions per verification (self
cost; a function's monomorphisations are counted together). Compare two paths (`floor`,
`off`, `bare`) or two builds, not the figures alone.
"""

import collections
import re
import sys


def position(token, last):
    """An address from a callgrind position: absolute, relative (+n / -n) or the same (*)."""
    if token[0] in "+-":
        step = int(token[1:], 0)
        return last + step if token[0] == "+" else last - step
    if token == "*":
        return last
    return int(token, 0)


def kind(function):
    if function is None:
        return "?"
    if "aws_lc" in function or function.startswith(("bn_", "evp_", "pkey_", "BN_", "RSA", "rsa")):
        return "aws-lc"
    if re.search(r"malloc|free|memcpy|memset|memmove|memcmp|bcmp|pthread|realloc", function):
        return "libc"
    return "rest"


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, n = sys.argv[1], float(sys.argv[2])
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    names = {}

    def name(value):
        # Compressed names: "(id) name" defines id, "(id)" refers to it.
        m = re.match(r"\((\d+)\)(?: (.*))?", value)
        if not m:
            return value
        if m.group(2):
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), value)

    line_cost = collections.Counter()
    line_function = {}
    function_cost = collections.Counter()
    function, last, after_calls = None, 0, False
    with open(path, errors="replace") as profile:
        for raw in profile:
            raw = raw.rstrip("\n")
            if not raw:
                continue
            if raw.startswith("fn="):
                function = name(raw[3:])
            elif raw.startswith("cfn="):
                name(raw[4:])
            elif raw.startswith(("cfi=", "cfl=", "cob=")):
                pass
            elif raw.startswith("calls="):
                # The next cost line is the call's inclusive cost, not this function's.
                after_calls = True
            elif raw[0] in "0123456789+-*":
                fields = raw.split()
                last = position(fields[0], last)
                if after_calls:
                    after_calls = False
                elif len(fields) > 2:
                    cost = int(fields[2])
                    line_cost[last >> 6] += cost
                    line_function.setdefault(last >> 6, function)
                    function_cost[function] += cost
            elif "=" in raw:
                key, value = raw.split("=", 1)
                if key in ("fl", "fi", "fe", "ob"):
                    name(value)

    hot = [line for line, cost in line_cost.items() if cost >= 0.9 * n]
    kinds = collections.Counter(kind(line_function[line]) for line in hot)
    print(f"{path}: {len(hot)} hot lines ({len(hot) * 64 / 1024:.1f} KiB): " +
          ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    by_function = collections.Counter(line_function[line] for line in hot)
    shown = 0
    for function, lines in by_function.most_common():
        if kind(function) != "rest":
            continue
        print(f"{lines:5d} lines {function_cost[function] / n:9.0f} instr  {function[:140]}")
        shown += 1
        if shown == top:
            break


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Whether a measured value meets its target, for the "met" columns of
bench/results.md (bench/run):

    met.py VALUE ge|le TARGET      VALUE >= TARGET, VALUE <= TARGET
    met.py VALUE in LOW HIGH       LOW <= VALUE <= HIGH

Prints "yes", "**no**", or "not measured" when VALUE is empty or not a
number."""
import sys


def met(value, op, *bounds):
    try:
        v = float(value)
    except ValueError:
        return "not measured"
    b = [float(x) for x in bounds]
    ok = {"ge": lambda: v >= b[0], "le": lambda: v <= b[0], "in": lambda: b[0] <= v <= b[1]}[op]()
    return "yes" if ok else "**no**"


if __name__ == "__main__":
    print(met(*sys.argv[1:]))

"""Writes a vectors file as both generators (make_vectors.py,
make_vectors_modern.py) do: indented ASCII JSON, to the path given as the
first argument, or to standard output."""
import json
import sys


def write(out):
    text = json.dumps(out, indent=1, ensure_ascii=True) + "\n"
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)

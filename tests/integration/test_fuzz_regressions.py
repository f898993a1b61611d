"""The fuzz harnesses' target functions (fuzz/fuzz_*.cc), built without
libFuzzer into replay programs (make check builds BUILD/fuzz/replay_*), run on
every seed input (fuzz/corpus/NAME/) and every input a fuzzer once crashed on
(fuzz/regressions/NAME/). A crash, a sanitizer report or a failed check in a
harness fails the test."""
import os
import subprocess

import pytest

from conftest import BUILD

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUZZ = os.path.join(TOP, "fuzz")
HARNESSES = sorted(f[:-3] for f in os.listdir(FUZZ) if f.startswith("fuzz_") and f.endswith(".cc"))


def test_every_harness_has_seeds_and_a_dictionary():
    assert HARNESSES
    for h in HARNESSES:
        assert os.listdir(os.path.join(FUZZ, "corpus", h)), h
        assert os.path.isfile(os.path.join(FUZZ, h + ".dict")), h


@pytest.mark.parametrize("harness", HARNESSES)
def test_replay(harness):
    exe = os.path.join(BUILD, "fuzz", "replay_" + harness)
    assert os.access(exe, os.X_OK), "make check builds " + exe
    dirs = [d for d in (os.path.join(FUZZ, "corpus", harness), os.path.join(FUZZ, "regressions", harness))
            if os.path.isdir(d)]
    p = subprocess.run([exe, *dirs], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Sanitizer" not in p.stderr, p.stderr
    assert "replayed" in p.stdout

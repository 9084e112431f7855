#!/usr/bin/python3
"""run.py - the test runner: C unit tests, then end-to-end tests.

Unit test binaries (UNITDIR/test_*) print "N passed, N failed"; every
assertion counts. End-to-end tests are the test_* functions of
tests/e2e/test_*.py; each function counts once. The last line is the total:
"N passed, N failed". Usage: run.py [-k SUBSTRING] [-x]
"""
import glob
import importlib.util
import os
import re
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_units(unitdir, passed, failed, pattern):
    for exe in sorted(glob.glob(os.path.join(ROOT, unitdir, "test_*"))):
        if not os.access(exe, os.X_OK) or exe.endswith(".o"):
            continue
        if pattern and pattern not in os.path.basename(exe):
            continue
        p = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
        m = re.search(r"^(\d+) passed, (\d+) failed$", p.stdout, re.M)
        name = os.path.basename(exe)
        if m and p.returncode == 0 and int(m.group(2)) == 0:
            passed[0] += int(m.group(1))
            print(f"ok   {name} ({m.group(1)} checks)")
        else:
            n = int(m.group(2)) if m else 1
            failed[0] += max(n, 1)
            passed[0] += int(m.group(1)) if m else 0
            print(f"FAIL {name} (exit {p.returncode})")
            sys.stdout.write(p.stdout[-4000:])
            sys.stdout.write(p.stderr[-4000:])


def run_e2e(passed, failed, pattern, stop_first):
    sys.path.insert(0, os.path.join(HERE, "e2e"))
    for path in sorted(glob.glob(os.path.join(HERE, "e2e", "test_*.py"))):
        modname = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for name in sorted(n for n in dir(mod) if n.startswith("test_")):
            fn = getattr(mod, name)
            if not callable(fn):
                continue
            full = f"{modname}.{name}"
            if pattern and pattern not in full:
                continue
            t0 = time.monotonic()
            try:
                fn()
            except Exception:
                failed[0] += 1
                print(f"FAIL {full}")
                traceback.print_exc(file=sys.stdout)
                if stop_first:
                    return
            else:
                passed[0] += 1
                print(f"ok   {full} ({time.monotonic() - t0:.2f}s)")
            sys.stdout.flush()


def main():
    args = sys.argv[1:]
    pattern = None
    stop_first = "-x" in args
    if "-k" in args:
        pattern = args[args.index("-k") + 1]
    passed, failed = [0], [0]
    run_units(os.environ.get("UNITDIR", "build"), passed, failed, pattern)
    run_e2e(passed, failed, pattern, stop_first)
    print(f"{passed[0]} passed, {failed[0]} failed")
    return 1 if failed[0] or not passed[0] else 0


if __name__ == "__main__":
    sys.exit(main())

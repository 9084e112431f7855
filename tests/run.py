#!/usr/bin/python3
"""run.py - the test runner: C unit tests, then end-to-end tests.

Unit test binaries (UNITDIR/test_*) print "N passed, N failed"; every
assertion counts. End-to-end tests are the test_* functions of
tests/e2e/test_*.py; each function counts once. A test that cannot run here
(it needs root, or a program that is missing) raises nl.Skip (or
unittest.SkipTest) and counts as skipped, never as passed.

Both kinds run in parallel: unit binaries as subprocesses, end-to-end tests
each in a worker of a process pool (every test makes its own temporary
folder and picks free ports, so none shares a path or a port with another).
Each test's output is captured and printed whole when it ends, so lines of
two tests never interleave. The longest tests (as timed last time, in
UNITDIR/e2e-times.json) start first. The last line is the total:
"N passed, N failed, N skipped".

Usage: run.py [-k SUBSTRING] [-x] [-j JOBS]
  -k SUBSTRING  only the tests whose name contains it
  -x            stop after the first failure (tests already running finish)
  -j JOBS       parallel workers (default: NL_TEST_JOBS, else twice the CPUs, 2 to 4)
"""
import concurrent.futures as cf
import glob
import importlib.util
import json
import multiprocessing
import multiprocessing.util
import atexit
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
E2E = os.path.join(HERE, "e2e")
UNIT_RESULT = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$", re.M)


class Totals:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0


def default_jobs():
    env = os.environ.get("NL_TEST_JOBS")
    if env:
        return max(1, int(env))
    # The tests mostly wait (on servers, timeouts, sleeps): more workers than cores pay.
    return min(4, max(2, 2 * (os.cpu_count() or 1)))


# ---- unit tests ----

def run_unit(exe):
    """One unit binary: (name, passed, failed, skipped, report text)."""
    name = os.path.basename(exe)
    p = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    m = UNIT_RESULT.search(p.stdout)
    npass = int(m.group(1)) if m else 0
    nskip = int(m.group(3) or 0) if m else 0
    if m and p.returncode == 0 and int(m.group(2)) == 0:
        extra = f", {nskip} skipped" if nskip else ""
        return name, npass, 0, nskip, f"ok   {name} ({npass} checks{extra})\n"
    nfail = max(int(m.group(2)) if m else 1, 1)
    text = f"FAIL {name} (exit {p.returncode})\n" + p.stdout[-4000:] + p.stderr[-4000:]
    return name, npass, nfail, nskip, text


def run_units(unitdir, totals, pattern, jobs, stop_first):
    exes = [exe for exe in sorted(glob.glob(os.path.join(ROOT, unitdir, "test_*")))
            if os.access(exe, os.X_OK) and not exe.endswith(".o")
            and (not pattern or pattern in os.path.basename(exe))]
    with cf.ThreadPoolExecutor(max_workers=jobs) as pool:
        # In name order, as each binary is short: a stable report beats an early one.
        for name, npass, nfail, nskip, text in pool.map(run_unit, exes):
            totals.passed += npass
            totals.failed += nfail
            totals.skipped += nskip
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            sys.stdout.flush()
    return not (stop_first and totals.failed)


# ---- end-to-end tests ----

_modules = {}


def load_module(path):
    """Import tests/e2e/NAME.py once per process."""
    if path not in _modules:
        if E2E not in sys.path:
            sys.path.insert(0, E2E)
        modname = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _modules[path] = mod
    return _modules[path]


def collect(pattern):
    """[(path, function name, full name)] in file and name order."""
    tests = []
    for path in sorted(glob.glob(os.path.join(E2E, "test_*.py"))):
        mod = load_module(path)
        modname = os.path.splitext(os.path.basename(path))[0]
        for name in sorted(n for n in dir(mod) if n.startswith("test_")):
            full = f"{modname}.{name}"
            if callable(getattr(mod, name)) and (not pattern or pattern in full):
                tests.append((path, name, full))
    return tests


def worker_init():
    # Pool workers end with os._exit, which skips atexit: run what tests
    # registered there (the test CA's folder) through multiprocessing's own exit hook.
    multiprocessing.util.Finalize(None, atexit._run_exitfuncs, exitpriority=0)


def run_one(path, name, full):
    """Run one test function in this worker with fds 1 and 2 captured:
    (status, full name, seconds, output); status is ok, FAIL or skip."""
    with tempfile.TemporaryFile(mode="w+b") as cap:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(cap.fileno(), 1)
        os.dup2(cap.fileno(), 2)
        t0 = time.monotonic()
        status, why = "ok", ""
        try:
            getattr(load_module(path), name)()
        except unittest.SkipTest as e:
            status, why = "skip", str(e) or "skipped"
        except BaseException:
            status = "FAIL"
            sys.stdout.write(traceback.format_exc())
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        seconds = time.monotonic() - t0
        cap.seek(0)
        out = cap.read().decode(errors="replace")
    return status, full, seconds, out, why


def report(totals, res):
    status, full, seconds, out, why = res
    if status == "ok":
        totals.passed += 1
        head = f"ok   {full} ({seconds:.2f}s)\n"
        out = ""  # a passing test's chatter is noise
    elif status == "skip":
        totals.skipped += 1
        head = f"skip {full}: {why}\n"
        out = ""
    else:
        totals.failed += 1
        head = f"FAIL {full} ({seconds:.2f}s)\n"
    sys.stdout.write(head + out + ("" if not out or out.endswith("\n") else "\n"))
    sys.stdout.flush()


def load_times(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save_times(path, times):
    try:
        with open(path + ".tmp", "w") as f:
            json.dump(times, f, indent=0, sort_keys=True)
        os.replace(path + ".tmp", path)
    except OSError:
        pass  # only a hint for the next run's order


def run_e2e(totals, pattern, stop_first, jobs, times_path):
    tests = collect(pattern)
    if not tests:
        return
    # Longest first (as last measured), so that no long test starts last and runs alone.
    times = load_times(times_path)
    tests.sort(key=lambda t: -times.get(t[2], 0.0))
    try:
        run_tests(totals, tests, stop_first, jobs, times)
    finally:
        save_times(times_path, times)


def run_tests(totals, tests, stop_first, jobs, times):
    if jobs <= 1:
        for t in tests:
            res = run_one(*t)
            times[res[1]] = round(res[2], 2)
            report(totals, res)
            if stop_first and res[0] == "FAIL":
                return
        return
    ctx = multiprocessing.get_context("fork")
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=worker_init) as pool:
        futures = [pool.submit(run_one, *t) for t in tests]
        for fut in cf.as_completed(futures):
            res = fut.result()
            times[res[1]] = round(res[2], 2)
            report(totals, res)
            if stop_first and res[0] == "FAIL":
                for f in futures:
                    f.cancel()
                break


def main():
    args = sys.argv[1:]
    pattern = None
    stop_first = "-x" in args
    jobs = default_jobs()
    if "-k" in args:
        pattern = args[args.index("-k") + 1]
    if "-j" in args:
        jobs = max(1, int(args[args.index("-j") + 1]))
    totals = Totals()
    unitdir = os.environ.get("UNITDIR", "build")
    if run_units(unitdir, totals, pattern, jobs, stop_first):
        run_e2e(totals, pattern, stop_first, jobs, os.path.join(ROOT, unitdir, "e2e-times.json"))
    print(f"{totals.passed} passed, {totals.failed} failed, {totals.skipped} skipped")
    return 1 if totals.failed or not totals.passed else 0


if __name__ == "__main__":
    sys.exit(main())

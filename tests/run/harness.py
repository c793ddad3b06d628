"""A tiny test runner shared by the end-to-end scripts: runs every `test_*` function of a module in
order, prints PASS/FAIL with the traceback, and ends with the 'N passed, M failed' line ctest logs.

Importing it points FERSWEEP_FEATURE_CACHE at a fresh temporary folder (removed at exit), so a
test's `fersweep run` never reads or writes the user's ~/.cache/fersweep/features."""
import atexit
import os
import shutil
import subprocess
import tempfile
import time
import traceback

_CACHE = tempfile.mkdtemp(prefix="fersweep-test-feature-cache-")
os.environ["FERSWEEP_FEATURE_CACHE"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, True)


def fresh_demo_data(exe, scratch, data, seed, env=None):
    """Empties `scratch` and writes the demo dataset (`fersweep make-demo-data`) into `data`."""
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    p = subprocess.run([exe, "make-demo-data", data, "--seed", str(seed)], env=env,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def run_tests(namespace, only="", ordered=True):
    """Runs namespace's test_* functions (sorted by name unless ordered is False: file order).
    Returns the process exit status."""
    names = [n for n in namespace if n.startswith("test_") and only in n]
    if ordered:
        names.sort()
    passed = failed = 0
    for name in names:
        start = time.time()
        try:
            namespace[name]()
            passed += 1
            print(f"PASS {name} ({time.time() - start:.1f} s)", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {name}\n{traceback.format_exc()}", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0

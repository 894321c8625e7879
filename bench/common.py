"""Helpers shared by the whole-process benchmarks in bench/."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(args, cwd, env, check=True):
    """Runs a command, exiting with its stderr when it fails (unless check=False)."""
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit(f"{' '.join(args)} in {cwd} failed: {r.stderr}")
    return r

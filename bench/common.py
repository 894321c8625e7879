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


def build_thrum():
    """Builds the release binary and returns its path."""
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "thrum-cli"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "thrum")


def sandbox(prefix, drop=("THRUM_NAME",)):
    """A throw-away HOME with its own git identity; returns (dir, env)."""
    import tempfile

    tmp = tempfile.mkdtemp(prefix=prefix)
    env = dict(os.environ, HOME=tmp, THRUM_NO_HINTS="1", GIT_CONFIG_NOSYSTEM="1")
    for k in drop:
        env.pop(k, None)
    with open(os.path.join(tmp, ".gitconfig"), "w") as f:
        f.write("[user]\n\tname = Bench\n\temail = bench@example.com\n[init]\n\tdefaultBranch = main\n")
    return tmp, env

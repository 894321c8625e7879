"""Helpers shared by the whole-process benchmarks in bench/."""

import json
import os
import socket
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
    """Builds the release binary and returns its path (under
    CARGO_TARGET_DIR when that is set)."""
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "thrum-cli"], cwd=ROOT, check=True)
    return os.path.join(ROOT, os.environ.get("CARGO_TARGET_DIR", "target"), "release", "thrum")


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


class Rpc:
    """One JSON-RPC connection to a daemon's socket (notifications skipped)."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rwb")
        self.n = 0

    def call(self, method, params):
        self.n += 1
        self.f.write((json.dumps({"jsonrpc": "2.0", "id": self.n, "method": method, "params": params}) + "\n").encode())
        self.f.flush()
        while True:
            resp = json.loads(self.f.readline())
            if resp.get("id") == self.n:
                break
        if "error" in resp:
            sys.exit(f"{method}: {resp['error']}")
        return resp["result"]

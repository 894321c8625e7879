#!/usr/bin/env python3
"""Times git sync between two clones sharing a bare remote on disk.

Reports the sync-cycle time on clone A for 0, 100 and 10,000 new remote
events (with 10,000 local events on A, so both sides have history), and
the time from `thrum send` on clone A to the message being in clone B's
inbox with the default timing (1 s debounce, 2 s remote check).

Usage: python3 bench/sync.py [--big N]
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

from common import build_thrum, run, sandbox


def send_many(repo, agent, to, n, tag):
    """Sends n messages over one socket connection (from inside the repo)."""
    here = os.getcwd()
    os.chdir(repo)
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(os.path.join(repo, ".thrum", "var", "thrum.sock"))
        f = s.makefile("rwb")
        for i in range(n):
            req = {"jsonrpc": "2.0", "id": i, "method": "message.send",
                   "params": {"content": f"{tag} {i}", "mentions": [to], "caller_agent_id": agent}}
            f.write((json.dumps(req) + "\n").encode())
            f.flush()
            resp = json.loads(f.readline())
            if "error" in resp:
                sys.exit(f"send failed: {resp['error']}")
        s.close()
    finally:
        os.chdir(here)


def timed_sync(thrum, repo, env):
    t = time.perf_counter()
    out = run([thrum, "sync", "force", "--wait", "--json"], repo, env).stdout
    ms = (time.perf_counter() - t) * 1000
    st = json.loads(out)
    if st.get("last_result") != "ok":
        sys.exit(f"sync failed: {st}")
    return ms, st


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", type=int, default=10_000)
    a = ap.parse_args()
    thrum = build_thrum()
    tmp, env = sandbox("thrum-sync-bench-", drop=("THRUM_NAME", "THRUM_SYNC_INTERVAL", "THRUM_SYNC_DEBOUNCE_MS"))
    # Part one measures forced cycles alone: no background syncing.
    quiet = dict(env, THRUM_SYNC_DEBOUNCE_MS="3600000", THRUM_SYNC_REMOTE_POLL_MS="0", THRUM_SYNC_INTERVAL="3600")
    remote, A, B = (os.path.join(tmp, x) for x in ("remote.git", "a", "b"))
    try:
        run(["git", "init", "-q", "--bare", remote], tmp, env)
        os.makedirs(A)
        run(["git", "init", "-q"], A, env)
        run(["git", "commit", "-q", "--allow-empty", "-m", "init"], A, env)
        run(["git", "remote", "add", "origin", remote], A, env)
        run(["git", "push", "-q", "origin", "main"], A, env)
        run(["git", "clone", "-q", remote, B], tmp, env)
        for repo, name, role in ((A, "alice", "implementer"), (B, "bob", "reviewer")):
            run([thrum, "init", "-q", "--sync"], repo, quiet)
            run([thrum, "quickstart", "--name", name, "--role", role, "--module", "m", "--no-agent-pid", "-q"], repo, quiet)
        for repo in (B, A, B):
            timed_sync(thrum, repo, quiet)

        print(f"preparing: {a.big} local events on A ...", flush=True)
        send_many(A, "alice", "bob", a.big, "from A")
        timed_sync(thrum, A, quiet)
        timed_sync(thrum, B, quiet)  # B takes A's history once
        results = []
        noop = [timed_sync(thrum, A, quiet)[0] for _ in range(5)]
        results.append((0, statistics.median(noop)))
        for n in (100, a.big):
            send_many(B, "bob", "alice", n, f"batch{n} from B")
            timed_sync(thrum, B, quiet)  # push B's events
            ms, st = timed_sync(thrum, A, quiet)
            results.append((n, ms))
            if st["last_pulled"] < n:
                sys.exit(f"expected {n} pulled, got {st}")
        for n, ms in results:
            print(f"sync cycle on A (fetch, merge, project, commit, push) with {n:>6} new remote events: {ms:8.1f} ms")

        # send on A -> inbox on B, hands off, default timing: A's debounce
        # pushes, B's remote check (every 2 s) notices and pulls.
        for repo in (A, B):
            run([thrum, "daemon", "stop", "-q"], repo, env)
        run([thrum, "daemon", "start", "-q"], A, env)
        run([thrum, "daemon", "start", "-q"], B, env)
        lat = []
        for i in range(5):
            before = json.loads(run([thrum, "inbox", "--unread", "--json"], B, env).stdout)["total"]
            t = time.perf_counter()
            run([thrum, "send", f"latency probe {i}", "--to", "@bob", "-q"], A, env)
            while True:
                now = json.loads(run([thrum, "inbox", "--unread", "--json"], B, env).stdout)["total"]
                if now > before:
                    break
                if time.perf_counter() - t > 60:
                    sys.exit("the probe never arrived")
                time.sleep(0.05)
            lat.append(time.perf_counter() - t)
            run([thrum, "message", "read", "--all", "-q"], B, env)
        print(f"thrum send on A -> in B's inbox (defaults: 1 s debounce, 2 s remote check): "
              f"median {statistics.median(lat):.2f} s (runs: {', '.join(f'{x:.2f}' for x in lat)})")
    finally:
        for repo in (A, B):
            subprocess.run([thrum, "daemon", "stop", "-q"], cwd=repo, env=env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

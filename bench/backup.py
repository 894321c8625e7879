#!/usr/bin/env python3
"""Times `thrum backup` and `thrum backup restore` of a large store.

Builds a store of N messages (default 100,000) among 50 agents, written
through the daemon over 16 pipelined socket connections, then reports,
as medians of several runs (release build, whole processes):

- `thrum backup`: wall time, the archive's size, and how long the writer
  stood still to pin the log (the daemon's own figure);
- `thrum backup restore ARCHIVE --yes`: wall time, which includes the
  safety backup, stopping the daemon, putting the files back and starting
  the daemon again (its start rebuilds the database from the log);
- that the restored daemon answers `thrum inbox` with every message (the
  rebuild finishes inside the daemon's start);
- sends during a backup: round-trip time of `message.send` on a socket
  while a backup of the whole store runs.

Usage: python3 bench/backup.py [--messages N] [--runs R]
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

from common import Rpc, build_thrum, run, sandbox

AGENTS = 50


def send_bulk(repo, n, conns=16, window=256):
    """Sends n messages from agent i to agent i+1 (round robin), over
    `conns` connections, each keeping `window` requests in flight."""
    sock = os.path.join(repo, ".thrum", "var", "thrum.sock")
    per = [n // conns + (1 if i < n % conns else 0) for i in range(conns)]
    errors = []

    def worker(w, count):
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        f = s.makefile("rwb")
        sent = done = 0
        while done < count:
            while sent < count and sent - done < window:
                k = w * 1_000_000 + sent
                a = k % AGENTS
                req = {"jsonrpc": "2.0", "id": sent, "method": "message.send",
                       "params": {"content": f"bench message {k} " + "x" * 80,
                                  "mentions": [f"agent_{(a + 1) % AGENTS}"], "caller_agent_id": f"agent_{a}"}}
                f.write((json.dumps(req) + "\n").encode())
                sent += 1
            f.flush()
            resp = json.loads(f.readline())
            if "error" in resp:
                errors.append(resp["error"])
                return
            done += 1
        s.close()

    here = os.getcwd()
    os.chdir(repo)  # the daemon identifies callers by their directory
    try:
        threads = [threading.Thread(target=worker, args=(w, c)) for w, c in enumerate(per)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        os.chdir(here)
    if errors:
        sys.exit(f"send failed: {errors[0]}")


def timed(args, cwd, env):
    t = time.perf_counter()
    out = run(args, cwd, env).stdout
    return (time.perf_counter() - t) * 1000, out


def total_inbox(thrum, repo, env, agent):
    out = run([thrum, "inbox", "--all", "--unread", "--page-size", "1", "--json"], repo, dict(env, THRUM_NAME=agent)).stdout
    return json.loads(out)["total"]


def sends_during_backup(thrum, repo, env):
    """Round trips of message.send on one connection while a backup runs."""
    here = os.getcwd()
    os.chdir(repo)
    try:
        rpc = Rpc(os.path.join(repo, ".thrum", "var", "thrum.sock"))
        proc = subprocess.Popen([thrum, "backup", "--json"], cwd=repo, env=env, stdout=subprocess.PIPE, text=True)
        lat = []
        while proc.poll() is None:
            t = time.perf_counter()
            rpc.call("message.send", {"content": "during backup", "mentions": ["agent_1"], "caller_agent_id": "agent_0"})
            lat.append((time.perf_counter() - t) * 1000)
        out, _ = proc.communicate()
        if proc.returncode != 0:
            sys.exit("backup failed during the send probe")
        return lat, json.loads(out)
    finally:
        os.chdir(here)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    thrum = build_thrum()
    tmp, env = sandbox("thrum-backup-bench-")
    repo = os.path.join(tmp, "repo")
    try:
        os.makedirs(repo)
        run(["git", "init", "-q"], repo, env)
        run(["git", "commit", "-q", "--allow-empty", "-m", "init"], repo, env)
        run([thrum, "init", "-q"], repo, env)
        for i in range(AGENTS):
            run([thrum, "quickstart", "--name", f"agent_{i}", "--role", "implementer", "--module", "m",
                 "--no-agent-pid", "-q"], repo, env)
        t = time.perf_counter()
        send_bulk(repo, a.messages)
        print(f"store: {a.messages} messages among {AGENTS} agents, written in {time.perf_counter() - t:.1f} s", flush=True)

        backups, pauses, sizes, archive = [], [], [], None
        for _ in range(a.runs):
            ms, out = timed([thrum, "backup", "--json"], repo, env)
            r = json.loads(out)
            backups.append(ms)
            pauses.append(r["pause_ms"])
            sizes.append(r["bytes"])
            archive = r["path"]
        sync_dir = os.path.join(repo, ".git", "thrum-sync", "a-sync")
        log_bytes = sum(os.path.getsize(os.path.join(dp, f))
                        for dp, _, fs in os.walk(sync_dir)
                        if ".git" not in os.path.relpath(dp, sync_dir).split(os.sep)
                        for f in fs if f.endswith(".jsonl"))
        print(f"thrum backup:  median {statistics.median(backups):7.0f} ms "
              f"(runs: {', '.join(f'{x:.0f}' for x in backups)}); archive {sizes[-1] / 1e6:.1f} MB "
              f"from {log_bytes / 1e6:.1f} MB of log; writer paused median {statistics.median(pauses):.2f} ms")

        want = total_inbox(thrum, repo, env, "agent_1")
        lat, _ = sends_during_backup(thrum, repo, env)
        lat.sort()
        print(f"message.send during a backup: {len(lat)} sends, median {statistics.median(lat):.2f} ms, "
              f"max {lat[-1]:.2f} ms")

        restores, ready, phases = [], [], []
        safety_dir = os.path.dirname(archive)
        for _ in range(a.runs):
            ms, out = timed([thrum, "backup", "restore", archive, "--yes", "--json"], repo, env)
            restores.append(ms)
            phases.append(json.loads(out)["timings_ms"])
            t = time.perf_counter()
            got = total_inbox(thrum, repo, env, "agent_1")
            ready.append((time.perf_counter() - t) * 1000)
            if got != want:
                sys.exit(f"restored inbox has {got} messages, expected {want}")
            # Keep the disk in check: the safety backups pile up otherwise.
            for f in os.listdir(safety_dir):
                if f.startswith("safety-"):
                    os.remove(os.path.join(safety_dir, f))
        print(f"thrum backup restore (safety backup + stop + restore + start with rebuild): "
              f"median {statistics.median(restores):7.0f} ms (runs: {', '.join(f'{x:.0f}' for x in restores)})")
        names = list(phases[0])
        print("  of which (medians): " + ", ".join(f"{k} {statistics.median(p[k] for p in phases):.0f} ms" for k in names))
        print(f"after each restore agent_1's inbox held its {want} messages, as before "
              f"(that count query: median {statistics.median(ready):.0f} ms, as without a restore)")
    finally:
        subprocess.run([thrum, "daemon", "stop", "-q"], cwd=repo, env=env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

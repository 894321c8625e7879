#!/usr/bin/env python3
"""Times whole `thrum` processes against a warm daemon.

Builds the release binary, makes a throw-away repository with 50 agents and
10,000 messages, then reports medians for `thrum send`, `thrum inbox --json`
(page of 100), `thrum hook claude post-tool-use` with nothing to say, daemon start-to-ready with 10k messages, start after deleting
the SQLite projection (full rebuild), and the daemon's idle RSS.

Usage: python3 bench/cli.py [--runs N] [--messages N] [--agents N] [--bin PATH]
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import ROOT, Rpc, run


def timed(args, cwd, env, runs, stdin=None):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run(args, cwd=cwd, env=env, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append((time.perf_counter() - t) * 1000)
        if r.returncode != 0:
            sys.exit(f"{' '.join(args)} failed: {r.stderr.decode()}")
    return statistics.median(times), times


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_ticks(pid):
    """CPU time of a process and of its reaped children (the daemon's git)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15])


def wait_idle(pid, quiet=0.5, limit=60.0):
    """Waits until the daemon has used no CPU for `quiet` seconds: a warm
    daemon, not one still committing the generated store to git."""
    end = time.time() + limit
    last = cpu_ticks(pid)
    while time.time() < end:
        time.sleep(quiet)
        now = cpu_ticks(pid)
        if now == last:
            return
        last = now


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--bin", help="time this thrum binary instead of building target/release/thrum")
    a = ap.parse_args()

    if a.bin:
        thrum = os.path.abspath(a.bin)
    else:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "thrum-cli"], cwd=ROOT, check=True)
        thrum = os.path.join(ROOT, "target", "release", "thrum")
    tmp = tempfile.mkdtemp(prefix="thrum-bench-")
    repo = os.path.join(tmp, "repo")
    os.makedirs(repo)
    env = dict(os.environ, HOME=tmp, THRUM_NO_HINTS="1", GIT_CONFIG_NOSYSTEM="1")
    env.pop("THRUM_NAME", None)
    with open(os.path.join(tmp, ".gitconfig"), "w") as f:
        f.write("[user]\n\tname = Bench\n\temail = bench@example.com\n")
    try:
        run(["git", "init", "-q"], repo, env)
        run(["git", "commit", "-q", "--allow-empty", "-m", "init"], repo, env)
        run([thrum, "init", "--quiet"], repo, env)
        for i in range(a.agents):
            run([thrum, "quickstart", "--name", f"agent_{i}", "--role", f"role_{i % 5}", "--module", "bench",
                "--no-agent-pid", "--quiet"], repo, env)
        # Generate the store over one socket connection (fast path).
        os.chdir(repo)  # the daemon identifies callers by working directory
        rpc = Rpc(os.path.join(repo, ".thrum", "var", "thrum.sock"))
        rnd = random.Random(7)
        t = time.perf_counter()
        for n in range(a.messages):
            frm = rnd.randrange(a.agents)
            to = (frm + 1 + rnd.randrange(a.agents - 1)) % a.agents
            rpc.call("message.send", {"content": f"message {n} with some ordinary text in it",
                                      "mentions": [f"agent_{to}"], "caller_agent_id": f"agent_{frm}"})
        gen = time.perf_counter() - t
        print(f"generated {a.messages} messages from {a.agents} agents in {gen:.1f}s "
              f"({a.messages / gen:.0f} sequential sends/s over one connection)")

        pid = int(json.load(open(os.path.join(repo, ".thrum", "var", "thrum.pid")))["pid"])
        wait_idle(pid)
        send_env = dict(env, THRUM_NAME="agent_0")
        inbox_env = dict(env, THRUM_NAME="agent_3")
        # Warm up (first inbox view marks the page read).
        timed([thrum, "inbox", "--json", "--page-size", "100"], repo, inbox_env, 3)
        med_send, _ = timed([thrum, "send", "benchmark", "--to", "@agent_1", "--json"], repo, send_env, a.runs)
        med_inbox, _ = timed([thrum, "inbox", "--json", "--page-size", "100"], repo, inbox_env, a.runs)
        med_whoami, _ = timed([thrum, "whoami", "--json"], repo, inbox_env, a.runs)
        med_prime, _ = timed([thrum, "prime", "--json"], repo, inbox_env, a.runs)
        med_true, _ = timed(["/bin/true"], repo, env, a.runs)
        med_version, _ = timed([thrum, "version"], repo, env, a.runs)
        # Claude Code's PostToolUse hook with nothing to say (agent_3 has
        # no unannounced mail after the first call): the per-tool cost.
        hook_in = json.dumps({"session_id": "bench", "cwd": repo, "hook_event_name": "PostToolUse",
                              "tool_name": "Bash", "tool_input": {"command": "ls"}}).encode()
        # Announce what agent_3 has not been told yet (20 per call), so the
        # timed calls have nothing to say.
        for _ in range(1000):
            r = subprocess.run([thrum, "hook", "claude", "post-tool-use"], cwd=repo, env=inbox_env, input=hook_in,
                               capture_output=True)
            if not r.stdout:
                break
        med_hook, _ = timed([thrum, "hook", "claude", "post-tool-use"], repo, inbox_env, a.runs, hook_in)
        time.sleep(1.0)
        rss = rss_kib(pid)
        rss_anon, rss_file = rss_kib(pid, "RssAnon"), rss_kib(pid, "RssFile")

        starts = []
        for _ in range(5):
            run([thrum, "daemon", "stop", "--quiet"], repo, env)
            t = time.perf_counter()
            run([thrum, "daemon", "start", "--quiet"], repo, env)
            starts.append((time.perf_counter() - t) * 1000)
        rebuilds = []
        for _ in range(3):
            run([thrum, "daemon", "stop", "--quiet"], repo, env)
            for f in ("messages.db", "messages.db-wal", "messages.db-shm"):
                p = os.path.join(repo, ".thrum", "var", f)
                if os.path.exists(p):
                    os.remove(p)
            t = time.perf_counter()
            run([thrum, "daemon", "start", "--quiet"], repo, env)
            rebuilds.append((time.perf_counter() - t) * 1000)
        run([thrum, "daemon", "stop", "--quiet"], repo, env)

        print(f"baseline: /bin/true as a process:                 median {med_true:6.2f} ms")
        print(f"baseline: thrum version (no daemon, no repo):     median {med_version:6.2f} ms")
        print(f"thrum send (whole process, warm daemon):          median {med_send:6.2f} ms  (target <= 3 ms)")
        print(f"thrum inbox --json, page of 100 over {a.messages}:   median {med_inbox:6.2f} ms  (target <= 3 ms)")
        print(f"thrum hook claude post-tool-use, nothing to say:  median {med_hook:6.2f} ms  (target <= 5 ms)")
        print(f"thrum whoami --json:                              median {med_whoami:6.2f} ms")
        print(f"thrum prime --json (50 agents, 10k messages):     median {med_prime:6.2f} ms (target <= 20 ms)")
        print(f"daemon idle RSS after the runs:                   {rss / 1024:6.1f} MiB (target <= 20 MiB; "
              f"{rss_anon / 1024:.1f} MiB heap and stacks, {rss_file / 1024:.1f} MiB mapped files)")
        print(f"daemon start-to-ready with {a.messages} messages:     median {statistics.median(starts):6.1f} ms "
              f"(target <= 100 ms; includes process spawn and git worktree check)")
        print(f"daemon start with projection rebuild:             median {statistics.median(rebuilds):6.1f} ms")
    finally:
        os.chdir(ROOT)
        subprocess.run([thrum, "daemon", "stop", "--quiet"], cwd=repo, env=env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Send → an idle Claude Code's next model request, through thrum's hooks.

Runs the pinned Claude Code (tests/runtimes, `npm ci` there first) in a
private tmux server against the model stand-in (tests/runtimes/
model_standin.py), with thrum's hooks installed by `thrum setup hooks`. Each
round waits until the session is idle with its idle waker armed, runs
`thrum send` as another agent, and measures from just before that process
starts to the stand-in's log of the next model request (both on
CLOCK_MONOTONIC). Reports p50 / p99 / max over the rounds.

Usage: python3 bench/claude_wake.py [--rounds N] [--bin PATH]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from common import ROOT, build_thrum, run, sandbox

RUNTIMES = os.path.join(ROOT, "tests", "runtimes")
CLAUDE = os.path.join(RUNTIMES, "node_modules", "@anthropic-ai", "claude-code-linux-x64", "claude")
KEY = "sk-ant-thrum-bench-standin-0123456789abcdefghij"


def poll(limit, cond, step=0.01):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--bin", help="this thrum binary instead of building target/release/thrum")
    a = ap.parse_args()
    thrum = os.path.abspath(a.bin) if a.bin else build_thrum()
    if not os.path.exists(CLAUDE):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=RUNTIMES, check=True)

    tmp, env = sandbox("thrum-wake-")
    repo = os.path.join(tmp, "repo")
    os.makedirs(repo)
    sock = f"thrum-bench-{os.getpid()}"
    standin = None
    try:
        run(["git", "init", "-q"], repo, env)
        run(["git", "commit", "-q", "--allow-empty", "-m", "init"], repo, env)
        run([thrum, "init", "--quiet"], repo, env)
        for name in ("alice", "bob"):
            run([thrum, "quickstart", "--name", name, "--role", "dev", "--module", "bench", "--no-agent-pid",
                 "--quiet"], repo, env)
        run([thrum, "setup", "hooks", "--runtime", "claude", "--quiet"], repo, env)

        log = os.path.join(tmp, "requests.jsonl")
        port_file = os.path.join(tmp, "port")
        standin = subprocess.Popen([sys.executable, os.path.join(RUNTIMES, "model_standin.py"), port_file, log],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        poll(10, lambda: os.path.exists(port_file))
        port = open(port_file).read().strip()
        real = os.path.realpath(repo)
        with open(os.path.join(tmp, ".claude.json"), "w") as f:
            json.dump({"hasCompletedOnboarding": True,
                       "customApiKeyResponses": {"approved": [KEY[-20:]], "rejected": []},
                       "projects": {real: {"hasTrustDialogAccepted": True}}}, f)
        path = os.path.dirname(thrum) + os.pathsep + os.environ.get("PATH", "")
        pane_env = {"HOME": tmp, "PATH": path, "TERM": "screen-256color", "LANG": "C.UTF-8",
                    "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}", "ANTHROPIC_API_KEY": KEY,
                    "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                    "THRUM_NAME": "alice", "THRUM_NO_HINTS": "1", "GIT_CONFIG_NOSYSTEM": "1"}
        subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", "new-session", "-d", "-s", "c", "-x", "200",
                        "-y", "50", "-c", real, "env", "-i", *[f"{k}={v}" for k, v in pane_env.items()], CLAUDE],
                       check=True)

        def tmux(*args):
            return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True).stdout

        def idle():
            return tmux("display-message", "-p", "-t", "c", "#{pane_title}").startswith("✳")

        def requests():
            """The main-loop requests logged so far (a line still being
            written is left for the next look)."""
            out = []
            with open(log) as f:
                for line in f:
                    if not line.endswith("\n"):
                        break
                    r = json.loads(line)
                    if (r.get("body") or {}).get("tools"):
                        out.append(r)
            return out

        if not poll(60, lambda: "❯" in tmux("capture-pane", "-p", "-t", "c") and idle()):
            sys.exit("Claude Code did not start:\n" + tmux("capture-pane", "-p", "-t", "c"))
        tmux("send-keys", "-t", "c", "-l", "Say hello.")
        time.sleep(0.3)
        tmux("send-keys", "-t", "c", "Enter")
        if not poll(60, lambda: len(requests()) >= 1):
            sys.exit("no first model request")

        marker = os.path.join(repo, ".thrum", "var", "hook-runs", "claude.wait")
        bob = dict(env, THRUM_NAME="bob")
        lat = []
        for i in range(a.rounds):
            n = len(requests())
            last = requests()[-1]["t"]
            # Idle, with a waker started after the last turn (and a moment
            # for it to connect and arm).
            armed = lambda: idle() and os.path.exists(marker) and os.stat(marker).st_mtime > time.time() - (time.monotonic() - last)
            if not poll(30, armed):
                sys.exit(f"round {i}: the idle waker did not start")
            time.sleep(0.3)
            t0 = time.monotonic()
            run([thrum, "send", f"round {i}", "--to", "@alice", "--quiet"], repo, bob)
            if not poll(10, lambda: len(requests()) > n, step=0.002):
                sys.exit(f"round {i}: not woken within 10 s")
            lat.append((requests()[n]["t"] - t0) * 1000)
        lat.sort()
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
        print(f"send → idle Claude Code's next model request over {len(lat)} wakes: "
              f"p50 {statistics.median(lat):.0f} ms, p99 {p(0.99):.0f} ms, max {lat[-1]:.0f} ms (target p99 <= 1000 ms)")
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
        if standin:
            standin.kill()
        subprocess.run([thrum, "daemon", "stop", "--quiet"], cwd=repo, env=env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

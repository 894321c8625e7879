#!/usr/bin/env python3
"""Live git state on a large repository.

Makes a repository of 100,000 tracked files (1,000 folders of 100), puts an
agent on a feature branch with three commits and a few uncommitted edits,
then reports medians for:
  - one look at the worktree as the daemon takes it (the three git commands
    of crates/thrum-git/src/workstate.rs: log, diff, status), and the poll
    interval that cost implies (20x the look, at least 5 s);
  - `thrum session heartbeat` as a whole process while the daemon watches
    that worktree (the look never runs on the request's path);
  - `thrum who-has` for a file the agent changed.

Usage: python3 bench/gitstate.py [--files N] [--runs N]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import time

from common import build_thrum, run, sandbox


def median_ms(args, cwd, env, runs, gap=0.0):
    xs = []
    for _ in range(runs):
        time.sleep(gap)
        t = time.perf_counter()
        run(args, cwd, env)
        xs.append((time.perf_counter() - t) * 1000)
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=15)
    a = ap.parse_args()
    thrum = build_thrum()
    tmp, env = sandbox("thrum-gitstate-bench-")
    repo = os.path.join(tmp, "repo")
    try:
        os.makedirs(repo)
        run(["git", "init", "-q"], repo, env)
        t = time.perf_counter()
        per_dir = 100
        for d in range(a.files // per_dir):
            sub = os.path.join(repo, "pkg", f"d{d:04}")
            os.makedirs(sub)
            for i in range(per_dir):
                with open(os.path.join(sub, f"f{i:03}.txt"), "w") as f:
                    f.write(f"file {d}/{i}\n")
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-q", "-m", "big tree"], repo, env)
        print(f"made a repository of {a.files} files in {time.perf_counter() - t:.1f}s")
        run(["git", "checkout", "-q", "-b", "feature"], repo, env)
        for n in range(3):
            with open(os.path.join(repo, "pkg", f"d{n:04}", "f000.txt"), "a") as f:
                f.write("changed\n")
            run(["git", "commit", "-q", "-am", f"change {n}"], repo, env)
        for n in range(10, 13):
            with open(os.path.join(repo, "pkg", f"d{n:04}", "f001.txt"), "a") as f:
                f.write("wip\n")
        run([thrum, "init"], repo, env)
        run([thrum, "quickstart", "--name", "alice", "--role", "implementer", "--module", "core"], repo, env)
        run(["git", "status"], repo, env)  # warm the index stat cache once, as any user would

        look = [
            ["git", "log", "--format=%H%x1f%s%x1e", "--max-count=500", "main..HEAD", "--"],
            ["git", "diff", "--name-only", "-z", "--no-renames", "main...HEAD", "--"],
            ["git", "--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=normal", "--no-renames"],
        ]
        parts = [median_ms(c, repo, env, a.runs) for c in look]
        cost = sum(parts)
        print(f"one look at the worktree: median {cost:.1f} ms "
              f"(log {parts[0]:.1f}, diff {parts[1]:.1f}, status {parts[2]:.1f})")
        print(f"implied re-poll interval: {max(5.0, cost * 20 / 1000):.1f} s "
              f"(about {100 * cost / 1000 / max(5.0, cost * 20 / 1000):.1f}% of one core while the tree is idle)")
        # Agents beat every few seconds at most; each beat asks for a look,
        # which runs after the answer, at low priority.
        hb = median_ms([thrum, "session", "heartbeat"], repo, env, a.runs, gap=1.0)
        print(f"thrum session heartbeat, whole process, {a.files}-file worktree watched, 1 s apart: median {hb:.2f} ms")
        hb = median_ms([thrum, "session", "heartbeat"], repo, env, a.runs)
        print(f"  the same, back to back (each overlapping the previous beat's look): median {hb:.2f} ms")
        ok = False
        for _ in range(100):
            out = json.loads(run([thrum, "who-has", "pkg/d0010/f001.txt", "--json"], repo, env).stdout)
            if out["agents"]:
                ok = True
                break
            time.sleep(0.1)
        if not ok:
            raise SystemExit("the daemon never recorded the uncommitted file")
        time.sleep(1.0)
        wh = median_ms([thrum, "who-has", "pkg/d0001/f000.txt"], repo, env, a.runs)
        print(f"thrum who-has (file in an unmerged commit), whole process: median {wh:.2f} ms")
    finally:
        subprocess.run([thrum, "daemon", "stop"], cwd=repo, env=env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The daemon's CPU with 20 idle thrum-managed tmux panes, against the same
setup with none.

Three repositories, each with its own daemon and private tmux server, set
up as bench/tmux_doorbell.py does (one git worktree with `thrum setup` per
agent, `thrum tmux create sN --cwd wtN --name implN …` then `thrum tmux
launch sN`):
- `none`: no session (the daemon never runs tmux);
- `claude`: 20 sessions running the fake agent (tests/tmux/fake_agent.py,
  drawn like Claude Code, idle at its prompt);
- `shell`: 20 sessions launched with `--runtime shell` (idle bash).
No mail is sent. After a settle time, all three daemons are measured over
the same windows (--windows, of --window seconds each): utime+stime from
/proc/PID/stat (all threads) as % of one core; also the CPU of the children
the daemon reaped (cutime+cstime: the tmux clients it ran, and git), of the
tmux server, and how many tmux processes the daemon started per second.
The daemons find `tmux` through a wrapper first on their PATH that logs
its parent's pid and arguments, then execs the real tmux (the wrapper's
`sh` start is in the children's CPU, not the daemon's); with --count-git,
git too. The daemon's CPU is also split by thread name (threads that exit
within a window lose their share). Figures are medians over the windows.

Usage: python3 bench/tmux_idle_cpu.py [--sessions 20] [--window 60]
           [--settle 10] [--windows 3] [--no-shell] [--count-git] [--bin PATH]
"""

import argparse
import collections
import os
import statistics
import time

from common import build_thrum
from tmux_doorbell import Rig

TCK = os.sysconf("SC_CLK_TCK")


def stat(pid):
    """(utime+stime, cutime+cstime) in seconds, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # fields[0] is the state (field 3): utime is field 14.
    u, s, cu, cs = (int(x) for x in fields[11:15])
    return (u + s) / TCK, (cu + cs) / TCK


def threads(pid):
    """{tid: (thread name, utime+stime in seconds)} of a process's threads."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                text = f.read()
        except FileNotFoundError:
            continue
        comm = text[text.index("(") + 1:text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        out[tid] = (comm, (int(fields[11]) + int(fields[12])) / TCK)
    return out


def runs(log, pid):
    """The commands logged by a wrapper that the daemon `pid` has run so far
    (argument lists)."""
    out = []
    if not log:
        return out
    try:
        with open(log) as f:
            for line in f:
                ppid, _, args = line.rstrip("\n").partition(" ")
                if ppid == str(pid):
                    out.append(args)
    except FileNotFoundError:
        pass
    return out


def verb(args):
    """The tmux command of an argument list (after `-L NAME`)."""
    words = args.split()
    while words and words[0].startswith("-"):
        words = words[2:] if words[0] in ("-L", "-S", "-f") else words[1:]
    return words[0] if words else "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--window", type=float, default=60)
    ap.add_argument("--settle", type=float, default=10)
    ap.add_argument("--windows", type=int, default=3)
    ap.add_argument("--no-shell", action="store_true", help="not the shell-runtime repository")
    ap.add_argument("--count-git", action="store_true",
                    help="also count the daemons' git runs through a wrapper (its sh start adds to the children's CPU)")
    ap.add_argument("--bin", help="this thrum binary instead of building a release one")
    a = ap.parse_args()
    thrum = os.path.abspath(a.bin) if a.bin else build_thrum()
    plan = [("none", "claude", 0), ("claude", "claude", a.sessions)]
    if not a.no_shell:
        plan.append(("shell", "shell", a.sessions))
    rigs = []
    try:
        t = time.monotonic()
        for label, runtime, n in plan:
            rigs.append(Rig(thrum, label, runtime, sessions=n, tmux_log=True, git_log=a.count_git))
            rigs[-1].setup()
        print(f"set up in {time.monotonic() - t:.0f} s; settling {a.settle:.0f} s")
        time.sleep(a.settle)
        pids = {r.label: r.daemon_pid() for r in rigs}
        servers = {}
        for r in rigs:
            p = r.tmux("display-message", "-p", "#{pid}").strip() if r.n else ""
            servers[r.label] = int(p) if p.isdigit() else None
        got = collections.defaultdict(lambda: collections.defaultdict(list))
        verbs = collections.defaultdict(collections.Counter)
        gitverbs = collections.defaultdict(collections.Counter)
        tsplit = collections.defaultdict(lambda: collections.defaultdict(list))
        for w in range(a.windows):
            before = {}
            for r in rigs:
                pid, srv = pids[r.label], servers[r.label]
                before[r.label] = (stat(pid), stat(srv) if srv else None, len(runs(r.tmux_log, pid)),
                                   len(runs(r.git_log, pid)), threads(pid))
            t0 = time.monotonic()
            time.sleep(a.window)
            dt = time.monotonic() - t0
            for r in rigs:
                (d0, c0), srv0, n0, g0, th0 = before[r.label]
                d1, c1 = stat(pids[r.label])
                tm = runs(r.tmux_log, pids[r.label])
                gits = runs(r.git_log, pids[r.label])
                th1 = threads(pids[r.label])
                g = got[r.label]
                g["daemon"].append((d1 - d0) / dt * 100)
                g["children"].append((c1 - c0) / dt * 100)
                if srv0:
                    g["server"].append((stat(servers[r.label])[0] - srv0[0]) / dt * 100)
                g["tmux/s"].append((len(tm) - n0) / dt)
                verbs[r.label].update(verb(x) for x in tm[n0:])
                if r.git_log:
                    g["git/s"].append((len(gits) - g0) / dt)
                    gitverbs[r.label].update(verb(x) for x in gits[g0:])
                by = collections.Counter()
                for tid, (comm, cpu) in th1.items():
                    if tid in th0:
                        by[comm] += cpu - th0[tid][1]
                for comm in set(by) | set(tsplit[r.label]):
                    tsplit[r.label][comm].append(by[comm] / dt * 100)
            print(f"window {w + 1}: " + "; ".join(
                f"{r.label} daemon {got[r.label]['daemon'][-1]:.2f} %, {got[r.label]['tmux/s'][-1]:.2f} tmux/s"
                for r in rigs))

        med = lambda label, k: statistics.median(got[label][k]) if got[label][k] else float("nan")
        print(f"\nidle daemons, {a.windows} windows of {a.window:.0f} s measured side by side "
              f"(medians; % of one core):")
        print(f"{'panes':<28} {'daemon':>8} {'ratio':>6} {'children':>9} {'tmux srv':>9} {'tmux/s':>7}")
        base = med("none", "daemon")
        for r in rigs:
            what = {"none": "0 sessions", "claude": f"{r.n} fake-agent panes", "shell": f"{r.n} idle bash panes"}
            ratio = f"{med(r.label, 'daemon') / base:6.1f}" if base > 0 else f"{'—':>6}"
            srv = f"{med(r.label, 'server'):8.2f}%" if got[r.label]["server"] else f"{'—':>9}"
            print(f"{what[r.label]:<28} {med(r.label, 'daemon'):7.2f}% {ratio} "
                  f"{med(r.label, 'children'):8.2f}% {srv} {med(r.label, 'tmux/s'):7.2f}")
        print("target: daemon <= 1 % of a core with 20 idle panes")
        for r in rigs:
            if verbs[r.label]:
                total = sum(verbs[r.label].values()) / (a.windows * a.window)
                print(f"tmux commands of the {r.label} daemon while idle ({total:.2f}/s): " + ", ".join(
                    f"{v} {n / (a.windows * a.window):.2f}/s" for v, n in verbs[r.label].most_common()))
        for r in rigs:
            if gitverbs[r.label]:
                print(f"git commands of the {r.label} daemon while idle ({med(r.label, 'git/s'):.2f}/s): " + ", ".join(
                    f"{v} {n / (a.windows * a.window):.2f}/s" for v, n in gitverbs[r.label].most_common()))
        for r in rigs:
            split = sorted(((statistics.median(v), c) for c, v in tsplit[r.label].items()), reverse=True)
            print(f"{r.label} daemon by thread: " + ", ".join(f"{c} {x:.2f}%" for x, c in split if x > 0))

    finally:
        for r in rigs:
            r.close()


if __name__ == "__main__":
    main()

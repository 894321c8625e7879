#!/usr/bin/env python3
"""Send → the tmux doorbell in an idle, safe pane of a thrum-managed session.

Each configuration is its own repository, daemon and private tmux server
(`THRUM_TMUX_SOCKET`), set up as the integration tests do
(crates/thrum-cli/tests/integration/tmux_doorbell.rs): `thrum init`, a
coordinator `lead`, a git worktree with `thrum setup`, the daemon started
with `SHELL=/bin/bash`, then `thrum tmux create s --cwd WT --name impl
--role implementer --module api` and `thrum tmux launch s`.

- `claude` runtime (default): the `claude` the pane finds is the fake agent
  (tests/tmux/fake_agent.py, drawn like Claude Code), which logs every
  submitted line with its time.time(). A round measures from just before
  `thrum send --to @impl` starts to the fake agent's `submit` of the
  doorbell line (the line has no message id: the k-th doorbell answers the
  k-th send). Also reported: send → the doorbell's first key.
- `shell` runtime (`--shell`): an idle bash; the doorbell is a `# [thrum] …`
  comment followed by a fresh prompt, found by polling `tmux capture-pane`
  every 20 ms (so figures are late by up to that, plus one tmux run).

After each doorbell the message is marked read by impl (from its worktree)
and the pane left alone for --gap seconds, so the next send rings afresh.
Configurations are interleaved round by round (order rotated).

Usage: python3 bench/tmux_doorbell.py [--rounds N] [--bin PATH]
           [--quiet-ms 600,200] [--shell] [--no-claude] [--gap S]
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

FAKE = os.path.join(ROOT, "tests", "tmux", "fake_agent.py")


def poll(limit, cond, step=0.01):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(step)
    return None


class Rig:
    """A repository with its own daemon and tmux server, and `sessions`
    managed sessions (s0, s1, … in worktrees wt0, wt1, …, agents impl0, …;
    with one session: s, wt, impl) running `runtime` (`claude`: the fake
    agent; `shell`: bash)."""

    def __init__(self, thrum, label, runtime="claude", quiet_ms=None, sessions=1, tmux_log=False, git_log=False):
        self.thrum, self.label, self.runtime = thrum, label, runtime
        self.tmp, env = sandbox(f"thrum-tmux-{label}-")
        self.sock = f"thrum-bench-{os.getpid()}-{label}"
        # Hermetic, as thrum-testkit: nothing THRUM_* or GIT_* inherited.
        env = {k: v for k, v in env.items() if not k.startswith(("THRUM_", "GIT_")) and k != "TMUX"}
        env.update(THRUM_TMUX_SOCKET=self.sock, THRUM_NO_HINTS="1", GIT_CONFIG_NOSYSTEM="1",
                   GIT_CONFIG_GLOBAL=os.path.join(self.tmp, ".gitconfig"), COLUMNS="80")
        self.env = env
        self.lead = dict(env, THRUM_NAME="lead")
        self.repo = os.path.join(self.tmp, "repo")
        self.daemon_started = False
        self.n = sessions
        self.one = sessions == 1
        self.tmux_log = os.path.join(self.tmp, "tmux-runs.log") if tmux_log else None
        self.git_log = os.path.join(self.tmp, "git-runs.log") if git_log else None
        self.quiet_ms = quiet_ms

    def name(self, i, what):
        return what if self.one else f"{what}{i}"

    def session(self, i=0):
        return self.name(i, "s")

    def worktree(self, i=0):
        return os.path.join(self.tmp, self.name(i, "wt"))

    def agent(self, i=0):
        return self.name(i, "impl")

    def fake_log(self, i=0):
        return os.path.join(self.tmp, "fake", self.name(i, "wt") + ".log")

    def setup(self):
        tmp, env, repo = self.tmp, self.env, self.repo
        os.makedirs(repo)
        run(["git", "init", "-q"], repo, env)
        with open(os.path.join(repo, "README.md"), "w") as f:
            f.write("bench repo\n")
        run(["git", "add", "README.md"], repo, env)
        run(["git", "commit", "-q", "-m", "initial"], repo, env)
        run([self.thrum, "init", "--quiet"], repo, env)
        run([self.thrum, "quickstart", "--name", "lead", "--role", "coordinator", "--module", "all",
             "--no-agent-pid", "--quiet"], repo, env)
        if self.quiet_ms is not None:
            path = os.path.join(repo, ".thrum", "config.json")
            cfg = json.load(open(path)) if os.path.exists(path) else {}
            cfg.setdefault("tmux", {})["quiet_ms"] = self.quiet_ms
            with open(path, "w") as f:
                json.dump(cfg, f, indent=2)
        for i in range(self.n):
            wt = self.worktree(i)
            run(["git", "worktree", "add", "-q", "-b", os.path.basename(wt), wt], repo, env)
            run([self.thrum, "setup", "--quiet"], wt, env)
        # The panes' login shells find thrum, and `claude` = the fake agent
        # (each pane logs to fake/<its worktree>.log).
        bindir = os.path.join(tmp, "bin")
        os.makedirs(bindir)
        os.makedirs(os.path.join(tmp, "fake"))
        with open(os.path.join(bindir, "claude"), "w") as f:
            f.write(f'#!/bin/sh\nw=$(basename "$PWD")\nexec python3 {FAKE} --log {tmp}/fake/$w.log '
                    f'--control {tmp}/fake/$w.control\n')
        os.chmod(os.path.join(bindir, "claude"), 0o755)
        with open(os.path.join(tmp, ".profile"), "w") as f:
            # (No history file: a shell killed with the server writes it late.)
            f.write(f'export PATH="{bindir}:{os.path.dirname(self.thrum)}:$PATH"\nunset HISTFILE\n')
        daemon_env = dict(env, SHELL="/bin/bash")
        wrapped = [(p, log) for p, log in (("tmux", self.tmux_log), ("git", self.git_log)) if log]
        if wrapped:
            # Every tmux (git) the daemon runs goes through a wrapper, which
            # logs its parent's pid and arguments.
            wrap = os.path.join(tmp, "wrap")
            os.makedirs(wrap)
            for prog, log in wrapped:
                real = shutil.which(prog)
                with open(os.path.join(wrap, prog), "w") as f:
                    f.write(f'#!/bin/sh\necho "$PPID $*" >> {log}\nexec {real} "$@"\n')
                os.chmod(os.path.join(wrap, prog), 0o755)
            daemon_env["PATH"] = wrap + os.pathsep + env.get("PATH", "")
        run([self.thrum, "daemon", "stop", "--quiet"], repo, env, check=False)
        run([self.thrum, "daemon", "start", "--quiet"], repo, daemon_env)
        self.daemon_started = True
        for i in range(self.n):
            run([self.thrum, "tmux", "create", self.session(i), "--cwd", self.worktree(i), "--name", self.agent(i),
                 "--role", "implementer", "--module", self.name(i, "api"), "--quiet"], repo, self.lead)
            launch = [self.thrum, "tmux", "launch", self.session(i), "--quiet"]
            if self.runtime == "shell":
                launch[-1:-1] = ["--runtime", "shell"]
            run(launch, repo, self.lead)
        for i in range(self.n):
            ready = (lambda s: "❯" in s) if self.runtime == "claude" else (lambda s: s.rstrip().endswith(("#", "$")))
            if not poll(30, lambda: ready(self.capture(i))):
                sys.exit(f"{self.label}: session {self.session(i)} did not start:\n{self.capture(i)}")
        return self

    def tmux(self, *args):
        env = {k: v for k, v in os.environ.items() if k != "TMUX"}
        return subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True, text=True, env=env).stdout

    def capture(self, i=0, history=False):
        extra = ["-S", "-"] if history else []
        return self.tmux("capture-pane", "-p", *extra, "-t", f"={self.session(i)}:")

    def daemon_pid(self):
        with open(os.path.join(self.repo, ".thrum", "var", "thrum.pid")) as f:
            return int(json.load(f)["pid"])

    def events(self, i=0):
        out = []
        try:
            with open(self.fake_log(i)) as f:
                for line in f:
                    if line.endswith("\n"):
                        out.append(json.loads(line))
        except FileNotFoundError:
            pass
        return out

    def doorbells(self):
        """(time of the first key, time submitted) of each doorbell rung so
        far, in order; the shell's: (None, time seen submitted)."""
        if self.runtime == "claude":
            rung, first = [], None
            for e in self.events():
                if e["event"] == "key" and first is None:
                    first = e["t"]
                elif e["event"] == "submit":
                    if e["text"].startswith("[thrum]"):
                        rung.append((first, e["t"]))
                    first = None
            return rung
        # A `# [thrum]` line with a line after it (the fresh prompt).
        lines = self.capture(history=True).rstrip().splitlines()
        now = time.time()
        return [(None, now) for line in lines[:-1] if "# [thrum]" in line]

    def round(self, i):
        """One send → doorbell; returns (ms to submit, ms to the first key)."""
        before = len(self.doorbells())
        t0 = time.time()
        r = run([self.thrum, "send", f"round {i}", "--to", "@impl", "--json"], self.repo, self.lead)
        mid = json.loads(r.stdout)["message_id"]
        step = 0.005 if self.runtime == "claude" else 0.02
        rung = poll(15, lambda: (lambda d: d[before] if len(d) > before else None)(self.doorbells()), step)
        if not rung:
            sys.exit(f"{self.label} round {i}: no doorbell within 15 s:\n{self.capture()}")
        read = dict(self.env, THRUM_NAME="impl")
        run([self.thrum, "message", "read", mid], self.worktree(), read)
        first = (rung[0] - t0) * 1000 if rung[0] is not None else None
        return (rung[1] - t0) * 1000, first

    def close(self):
        self.tmux("kill-server")
        if self.daemon_started:
            try:
                pid = self.daemon_pid()
            except (OSError, ValueError, KeyError):
                pid = None
            subprocess.run([self.thrum, "daemon", "stop", "--quiet"], cwd=self.repo, env=self.env,
                           capture_output=True)
            # Gone before its files are removed (it may still write some).
            if pid:
                poll(5, lambda: not os.path.exists(f"/proc/{pid}"), 0.05)
        shutil.rmtree(self.tmp, ignore_errors=True)


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--bin", help="this thrum binary instead of building a release one")
    ap.add_argument("--quiet-ms", default="600,200",
                    help="tmux.quiet_ms values, comma-separated (600 is the default: left unset)")
    ap.add_argument("--shell", action="store_true", help="also the shell runtime")
    ap.add_argument("--no-claude", action="store_true", help="not the fake agent")
    ap.add_argument("--gap", type=float, default=0.5, help="seconds between a doorbell and the next send")
    a = ap.parse_args()
    thrum = os.path.abspath(a.bin) if a.bin else build_thrum()
    configs = []
    for runtime in ([] if a.no_claude else ["claude"]) + (["shell"] if a.shell else []):
        for q in [int(x) for x in a.quiet_ms.split(",") if x]:
            configs.append((runtime, q))
    rigs = []
    try:
        for runtime, q in configs:
            rigs.append(Rig(thrum, f"{runtime}-{q}", runtime, None if q == 600 else q))
            rigs[-1].setup()
        time.sleep(3)  # every pane drawn and quiet
        lat = {r.label: [] for r in rigs}
        first = {r.label: [] for r in rigs}
        for i in range(a.rounds):
            for k in range(len(rigs)):
                rig = rigs[(i + k) % len(rigs)]
                total, key = rig.round(i)
                lat[rig.label].append(total)
                if key is not None:
                    first[rig.label].append(key)
                time.sleep(a.gap)
        print(f"send → doorbell in an idle, safe pane, {a.rounds} rounds per configuration (interleaved):")
        print(f"{'runtime, tmux.quiet_ms':<24} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7}  first key p50   (ms)")
        for rig in rigs:
            xs = lat[rig.label]
            fk = f"{statistics.median(first[rig.label]):9.0f}" if first[rig.label] else f"{'—':>9}"
            runtime, q = rig.label.split("-")
            print(f"{runtime + ', ' + q:<24} {statistics.median(xs):7.0f} {pct(xs, .9):7.0f} {pct(xs, .99):7.0f} "
                  f"{max(xs):7.0f}  {fk}")
        print("target: p99 <= 2000 ms")
    finally:
        for rig in rigs:
            rig.close()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Peer replication between two daemons on this machine (local peers).

Pairs repository A (alice) with repository B (bob), then reports:
  1. latency from `message.send` on A to the notification of bob's new
     message on B, p50/p99 over --messages sends (one at a time);
  2. catch-up: B's daemon is stopped, A queues --catchup messages for bob,
     B is started again; time until bob's inbox on B holds them all.

Usage: python3 bench/peers.py [--messages 1000] [--catchup 100000]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time

from common import Rpc, build_thrum, run, sandbox


def make_repo(thrum, tmp, env, name, agent, role):
    repo = os.path.join(tmp, name)
    os.makedirs(repo)
    run(["git", "init", "-q"], repo, env)
    run(["git", "commit", "-q", "--allow-empty", "-m", "init"], repo, env)
    run([thrum, "init", "--quiet"], repo, env)
    run([thrum, "quickstart", "--name", agent, "--role", role, "--module", "bench", "--no-agent-pid", "--quiet"],
        repo, env)
    return repo


def pair(thrum, a, b, env):
    add = subprocess.Popen([thrum, "peer", "add", "--type", "local", "--name", "alpha"], cwd=a, env=env,
                           stdout=subprocess.PIPE, text=True)
    code = None
    for line in add.stdout:
        m = re.search(r"--peercode (\S+)", line)
        if m:
            code = m.group(1)
            break
    if not code:
        sys.exit("peer add printed no peercode")
    run([thrum, "peer", "join", "--type", "local", "--peercode", code, "--repo-path", a], b, env)
    add.wait()
    # B calls A "alpha"; A calls B by B's repository name, "b".
    run([thrum, "peer", "configure", "alpha", "add-agent", "alice"], b, env)
    run([thrum, "peer", "configure", "b", "add-agent", "bob"], a, env)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--catchup", type=int, default=100_000)
    args = ap.parse_args()
    thrum = build_thrum()
    tmp, env = sandbox("thrum-peers-")
    try:
        a = make_repo(thrum, tmp, env, "a", "alice", "dev")
        b = make_repo(thrum, tmp, env, "b", "bob", "reviewer")
        pair(thrum, a, b, env)

        # 1. Latency, one send at a time.
        arrived = {}
        ready = threading.Event()

        def listen():
            os.chdir(b)
            sub = Rpc(os.path.join(b, ".thrum/var/thrum.sock"))
            sub.call("subscribe", {"all": True, "caller_agent_id": "bob"})
            ready.set()
            while len(arrived) < args.messages:
                line = sub.f.readline()
                if not line:
                    return
                msg = json.loads(line)
                if msg.get("method") == "notification.message":
                    arrived.setdefault(msg["params"]["message_id"], time.perf_counter())

        t = threading.Thread(target=listen, daemon=True)
        t.start()
        ready.wait(10)
        os.chdir(a)
        rpc = Rpc(os.path.join(a, ".thrum/var/thrum.sock"))
        sent = {}
        for n in range(args.messages):
            t0 = time.perf_counter()
            r = rpc.call("message.send", {"content": f"latency {n}", "mentions": ["b:bob"], "caller_agent_id": "alice"})
            sent[r["message_id"]] = t0
            # Wait for this one before the next, so each is timed alone.
            deadline = time.perf_counter() + 10
            while r["message_id"] not in arrived and time.perf_counter() < deadline:
                time.sleep(0.0002)
        lat = [(arrived[m] - t0) * 1000 for m, t0 in sent.items() if m in arrived]
        lost = len(sent) - len(lat)
        print(f"send on A -> notified on B ({len(lat)} messages, {lost} missing): "
              f"p50 {statistics.median(lat):.2f} ms, p99 {pct(lat, 0.99):.2f} ms (target p99 <= 50 ms)")

        # 2. Catch-up after a long disconnect.
        if args.catchup > 0:
            run([thrum, "daemon", "stop", "--quiet"], b, env)
            t0 = time.perf_counter()
            conns = [Rpc(os.path.join(a, ".thrum/var/thrum.sock")) for _ in range(8)]

            def queue(rpc, count, base):
                for n in range(count):
                    rpc.call("message.send", {"content": f"catch-up {base + n}", "mentions": ["b:bob"],
                                              "caller_agent_id": "alice"})

            per = args.catchup // len(conns)
            threads = [threading.Thread(target=queue, args=(c, per, i * per)) for i, c in enumerate(conns)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            queued = per * len(conns)
            print(f"queued {queued} messages for bob while B was down in {time.perf_counter() - t0:.1f}s")
            want = len(lat) + queued
            t0 = time.perf_counter()
            run([thrum, "daemon", "start", "--quiet"], b, env)
            os.chdir(b)
            rb = Rpc(os.path.join(b, ".thrum/var/thrum.sock"))
            total = 0
            while total < want and time.perf_counter() - t0 < 900:
                total = rb.call("message.list", {"for_agent": "bob", "page_size": 1, "caller_agent_id": "bob"})["total"]
                time.sleep(0.05)
            took = time.perf_counter() - t0
            print(f"catch-up of {queued} messages after restart: {took:.2f}s ({queued / took:.0f} events/s), "
                  f"bob holds {total} of {want}")
    finally:
        for repo in ("a", "b"):
            subprocess.run([thrum, "daemon", "stop", "--quiet"], cwd=os.path.join(tmp, repo), env=env,
                           capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

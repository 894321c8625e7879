"""Drives `thrum mcp serve` with the official Python MCP SDK (a client we
did not write), as the Rust test `mcp.rs` asks. Env: THRUM_BIN (the
binary), THRUM_REPO (a repo with agents alice and bob), plus the test's
hermetic HOME/GIT settings, inherited. Exits non-zero with a message on the
first failed check."""

import asyncio
import json
import os
import subprocess
import sys
import time

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

BIN = os.environ["THRUM_BIN"]
REPO = os.environ["THRUM_REPO"]

EXPECTED = {
    # The original's eleven.
    "send_message", "check_messages", "wait_for_message", "list_agents", "broadcast_message",
    "create_group", "delete_group", "add_group_member", "remove_group_member", "list_groups", "get_group",
    # Ours.
    "reply", "get_message", "set_intent", "team_status", "who_has",
}


def thrum(*args, agent=None):
    env = dict(os.environ)
    if agent:
        env["THRUM_NAME"] = agent
    out = subprocess.run([BIN, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise SystemExit(f"thrum {args} failed: {out.stderr}")
    return out.stdout


def check(cond, what):
    if not cond:
        raise SystemExit(f"check failed: {what}")


def text(result):
    return "".join(getattr(c, "text", "") for c in result.content)


def data(result):
    check(not result.is_error, f"tool succeeded: {text(result)}")
    return json.loads(text(result))


def server(agent):
    return stdio_client(StdioServerParameters(command=BIN, args=["mcp", "serve", "--agent-id", agent], cwd=REPO, env=dict(os.environ)))


async def main():
    async with server("alice") as (ar, aw), server("bob") as (br, bw):
        async with ClientSession(ar, aw) as alice, ClientSession(br, bw) as bob:
            init = await alice.initialize()
            await bob.initialize()
            check(init.server_info.name == "thrum", f"server name: {init.server_info}")
            check("alice" in (init.instructions or ""), "instructions name the agent")

            tools = (await alice.list_tools()).tools
            names = {t.name for t in tools}
            check(EXPECTED <= names, f"missing tools: {EXPECTED - names}")
            send = next(t for t in tools if t.name == "send_message")
            check(set(send.input_schema.get("required", [])) == {"to", "content"}, f"send_message schema: {send.input_schema}")

            # alice -> bob, read by bob's check_messages (which marks read).
            sent = data(await alice.call_tool("send_message", {"to": "@bob", "content": "hello from MCP"}))
            check(sent["message_id"].startswith("msg_"), f"send result: {sent}")
            got = data(await bob.call_tool("check_messages", {}))
            check([m["body"]["content"] for m in got["messages"]] == ["hello from MCP"], f"bob's messages: {got}")
            check(data(await bob.call_tool("check_messages", {}))["count"] == 0, "second check finds nothing unread")

            # check_messages returns up to 50 by default, as the original.
            for i in range(55):
                data(await alice.call_tool("send_message", {"to": "@bob", "content": f"batch {i}"}))
            got = data(await bob.call_tool("check_messages", {}))
            check(got["count"] == 50 and got["more_unread"], f"default limit 50: {got['count']}, {got['more_unread']}")
            got = data(await bob.call_tool("check_messages", {}))
            check(got["count"] == 5 and not got["more_unread"], f"the rest: {got['count']}")

            # list_agents includes offline agents unless told not to, as the original.
            thrum("quickstart", "--name", "carol", "--role", "reviewer", "--module", "ui", "--no-agent-pid")
            thrum("session", "end", agent="carol")
            agents = data(await bob.call_tool("list_agents", {}))
            status = {a["agent_id"]: a["status"] for a in agents["agents"]}
            check(status.get("carol") == "offline" and status.get("bob") == "online", f"default includes offline: {agents}")
            agents = data(await bob.call_tool("list_agents", {"include_offline": False}))
            check("carol" not in {a["agent_id"] for a in agents["agents"]}, f"include_offline false: {agents}")
            # The daemon's pseudo-agents (the permission-nudge author) are left out.
            thrum("quickstart", "--name", "supervisor_repo", "--role", "supervisor", "--module", "permissions", "--no-agent-pid")
            agents = data(await bob.call_tool("list_agents", {}))
            check("supervisor_repo" not in {a["agent_id"] for a in agents["agents"]}, f"pseudo-agent listed: {agents}")

            # reply threads and reaches alice.
            data(await bob.call_tool("reply", {"message_id": sent["message_id"], "content": "got it"}))
            inbox = json.loads(thrum("inbox", "--json", agent="alice"))
            check(any(m["body"]["content"] == "got it" and m.get("thread_id") for m in inbox["messages"]), f"alice's inbox: {inbox}")

            # wait_for_message is woken by a CLI send.
            waiter = asyncio.create_task(bob.call_tool("wait_for_message", {"timeout": 30}))
            await asyncio.sleep(0.5)
            started = time.monotonic()
            thrum("send", "wake up", "--to", "@bob", agent="alice")
            woke = data(await asyncio.wait_for(waiter, 20))
            check(woke["status"] == "received" and woke["message"]["body"]["content"] == "wake up", f"wait result: {woke}")
            check(time.monotonic() - started < 5, "woken promptly")

            # Bad arguments: a clear refusal, and the server lives on.
            try:
                r = await bob.call_tool("send_message", {"to": "@alice"})
                check(r.is_error and "content" in text(r), f"missing content refused: {text(r)}")
            except Exception as e:  # a JSON-RPC invalid-params error is fine too
                check("content" in str(e), f"missing content refused clearly: {e}")
            r = await bob.call_tool("send_message", {"to": "@nobody_here", "content": "x"})
            check(r.is_error and "nobody_here" in text(r), f"unknown recipient named: {text(r)}")
            r = await bob.call_tool("wait_for_message", {"timeout": 9999})
            check(r.is_error and "600" in text(r), f"timeout bound explained: {text(r)}")

            # Groups and the extras.
            data(await alice.call_tool("create_group", {"name": "mcp_team"}))
            data(await alice.call_tool("add_group_member", {"group": "mcp_team", "member": "@bob"}))
            grp = data(await alice.call_tool("get_group", {"name": "mcp_team", "expand": True}))
            check("bob" in json.dumps(grp["members"]), f"group members: {grp}")
            check(any(g["name"] == "mcp_team" for g in data(await alice.call_tool("list_groups", {}))["groups"]), "list_groups")
            data(await alice.call_tool("set_intent", {"text": "wiring MCP"}))
            team = data(await bob.call_tool("team_status", {}))
            check(any(t["agent_id"] == "alice" and t["intent"] == "wiring MCP" for t in team["team"]), f"team: {team}")
            agents = data(await bob.call_tool("list_agents", {"include_offline": True}))
            check({"alice", "bob", "carol"} <= {a["agent_id"] for a in agents["agents"]}, f"agents: {agents}")
            data(await alice.call_tool("remove_group_member", {"group": "mcp_team", "member": "@bob"}))
            data(await alice.call_tool("delete_group", {"name": "mcp_team"}))
            data(await alice.call_tool("broadcast_message", {"content": "all hands", "exclude": ["carol"]}))

            # Mail bob has read (the broadcast) does not wake his wait: no
            # phantom wake.
            data(await bob.call_tool("check_messages", {"limit": 50}))
            r = data(await bob.call_tool("wait_for_message", {"timeout": 1}))
            check(r["status"] == "timeout", f"a wait woke for mail already read: {r}")

            # A wait in progress when the daemon stops says so, instead of hanging.
            waiter = asyncio.create_task(bob.call_tool("wait_for_message", {"timeout": 60}))
            await asyncio.sleep(0.5)
            thrum("daemon", "stop")
            r = await asyncio.wait_for(waiter, 20)
            check(r.is_error and "restart" in text(r) and "again" in text(r), f"wait across a restart: {text(r)}")
            # The next call starts the daemon again and works.
            data(await alice.call_tool("send_message", {"to": "@bob", "content": "after the restart"}))
            got = data(await bob.call_tool("check_messages", {}))
            check("after the restart" in [m["body"]["content"] for m in got["messages"]], f"after restart: {got}")
    print("MCP OK")


asyncio.run(main())

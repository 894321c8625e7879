"""Calls one tool of `thrum mcp serve` with the official Python MCP SDK and
prints the tool's text result: `call.py AGENT TOOL JSON_ARGS`. Env:
THRUM_BIN (the binary), THRUM_REPO (the repository). Exits 1 with the
tool's text on stderr when the tool reports an error."""

import asyncio
import json
import os
import sys

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client


async def main():
    agent, tool, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    params = StdioServerParameters(
        command=os.environ["THRUM_BIN"],
        args=["mcp", "serve", "--agent-id", agent],
        cwd=os.environ["THRUM_REPO"],
        env=dict(os.environ),
    )
    async with stdio_client(params) as (r, w):
        async with ClientSession(r, w) as session:
            await session.initialize()
            result = await session.call_tool(tool, args)
            text = "".join(getattr(c, "text", "") for c in result.content)
            if getattr(result, "is_error", getattr(result, "isError", False)):
                print(text, file=sys.stderr)
                sys.exit(1)
            print(text)


asyncio.run(main())

"""The official Python MCP SDK's OAuth-aware client against the Rust server under test.

Usage: mcp_client.py MCP_URL ISSUER CA_PEM CLIENT_ID CLIENT_SECRET SCOPE TOOL

The client starts without a token; on the server's 401 it follows `resource_metadata` to the
RFC 9728 document, discovers the authorization server it names, gets a token with the
client-credentials grant for that resource (RFC 8707 `resource`), then initializes, lists the
tools and calls TOOL. Prints one JSON line: the tool names and the tool's text.
"""

import asyncio
import json
import ssl
import sys

import httpx2
from mcp import ClientSession
from mcp.client.auth import TokenStorage
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client


class MemoryStorage(TokenStorage):
    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


async def main(url, issuer, ca, client_id, client_secret, scope, tool):
    provider = ClientCredentialsOAuthProvider(
        server_url=url,
        storage=MemoryStorage(),
        client_id=client_id,
        client_secret=client_secret,
        scope=scope,
        issuer=issuer,
    )
    verify = ssl.create_default_context(cafile=ca)
    async with httpx2.AsyncClient(auth=provider, verify=verify, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = await session.list_tools()
                result = await session.call_tool(tool, {})
                print(
                    json.dumps(
                        {
                            "tools": sorted(t.name for t in tools.tools),
                            "is_error": bool(result.is_error),
                            "text": result.content[0].text,
                        }
                    )
                )


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:8]))

"""Run code in a kernel of the test server through its websocket, as a notebook would."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

REPLY_SECONDS = 60


async def execute(port: int, base_url: str, kernel_id: str, authorization: str, code: str) -> str:
    """Execute ``code`` in the kernel; its stdout, or AssertionError with the error it raised."""
    url = f"ws://127.0.0.1:{port}{base_url}api/kernels/{kernel_id}/channels"
    request = HTTPRequest(url, headers={"Authorization": authorization}, connect_timeout=30)
    ws = await websocket_connect(request)
    msg_id = uuid.uuid4().hex
    await ws.write_message(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "username": "test",
                    "session": uuid.uuid4().hex,
                    "date": datetime.now(UTC).isoformat(),
                    "version": "5.3",
                },
                "parent_header": {},
                "metadata": {},
                "content": {"code": code, "silent": False, "store_history": False},
                "channel": "shell",
                "buffers": [],
            }
        )
    )
    output: list[str] = []

    async def collect() -> str:
        while True:
            raw = await ws.read_message()
            assert raw is not None, "the server closed the kernel websocket"
            message = json.loads(raw)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["header"]["msg_type"], message["content"]
            if kind == "stream":
                output.append(content["text"])
            elif kind == "error":
                raise AssertionError(f"{content['ename']}: {content['evalue']}")
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(output)

    try:
        return await asyncio.wait_for(collect(), REPLY_SECONDS)
    finally:
        ws.close()

"""The baseline of bench/fanout.py: a bare Redis pub/sub → websocket relay, nothing else.

One process: a `websockets` server (on uvloop, like uvicorn) that subscribes to one Redis channel and
broadcasts every message, as a text frame, to every connected client with `websockets.broadcast` (one encode,
written straight to each transport; no queue or task per client). It speaks just enough of Samplan's stream
protocol for the same client code: the first frame gets `authenticated`, a `subscribe` frame registers the
client and gets `subscribed` (head 0). No authentication, no authorisation, no positions, no database.

    python bench/_baseline_relay.py --port 9001 --redis-url redis://127.0.0.1:6379/0 --channel bench:xyz
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal

import redis.asyncio as aioredis
import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed


async def main(port: int, redis_url: str, channel: str, feed: str, compression: bool) -> None:
    clients: set[ServerConnection] = set()
    subscribed = json.dumps({"op": "subscribed", "feeds": {feed: 0}})

    async def handler(ws: ServerConnection) -> None:
        try:
            await ws.recv()  # auth: accepted as is
            await ws.send('{"op":"authenticated","user_id":"baseline","feeds":[]}')
            await ws.recv()  # subscribe
            clients.add(ws)
            await ws.send(subscribed)
            async for _ in ws:  # ignore anything else until the client goes
                pass
        except ConnectionClosed:
            pass
        finally:
            clients.discard(ws)

    client = aioredis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def relay() -> None:
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message is not None and message.get("type") == "message":
                broadcast(clients, message["data"], text=True)

    deflate = "deflate" if compression else None
    async with serve(handler, "127.0.0.1", port, compression=deflate, max_queue=None, backlog=4096):
        task = asyncio.create_task(relay())
        print("ready", flush=True)
        await stop.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await pubsub.aclose()  # type: ignore[no-untyped-call]
    await client.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--channel", required=True)
    parser.add_argument("--feed", required=True)
    parser.add_argument("--compression", action="store_true", help="accept permessage-deflate")
    args = parser.parse_args()
    uvloop.run(main(args.port, args.redis_url, args.channel, args.feed, args.compression))

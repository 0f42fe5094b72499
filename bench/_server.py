"""The emulator in its own process: ``python -m bench._server --dialect X --task-duration D``.

Prints its origin (``http://127.0.0.1:PORT``) on the first line of stdout, then serves until
terminated, or until the process that started it is gone. With ``--blob-bytes N`` it also
serves, beside the emulator's routes, a 4K-class PNG of random pixels (about N bytes,
incompressible) at ``/bench/blob.png`` and a one-route OpenAI-Images provider at
``/bench/v1/images/generations`` whose URL result points at it: the emulator's own 4K images
are solid fills that compress to ~100 KB, too small to tell a streamed download from a
buffered one. With ``--noise-stream WxH`` it serves an OpenAI-Images provider of
incompressible WxH images at ``/bench/stream/v1`` that streams them as the spec's server-sent
events (``bench/_noise_stream.py``); ``--stream-delay`` is the pause before each streamed
event, there and in the emulator's openai dialect.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn
from PIL import Image

from imagebridge._emulator import EmulatorConfig, create_app

from ._noise_stream import with_noise_stream

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BLOB_PATH = "/bench/blob.png"
_CHUNK = 1024 * 1024


def noise_png(size: int) -> bytes:
    """An RGB PNG of random pixels, stored uncompressed: about ``size`` bytes."""
    width = 3840 if size >= 3840 * 3 * 16 else 256
    height = max(1, size // (width * 3))
    pixels = os.urandom(width * height * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), pixels).save(out, format="PNG", compress_level=0)
    return out.getvalue()


def with_blob(app: ASGIApp, blob: bytes) -> ASGIApp:
    """``app`` plus the two ``/bench/...`` routes described in the module docstring."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/bench/"):
            await app(scope, receive, send)
            return
        if path == BLOB_PATH:
            await _respond(send, 200, "image/png", blob)
            return
        if path == "/bench/v1/images/generations":
            more = True
            while more:  # drain the request body
                message = await receive()
                more = bool(message.get("more_body"))
            host, port = scope["server"]
            url = f"http://{host}:{port}{BLOB_PATH}"
            body = json.dumps({"created": 1700000000, "data": [{"url": url}]}).encode()
            await _respond(send, 200, "application/json", body)
            return
        await _respond(send, 404, "text/plain", b"not found")

    return asgi


async def _respond(send: Send, status: int, media_type: str, body: bytes) -> None:
    headers = [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    view = memoryview(body)
    for start in range(0, len(body), _CHUNK):
        chunk = bytes(view[start : start + _CHUNK])
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _exit_with_parent() -> None:
    """End this process if the bench that started it dies without stopping it."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dialect", default="openai")
    parser.add_argument("--task-duration", type=float, default=3.0)
    parser.add_argument("--blob-bytes", type=int, default=0)
    parser.add_argument("--stream-delay", type=float, default=0.02)
    parser.add_argument("--noise-stream", metavar="WxH", default="")
    options = parser.parse_args()
    config = EmulatorConfig(
        task_duration=options.task_duration,
        default_dialect=options.dialect,
        stream_delay=options.stream_delay,
    )
    app: ASGIApp = create_app(config)
    if options.blob_bytes > 0:
        app = with_blob(app, noise_png(options.blob_bytes))
    if options.noise_stream:
        width, _, height = options.noise_stream.partition("x")
        app = with_noise_stream(app, int(width), int(height), options.stream_delay)
    # IPPROTO_TCP explicitly, as EmulatorServer does: asyncio then sets TCP_NODELAY on
    # accepted sockets (without it keep-alive requests can stall on Nagle + delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            http="h11",
            backlog=2048,
            timeout_graceful_shutdown=1,
        )
    )
    _exit_with_parent()
    print(f"http://127.0.0.1:{port}", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()

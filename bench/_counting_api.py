"""`samplan api` for bench/ui_fanout.py, with a count of the HTTP requests it answers (by method and route kind).

The API keeps its access log off (URLs carry case ids), so the benchmark counts requests in an ASGI wrapper
instead: `GET /_bench/requests` answers the counts so far as JSON, e.g. `{"GET cases/*": 12, "POST cases/*/views": 3}`
(ids replaced by `*`). Everything else is the API as `samplan api` runs it (same settings, same uvicorn options).

    python bench/_counting_api.py
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ID = re.compile(r"/[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}")


def create() -> Any:
    from server.api.app import create_app

    app = create_app()
    counts: Counter[str] = Counter()

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/_bench/requests":
            body = json.dumps(counts).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] == "http" and scope["path"].startswith("/api/v1/"):
            counts[f"{scope['method']} {ID.sub('/*', scope['path'][len('/api/v1/'):])}"] += 1
        await app(scope, receive, send)

    return counting


def main() -> None:
    import uvicorn

    from server.logs import log_config
    from server.settings import get_settings

    settings = get_settings()
    uvicorn.run(create, factory=True, host=settings.api_host, port=settings.api_port,
                timeout_graceful_shutdown=5, log_config=log_config(), access_log=False)


if __name__ == "__main__":
    main()

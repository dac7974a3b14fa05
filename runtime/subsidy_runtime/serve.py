"""Start one service's HTTP app (and with it its consumers): `python -m subsidy_runtime.serve pkg.app:app`.

Every service starts the same way, with uvloop, JSON logs and a graceful shutdown on SIGTERM.
"""

from __future__ import annotations

import argparse
import os

import uvicorn

from .logging import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m subsidy_runtime.serve")
    parser.add_argument("app", help="import path of the ASGI app, e.g. registration.app:app")
    parser.add_argument("--host", default=os.environ.get("HTTP_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("HTTP_PORT", "8080")))
    args = parser.parse_args()
    service = os.environ.get("SERVICE_NAME", args.app.split(".")[0])
    configure_logging(service, os.environ.get("LOG_LEVEL", "info"))
    uvicorn.run(
        args.app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=30,
        timeout_keep_alive=75,  # longer than clients' idle pools, so a reused connection is not closed under them
        limit_concurrency=2000,
        backlog=4096,
    )


if __name__ == "__main__":
    main()

"""A local HTTP server standing in for a Slack-compatible webhook receiver: it records every POST."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class WebhookReceiver:
    url: str
    received: list[dict] = field(default_factory=list)
    # The HTTP status to answer with; a test sets 500 to play a receiver that is down.
    status: int = 200
    # Seconds to wait before answering: keeps a send in flight, for races.
    delay: float = 0.0

    def texts(self) -> list[str]:
        return [body["text"] for body in self.received]


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = receiver.status
            time.sleep(receiver.delay)
            if status < 300:
                with lock:
                    receiver.received.append(json.loads(body))
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"down")

        def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/costplane"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

#!/usr/bin/env python3
"""A customer's own resource for trying wasmhook's workflow blocks (seed 001):
a small CRM that finds contacts by email and hands out promo codes.

    python3 examples/workflow/crm.py --port 9100

Standard library only. Every request needs `Authorization: Bearer <token>`
(default `crm-demo-token-0123`; wasmhook adds it from a connector, the block
never sees it), else 401.

    GET  /contacts?email=<email>      -> [{"id": 4217, "email": ..., "name": ...}]  ([] if unknown)
    POST /contacts/<id>/promocode     body {"town": "Kyiv"}
                                      -> {"promocode": "KYIV-4217-5OFF", "contact_id": 4217}

It prints each request it answers. `workflow.py` starts one itself
unless given `--resource`.
"""

import argparse
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DEFAULT_TOKEN = "crm-demo-token-0123"

CONTACTS = [
    {"id": 4217, "email": "ann@example.com", "name": "Ann"},
    {"id": 5120, "email": "bob@example.com", "name": "Bob"},
]


class Handler(BaseHTTPRequestHandler):
    """Answers the two routes above; the expected token is on the server."""

    def answer(self, status, value):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        # The token is never printed, only whether it matched.
        print(f"  resource: {self.command} {self.path} -> {status} {json.dumps(value)}", flush=True)

    def authorized(self):
        return self.headers.get("authorization") == f"Bearer {self.server.token}"

    def do_GET(self):
        url = urlsplit(self.path)
        if not self.authorized():
            return self.answer(401, {"error": "missing or wrong bearer token"})
        if url.path != "/contacts":
            return self.answer(404, {"error": f"no route {url.path}"})
        email = parse_qs(url.query).get("email", [""])[0]
        return self.answer(200, [c for c in CONTACTS if c["email"] == email])

    def do_POST(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        if not self.authorized():
            return self.answer(401, {"error": "missing or wrong bearer token"})
        match = re.fullmatch(r"/contacts/(\d+)/promocode", url.path)
        if not match:
            return self.answer(404, {"error": f"no route {url.path}"})
        contact_id = int(match.group(1))
        if not any(c["id"] == contact_id for c in CONTACTS):
            return self.answer(404, {"error": f"no contact {contact_id}"})
        try:
            town = json.loads(raw).get("town") or "ANY"
        except (ValueError, AttributeError):
            return self.answer(400, {"error": "the body must be a JSON object"})
        code = f"{town.upper()}-{contact_id}-5OFF"
        return self.answer(200, {"promocode": code, "contact_id": contact_id})

    def log_message(self, *args):
        pass


def start(port=0, token=DEFAULT_TOKEN):
    """Starts the resource on 127.0.0.1:`port` (0: any free port) in a
    background thread; returns the server (`server.server_port`)."""
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.token = token
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the bearer token to require")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.token = args.token
    print(f"resource listening on http://127.0.0.1:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A webhook receiver for trying wasmhook: prints every request it gets and,
when WEBHOOK_SECRET holds the endpoint's `whsec_...` secret, checks its
Standard Webhooks signature (HMAC-SHA256 over "id.timestamp.body").

    WEBHOOK_SECRET=whsec_... python3 examples/receiver/receiver.py --port 9000

Standard library only. Answers 200, or 401 when a secret is set and no
signature matches; `--fail N` answers 503 to the first N requests, to watch
retries.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def signature_ok(secret, headers, body):
    """True when one `v1,<base64>` entry of webhook-signature matches."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = b".".join([
        headers.get("webhook-id", "").encode(),
        headers.get("webhook-timestamp", "").encode(),
        body,
    ])
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    entries = headers.get("webhook-signature", "").split()
    return any(
        hmac.compare_digest(entry.partition(",")[2], expected)
        for entry in entries
        if entry.startswith("v1,")
    )


class Handler(BaseHTTPRequestHandler):
    failures_left = 0
    secret = None

    def handle_any(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        status = 200
        verdict = "unsigned check skipped (no WEBHOOK_SECRET)"
        if Handler.secret:
            if signature_ok(Handler.secret, self.headers, body):
                verdict = "signature OK"
            else:
                verdict, status = "signature MISMATCH", 401
        if status == 200 and Handler.failures_left > 0:
            Handler.failures_left -= 1
            status = 503
        print(f"--- {time.strftime('%H:%M:%S')} {self.command} {self.path} -> {status} ({verdict})")
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type"):
            if name in self.headers:
                print(f"{name}: {self.headers[name]}")
        try:
            print(json.dumps(json.loads(body), indent=2))
        except ValueError:
            print(body.decode(errors="replace"))
        self.send_response(status)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = do_PUT = do_DELETE = handle_any

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--fail", type=int, default=0, help="answer 503 to the first N requests")
    args = parser.parse_args()
    Handler.failures_left = args.fail
    Handler.secret = os.environ.get("WEBHOOK_SECRET")
    print(f"receiving on http://127.0.0.1:{args.port}/")
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()

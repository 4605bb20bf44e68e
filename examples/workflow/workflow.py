#!/usr/bin/env python3
"""A small workflow engine driving wasmhook's webhook blocks (seed 001):
two blocks run in a chain against a customer's resource, then a message is
rendered from their data.

    python3 examples/workflow/workflow.py --server http://127.0.0.1:8080

Standard library only. What it does, printing each step:

1. starts the demo resource (`crm.py`, a small CRM) on a free loopback port, unless
   `--resource URL` names one already running;
2. stores the resource's bearer token in a connector (`crm-demo`): wasmhook
   adds it to the blocks' requests, and no API answer ever shows it;
3. defines two blocks with the first-party `http-block` plugin:
   `contacts_get_by_email` GETs `/contacts?email=${email}` (the event's
   email) and answers `[{"id": ...}]`; `WH5` POSTs the contact's TOWN to
   `/contacts/{{ data.contacts_get_by_email[0].id }}/promocode`, so its URL
   uses block 1's result, and answers `{"promocode": ...}`;
4. runs both in order with `POST /v1/workflows/run` for a triggering event
   and a contact;
5. renders a message with `POST /v1/render` that inserts
   `data.WH5.promocode` and `data.contacts_get_by_email[0].id`.

The server must allow the resource: start it with
`--outbound-allowlist 127.0.0.1/32 --allow-plain-http-blocks` (the demo
resource speaks plain HTTP on loopback). The admin token comes from
`--token`, `$WASMHOOK_TOKEN` or `wasmhook-data/admin_token`. Running it again
updates the connector and blocks in place.
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import crm  # noqa: E402  (the demo resource next to this file)

CONNECTOR = "crm-demo"

EVENT = {"event_type": "order_paid", "email": "ann@example.com", "order_id": "o-77"}
CONTACT = {"name": "Ann", "email": "ann@example.com", "TOWN": "Kyiv"}

MESSAGE = (
    "Hi {{ contact.name }}, thanks for order {{ event.order_id }}!\n"
    "Your promo code: {{ data.WH5.promocode }}\n"
    "(contact id $!{data.contacts_get_by_email[0].id})"
)


class Api:
    """The admin API of one wasmhook server."""

    def __init__(self, base, token):
        self.base = base.rstrip("/")
        self.token = token

    def call(self, method, path, body=None):
        """Sends one request; returns (status, parsed JSON body or None)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        return status, (json.loads(raw) if raw else None)

    def expect(self, statuses, method, path, body=None):
        status, answer = self.call(method, path, body)
        if status not in statuses:
            sys.exit(f"{method} {path} answered {status}: {json.dumps(answer)}")
        return status, answer


def admin_token(given):
    if given:
        return given
    if os.environ.get("WASMHOOK_TOKEN"):
        return os.environ["WASMHOOK_TOKEN"]
    saved = Path("wasmhook-data/admin_token")
    if saved.exists():
        return saved.read_text().strip()
    sys.exit("no admin token: pass --token, set WASMHOOK_TOKEN or run from the directory holding wasmhook-data/")


def put_connector(api, token):
    """Creates the connector, or replaces its credentials if it exists."""
    auth = {"kind": "bearer", "token": token}
    status, answer = api.expect({201, 409}, "POST", "/v1/connectors",
                                {"name": CONNECTOR, "auth": auth,
                                 "description": "the demo CRM's API token"})
    if status == 409:
        _, answer = api.expect({200}, "PATCH", f"/v1/connectors/{CONNECTOR}", {"auth": auth})
    print(f"connector {CONNECTOR}: {json.dumps(answer['auth'])}")


def put_block(api, name, description, config):
    """Creates block `name`, or replaces it (restoring it if soft-deleted)."""
    record = {"name": name, "description": description, "plugin": "http-block", "config": config}
    status, answer = api.call("POST", "/v1/blocks", record)
    if status == 409:
        _, existing = api.expect({200}, "GET", f"/v1/blocks/{name}")
        if existing.get("deleted_at"):
            api.expect({200}, "POST", f"/v1/blocks/{name}/restore")
        update = {k: v for k, v in record.items() if k != "name"}
        status, answer = api.expect({200}, "PUT", f"/v1/blocks/{name}", update)
    elif status != 201:
        sys.exit(f"POST /v1/blocks answered {status}: {json.dumps(answer)}")
    print(f"block {name}: {config['method']} {config['url']}")


def print_step(step):
    request, response = step.get("request") or {}, step.get("response") or {}
    line = f"  {step['block']}: {request.get('method', '?')} {request.get('url', '?')}"
    if response:
        line += f" -> {response['status']} in {response['duration_ms']} ms"
    print(line)
    for name, value in request.get("headers") or []:
        if name.lower() == "authorization":
            print(f"    sent {name}: {value}")
    if request.get("body"):
        print(f"    body: {request['body']}")
    if step["ok"]:
        print(f"    data.{step['block']} = {json.dumps(step['data'][step['block']])}")
    else:
        print(f"    error: {json.dumps(step['error'])}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="http://127.0.0.1:8080", help="wasmhook's base URL")
    parser.add_argument("--token", help="admin token (default $WASMHOOK_TOKEN or wasmhook-data/admin_token)")
    parser.add_argument("--resource", help="base URL of a crm.py already running (default: start one)")
    parser.add_argument("--resource-token", default=crm.DEFAULT_TOKEN)
    args = parser.parse_args()
    api = Api(args.server, admin_token(args.token))

    base = args.resource
    if not base:
        server = crm.start(0, args.resource_token)
        base = f"http://127.0.0.1:{server.server_port}"
    base = base.rstrip("/")
    print(f"== 1. resource (a demo CRM) at {base}")

    print("== 2. connector and blocks")
    put_connector(api, args.resource_token)
    put_block(api, "contacts_get_by_email", "Find the contact by the event's email", {
        "method": "GET",
        "url": base + "/contacts?email=${email}",
        "connector": CONNECTOR,
        "response_format": "json",
        "timeout_ms": 5000,
    })
    put_block(api, "WH5", "A promo code for the contact's town", {
        "method": "POST",
        "url": base + "/contacts/{{ data.contacts_get_by_email[0].id }}/promocode",
        "connector": CONNECTOR,
        "body": {"format": "json", "template": '{"town": "{{ contact.TOWN }}"}'},
        "response_format": "json",
        "timeout_ms": 5000,
    })

    print("== 3. workflow run: contacts_get_by_email, then WH5")
    _, run = api.expect({200}, "POST", "/v1/workflows/run", {
        "blocks": ["contacts_get_by_email", "WH5"],
        "event": EVENT,
        "contact": CONTACT,
    })
    for step in run["steps"]:
        print_step(step)
    if not run["ok"]:
        sys.exit(f"the workflow stopped at block {run['failed_block']}")

    print("== 4. message rendered from the blocks' data")
    inputs = {"event": EVENT, "contact": CONTACT, "data": run["data"]}
    _, text = api.expect({200}, "POST", "/v1/render", {"template": MESSAGE, "format": "text", **inputs})
    print(f"  [{text['content_type']}]")
    for line in text["body"].splitlines():
        print(f"  | {line}")
    template = ('{"to": "{{ event.email }}", "promocode": "{{ data.WH5.promocode }}", '
                '"contact_id": {{ data.contacts_get_by_email[0].id }}}')
    _, body = api.expect({200}, "POST", "/v1/render", {"template": template, "format": "json", **inputs})
    print(f"  [{body['content_type']}] {body['body']}")


if __name__ == "__main__":
    main()

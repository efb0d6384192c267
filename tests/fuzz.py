#!/usr/bin/env python3
"""Throws generated requests at every operation of a running API, from its own OpenAPI document.

Schemathesis reads `/v1/openapi.json` from the API under test, generates valid and invalid
requests for every operation (examples, boundary coverage, random fuzzing, and stateful runs
that follow the document's links: create a backup, then get it by its id), sends them with a
real admin key, and checks every answer: no 5xx, a status and body the document allows, and no
request slower than the API's own 29 s timeout. Prints how many requests it made; exits non-zero
on any failure, with schemathesis' reproduction of each.

    CAPYDB_API_URL=http://127.0.0.1:3000 CAPYDB_API_KEY=capy_live_… tests/fuzz.py

`make fuzz` runs it against a running `make dev`; the walkthrough of `make test` runs it against
its own stack.
"""

import json
import os
import subprocess
import sys
import tempfile
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Bounded so `make test` stays inside CI's time; FUZZ_EXAMPLES raises it for a longer run.
EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "8")
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    ]
)


def call(base, key, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{base}{path}", data=data, method=method, headers={"Authorization": f"Bearer {key}"})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def main():
    url, key = os.environ.get("CAPYDB_API_URL"), os.environ.get("CAPYDB_API_KEY")
    if not url or not key:
        print("fuzz: set CAPYDB_API_URL and CAPYDB_API_KEY (the exports `make dev` prints)", file=sys.stderr)
        return 2
    st = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    if not os.path.exists(st):
        print("fuzz: schemathesis is not installed: run `make deps`", file=sys.stderr)
        return 2
    base = url.rstrip("/")
    # The caller's own organization in every `{org_id}`, so key and webhook operations get past
    # "not found" to their real validation; projects come from the stateful runs' own creations.
    org = call(base, key, "GET", "/v1/me")["organization_id"]
    # A key of its own, made by the given one: whatever the run does to keys, the given key
    # (the demo's, in the walkthrough) keeps working.
    made = call(base, key, "POST", f"/v1/organizations/{org}/api-keys", {"name": "fuzz"})
    key = made["plaintext_api_key"]
    with tempfile.TemporaryDirectory(prefix="capydb-fuzz-") as out:
        config = os.path.join(out, "schemathesis.toml")
        with open(config, "w", encoding="utf-8") as f:
            # Only the document's own links: links inferred from answers would lead the run
            # from `GET /v1/me` to revoking the very key it runs with.
            f.write(f'[parameters]\n"path.org_id" = "{org}"\n\n[phases.stateful.inference]\nalgorithms = []\n')
        # Revoking keys runs last, on its own: the run learns ids from answers, its own key's
        # among them, and every request after revoking it would only be a 401.
        runs = [
            ("every operation but key revocation", ["--exclude-operation-id", "revokeApiKey"], "examples,coverage,fuzzing,stateful"),
            ("key revocation", ["--include-operation-id", "revokeApiKey"], "examples,coverage,fuzzing"),
        ]
        total, worst = 0, 0
        for n, (name, selection, phases) in enumerate(runs):
            har = os.path.join(out, f"requests-{n}.har")
            cmd = [
                st, "--config-file", config, "run", f"{base}/v1/openapi.json",
                "--url", base,
                "--header", f"Authorization: Bearer {key}",
                "--checks", CHECKS,
                "--max-examples", EXAMPLES,
                "--phases", phases,
                "--mode", "all",
                # One worker: CPython 3.11 can fail parsing source in two threads at once
                # ("AST constructor recursion depth mismatch") when hypothesis describes a strategy.
                "--workers", "1",
                "--seed", os.environ.get("FUZZ_SEED", "20261202"),
                "--request-timeout", "29",
                "--max-response-time", "29",
                "--suppress-health-check", "all",
                "--no-color",
                "--report", "har", "--report-har-path", har,
                *selection,
            ]
            print(f"fuzz: {name}", flush=True)
            result = subprocess.run(cmd, cwd=out)
            if os.path.exists(har):
                with open(har, encoding="utf-8") as f:
                    total += len(json.load(f)["log"]["entries"])
            worst = worst or result.returncode
        print(f"fuzz: {total} requests over every operation of the document; {'no failures' if worst == 0 else 'FAILURES above'}")
        return worst


if __name__ == "__main__":
    sys.exit(main())

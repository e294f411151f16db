"""sigv4_check.py - recompute the AWS SigV4 Authorization header of a captured S3
request with botocore's signer (an implementation independent of libcurl's), for
tests/e2e/test_objstore.py.

Run with the Debian interpreter, which sees Debian's python3-botocore:

    /usr/bin/python3 tests/sigv4_check.py < request.json

Input (JSON on stdin): a list of captured requests, each
    {"method": "PUT", "host": "127.0.0.1:4568", "path": "/vinted/a%20b",
     "query": "list-type=2&prefix=a%2F", "headers": [["Name", "value"], ...],
     "body_b64": "...", "access_key": "...", "secret_key": "...", "region": "us-east-1"}

The headers signed are the ones the captured Authorization names in SignedHeaders,
with their captured values; the timestamp is the captured X-Amz-Date. botocore is
given the query decoded, as parameters, so it encodes and sorts them itself, and
the body, so it hashes it itself.

Output (JSON on stdout): a list, one object per request: authorization, content_sha256 (botocore's), canonical_request,
string_to_sign. Exit 3 when botocore cannot be imported.
"""

import base64
import json
import sys
import urllib.parse

try:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as e:  # pragma: no cover - reported to the caller
    print(json.dumps({"error": "botocore is not importable by %s: %s" % (sys.executable, e)}))
    sys.exit(3)


def signed_header_names(authorization):
    for part in authorization.split(","):
        part = part.strip()
        if part.startswith("SignedHeaders="):
            return part[len("SignedHeaders="):].split(";")
    raise ValueError("no SignedHeaders in %r" % authorization)


def check(req):
    captured = {}
    for name, value in req["headers"]:
        captured.setdefault(name.lower(), value)
    names = signed_header_names(captured["authorization"])
    headers = {}
    for name in names:
        if name not in captured:
            raise SystemExit("signed header %r was not sent" % name)
        headers[name] = captured[name]
    body = base64.b64decode(req.get("body_b64") or "")
    params = urllib.parse.parse_qsl(req.get("query") or "", keep_blank_values=True, strict_parsing=False)

    request = AWSRequest(method=req["method"], url="http://%s%s" % (req["host"], req["path"]),
                         headers=headers, data=body, params=dict(params) if params else None)
    auth = S3SigV4Auth(Credentials(req["access_key"], req["secret_key"]), "s3", req["region"])
    # add_auth() without its clock: the captured request's timestamp instead.
    request.context["timestamp"] = captured["x-amz-date"]
    auth._modify_request_before_signing(request)
    canonical_request = auth.canonical_request(request)
    string_to_sign = auth.string_to_sign(request, canonical_request)
    signature = auth.signature(string_to_sign, request)
    auth._inject_signature_to_request(request, signature)
    return {
        "authorization": request.headers["Authorization"],
        "content_sha256": request.headers["X-Amz-Content-SHA256"],
        "canonical_request": canonical_request,
        "string_to_sign": string_to_sign,
    }


def main():
    print(json.dumps([check(req) for req in json.load(sys.stdin)]))


if __name__ == "__main__":
    main()

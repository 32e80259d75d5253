"""A minimal Lambda Runtime API client for faas-local's tests (standard library only).

serve(handler) polls /next, calls handler(event, request_id) and posts the result, or
posts an /error when the handler raises. The process exits when the service goes away.
"""
import json
import os
import sys
import urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"


def post(path, payload):
    req = urllib.request.Request(API + path, data=json.dumps(payload).encode(), method="POST")
    urllib.request.urlopen(req).read()


def serve(handler):
    while True:
        try:
            with urllib.request.urlopen(API + "/invocation/next") as r:
                rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
                event = json.loads(r.read() or b"null")
        except Exception:
            sys.exit(0)
        try:
            result = handler(event, rid)
        except Exception as e:  # reported to the caller as a function error
            post("/invocation/%s/error" % rid,
                 {"errorType": type(e).__name__, "errorMessage": str(e), "stackTrace": []})
            continue
        post("/invocation/%s/response" % rid, result)

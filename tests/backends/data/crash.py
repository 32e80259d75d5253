"""Misbehaves on request: {"crash": true} kills the process mid-invocation, and
{"bad_id": true} first posts a response for a request id that does not exist and reports
the status it got. Otherwise returns its pid and the trace id it was given."""
import os
import signal
import urllib.error

import lambda_rt


def handler(event, rid):
    if event.get("crash"):
        os.kill(os.getpid(), signal.SIGKILL)
    out = {"pid": os.getpid()}
    if event.get("bad_id"):
        try:
            lambda_rt.post("/invocation/no-such-id/response", {})
            out["bad_id_status"] = 202
        except urllib.error.HTTPError as e:
            out["bad_id_status"] = e.code
    return out


lambda_rt.serve(handler)

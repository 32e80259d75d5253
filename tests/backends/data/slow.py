"""Sleeps for event["sleep"] seconds (default 30), longer than the tests' timeout."""
import time

import lambda_rt


def handler(event, rid):
    time.sleep(event.get("sleep", 30) if isinstance(event, dict) else 30)
    return {"slept": True}


lambda_rt.serve(handler)

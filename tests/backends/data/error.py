"""Every invocation raises, so the runtime posts /invocation/{id}/error."""
import lambda_rt


def handler(event, rid):
    raise ValueError("boom")


lambda_rt.serve(handler)

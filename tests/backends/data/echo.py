"""Returns the event with this process's pid, after a short init so cold starts show."""
import os
import time

import lambda_rt

time.sleep(0.2)
lambda_rt.serve(lambda event, rid: {"echo": event, "pid": os.getpid(),
                                    "function": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
                                    "has_secret": "AWS_SECRET_ACCESS_KEY" in os.environ})

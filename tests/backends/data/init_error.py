"""Fails during init: posts /runtime/init/error and exits, like a handler that cannot load."""
import sys

import lambda_rt

lambda_rt.post("/init/error", {"errorType": "Runtime.ImportModuleError",
                               "errorMessage": "Unable to import module 'handler'"})
sys.exit(1)

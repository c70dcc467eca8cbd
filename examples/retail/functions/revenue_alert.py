"""A Lambda function of the nightly workflow: says whether the refreshed country revenue
needs a look (the Glue run did not succeed, or the run was asked to always notify)."""

import json
import os


def handler(event, context):
    state = event.get("glue_state")
    always = bool(event.get("input", {}).get("always_notify"))  # the execution's input
    alert = always or state != "SUCCEEDED"
    message = (f"country revenue refreshed ({state}) by {context.function_name} in "
               f"{os.environ.get('TEAM', 'unknown team')}")
    print(json.dumps({"alert": alert, "state": state}))  # a log line, as in CloudWatch
    return {"alert": alert, "message": message}

#!/usr/bin/env python3
"""botocore against the local emulator (personalize-events-local).

Usage: botocore_vs_local.py ENDPOINT_URL

botocore (CI installs botocore==1.44.8) sends, to the emulator at
ENDPOINT_URL only:

* valid calls of all five operations, which must answer 200 with a
  request id;
* invalid calls that botocore lets through (maximum lengths, maximum list
  sizes, patterns, reserved property keys) and, with
  ``parameter_validation=False``, calls it would have refused itself
  (minimum lengths, empty lists, missing required members): each must fail
  with the error the model demands, HTTP 400 ``InvalidInputException``,
  raised as botocore's modeled exception class, whose message is the
  service's (``1 validation error detected: Value at
  'eventList.1.member.itemId' failed to satisfy constraint: ...``);
* a call signed with a wrong secret (``InvalidSignatureException``) and
  one with an unknown access key (``UnrecognizedClientException``), 403.

The last line printed is a JSON summary of what was sent, for the Rust
test to compare with the emulator's own statistics.

Exit status: 0 when every check passed, 1 when one failed, 2 on bad usage,
3 when botocore cannot be imported.
"""

import datetime
import json
import os
import sys

# Nothing from the environment may redirect or reconfigure the client: no
# profile, no proxy, no endpoint override, no instance metadata.
for _name in list(os.environ):
    if _name.upper().startswith("AWS_") or _name.lower() in (
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        del os.environ[_name]
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["NO_PROXY"] = "127.0.0.1,localhost"

try:
    import botocore
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import ClientError, ParamValidationError
except ImportError as exc:  # pragma: no cover - depends on the machine
    print(
        f"botocore is not installed ({exc}); install it with: "
        "pip install botocore==1.44.8",
        file=sys.stderr,
    )
    sys.exit(3)

ACCESS_KEY = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
ARN = "arn:aws:personalize:us-east-1:123456789012:dataset/botocore/"
TRACKING = "tracking-botocore"
EXPECTED_BOTOCORE = "1.44.8"


def make_client(endpoint, secret=SECRET, access_key=ACCESS_KEY, validate=True):
    session = botocore.session.get_session()
    return session.create_client(
        "personalize-events",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        config=Config(
            parameter_validation=validate,
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=15,
            proxies={},
        ),
    )


class Checks:
    def __init__(self):
        self.passed = 0
        self.failures = []

    def ok(self, name):
        self.passed += 1
        print(f"ok   {name}")

    def fail(self, name, why):
        self.failures.append(f"{name}: {why}")
        print(f"FAIL {name}: {why}")


def event(n, now, **extra):
    e = {"eventId": f"bc-e{n}", "eventType": "click", "sentAt": now}
    e.update(extra)
    return e


def main(argv):
    if len(argv) != 2 or not argv[1].startswith("http://127.0.0.1:"):
        print("usage: botocore_vs_local.py http://127.0.0.1:PORT", file=sys.stderr)
        return 2
    endpoint = argv[1]
    checks = Checks()
    print(f"botocore {botocore.__version__} against {endpoint}")
    if botocore.__version__ != EXPECTED_BOTOCORE:
        print(
            f"note: CI pins botocore {EXPECTED_BOTOCORE}, this is {botocore.__version__}"
        )

    client = make_client(endpoint)
    lax = make_client(endpoint, validate=False)
    now = datetime.datetime.now(datetime.timezone.utc)
    props = json.dumps({"numberOfRatings": "12", "genre": "drama"})

    # ---- valid calls of all five operations --------------------------------
    valid = [
        (
            "PutEvents",
            2,
            lambda: client.put_events(
                trackingId=TRACKING,
                userId="user-1",
                sessionId="session-1",
                eventList=[
                    event(
                        1,
                        now,
                        eventValue=1.5,
                        itemId="item-1",
                        properties=json.dumps({"discount": "yes"}),
                        recommendationId="rec-1",
                        impression=["item-1", "item-2"],
                        metricAttribution={"eventAttributionSource": "partner feed"},
                    ),
                    event(2, now, eventType="view"),
                ],
            ),
        ),
        (
            "PutItems",
            2,
            lambda: client.put_items(
                datasetArn=ARN + "ITEMS",
                items=[{"itemId": "item-1", "properties": props}, {"itemId": "item-2"}],
            ),
        ),
        (
            "PutUsers",
            1,
            lambda: client.put_users(
                datasetArn=ARN + "USERS",
                users=[{"userId": "user-1", "properties": json.dumps({"age": "42"})}],
            ),
        ),
        (
            "PutActions",
            1,
            lambda: client.put_actions(
                datasetArn=ARN + "ACTIONS",
                actions=[{"actionId": "action-1", "properties": props}],
            ),
        ),
        (
            "PutActionInteractions",
            1,
            lambda: client.put_action_interactions(
                trackingId=TRACKING,
                actionInteractions=[
                    {
                        "actionId": "action-1",
                        "userId": "user-1",
                        "sessionId": "session-1",
                        "timestamp": now,
                        "eventType": "Taken",
                        "eventId": "bc-ai1",
                        "recommendationId": "rec-1",
                        "impression": ["action-1", "action-2"],
                        "properties": json.dumps({"channel": "web"}),
                    }
                ],
            ),
        ),
    ]
    valid_records = 0
    for name, records, call in valid:
        try:
            out = call()
        except ClientError as e:
            checks.fail(f"valid {name}", f"refused: {e}")
            continue
        meta = out.get("ResponseMetadata", {})
        headers = meta.get("HTTPHeaders", {})
        if meta.get("HTTPStatusCode") != 200:
            checks.fail(f"valid {name}", f"status {meta.get('HTTPStatusCode')}")
        elif not meta.get("RequestId"):
            checks.fail(f"valid {name}", "no RequestId in the response metadata")
        elif "date" not in headers:
            checks.fail(f"valid {name}", "no Date header")
        else:
            valid_records += records
            checks.ok(f"valid {name} -> 200 ({meta['RequestId']})")

    # ---- invalid calls -------------------------------------------------------
    long = "x" * 257
    invalid = [
        # botocore lets these through (it checks no maximum and no pattern).
        ("PutEvents itemId over 256", "eventList.1.member.itemId", client, lambda c: c.put_events(
            trackingId=TRACKING, sessionId="s", eventList=[event(10, now, itemId=long)])),
        ("PutEvents trackingId over 256", "trackingId", client, lambda c: c.put_events(
            trackingId=long, sessionId="s", eventList=[event(11, now)])),
        ("PutEvents 11 events", "eventList", client, lambda c: c.put_events(
            trackingId=TRACKING, sessionId="s",
            eventList=[event(20 + i, now) for i in range(11)])),
        ("PutEvents recommendationId over 40", "eventList.1.member.recommendationId", client,
         lambda c: c.put_events(trackingId=TRACKING, sessionId="s",
                                eventList=[event(12, now, recommendationId="r" * 41)])),
        ("PutEvents 26 impressions", "eventList.1.member.impression", client, lambda c: c.put_events(
            trackingId=TRACKING, sessionId="s",
            eventList=[event(13, now, impression=[f"i{i}" for i in range(26)])])),
        ("PutEvents properties over 1024", "eventList.1.member.properties", client, lambda c: c.put_events(
            trackingId=TRACKING, sessionId="s",
            eventList=[event(14, now, properties=json.dumps({"k": "v" * 1100}))])),
        ("PutEvents reserved property key", "eventList.1.member.properties", client, lambda c: c.put_events(
            trackingId=TRACKING, sessionId="s",
            eventList=[event(15, now, properties=json.dumps({"userId": "u"}))])),
        ("PutEvents attribution source pattern",
         "eventList.1.member.metricAttribution.eventAttributionSource", client,
         lambda c: c.put_events(trackingId=TRACKING, sessionId="s", eventList=[
             event(16, now, metricAttribution={"eventAttributionSource": "   "})])),
        ("PutItems datasetArn pattern", "datasetArn", client, lambda c: c.put_items(
            datasetArn="arn:aws:s3:::bucket", items=[{"itemId": "i"}])),
        ("PutItems itemId over 256", "items.1.member.itemId", client, lambda c: c.put_items(
            datasetArn=ARN + "ITEMS", items=[{"itemId": long}])),
        ("PutUsers 11 users", "users", client, lambda c: c.put_users(
            datasetArn=ARN + "USERS", users=[{"userId": f"u{i}"} for i in range(11)])),
        ("PutUsers properties not an object", "users.1.member.properties", client, lambda c: c.put_users(
            datasetArn=ARN + "USERS", users=[{"userId": "u", "properties": "[1, 2]"}])),
        ("PutActions actionId over 256", "actions.1.member.actionId", client, lambda c: c.put_actions(
            datasetArn=ARN + "ACTIONS", actions=[{"actionId": long}])),
        ("PutActionInteractions 11 interactions", "actionInteractions", client,
         lambda c: c.put_action_interactions(trackingId=TRACKING, actionInteractions=[
             {"actionId": "a", "sessionId": "s", "timestamp": now, "eventType": "Taken"}
             for _ in range(11)])),
        ("PutActionInteractions eventType over 256",
         "actionInteractions.1.member.eventType", client,
         lambda c: c.put_action_interactions(trackingId=TRACKING, actionInteractions=[
             {"actionId": "a", "sessionId": "s", "timestamp": now, "eventType": long}])),
        # botocore would refuse these itself: sent with parameter_validation=False.
        ("PutEvents empty trackingId", "trackingId", lax, lambda c: c.put_events(
            trackingId="", sessionId="s", eventList=[event(30, now)])),
        ("PutEvents empty eventList", "eventList", lax, lambda c: c.put_events(
            trackingId=TRACKING, sessionId="s", eventList=[])),
        ("PutEvents missing sessionId", "sessionId", lax, lambda c: c.put_events(
            trackingId=TRACKING, eventList=[event(31, now)])),
        ("PutItems empty items", "items", lax, lambda c: c.put_items(
            datasetArn=ARN + "ITEMS", items=[])),
        ("PutUsers empty userId", "users.1.member.userId", lax, lambda c: c.put_users(
            datasetArn=ARN + "USERS", users=[{"userId": ""}])),
        ("PutActionInteractions missing timestamp",
         "actionInteractions.1.member.timestamp", lax,
         lambda c: c.put_action_interactions(trackingId=TRACKING, actionInteractions=[
             {"actionId": "a", "sessionId": "s", "eventType": "Taken"}])),
    ]
    # The lax client is needed: botocore refuses these client-side.
    try:
        client.put_events(trackingId="", sessionId="s", eventList=[event(32, now)])
        checks.fail("botocore refuses an empty trackingId itself", "it sent it")
    except ParamValidationError:
        checks.ok("botocore refuses an empty trackingId itself (so the lax client is needed)")
    except ClientError as e:
        checks.fail("botocore refuses an empty trackingId itself", f"it sent it: {e}")

    invalid_calls = 0
    for name, field, c, call in invalid:
        try:
            call(c)
        except ParamValidationError as e:
            checks.fail(f"invalid {name}", f"botocore refused it client-side: {e}")
            continue
        except ClientError as e:
            invalid_calls += 1
            err = e.response.get("Error", {})
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            message = err.get("Message", "")
            if err.get("Code") != "InvalidInputException":
                checks.fail(f"invalid {name}", f"code {err.get('Code')!r}: {message}")
            elif status != 400:
                checks.fail(f"invalid {name}", f"status {status}")
            elif not isinstance(e, c.exceptions.InvalidInputException):
                checks.fail(f"invalid {name}", f"not the modeled class: {type(e)}")
            elif not (message.startswith("1 validation error detected: Value ")
                      and f" at '{field}' failed to satisfy constraint: " in message):
                checks.fail(f"invalid {name}",
                            f"not the service's wording for '{field}': {message}")
            elif not e.response.get("ResponseMetadata", {}).get("RequestId"):
                checks.fail(f"invalid {name}", "no RequestId")
            else:
                checks.ok(f"invalid {name} -> 400 InvalidInputException: {message[:90]}")
            continue
        invalid_calls += 1
        checks.fail(f"invalid {name}", "accepted (200)")

    # ---- signatures ------------------------------------------------------------
    signature_cases = [
        ("wrong secret", make_client(endpoint, secret="not-the-secret"),
         "InvalidSignatureException"),
        ("unknown access key", make_client(endpoint, access_key="AKIDUNKNOWN"),
         "UnrecognizedClientException"),
    ]
    for name, c, want in signature_cases:
        try:
            c.put_events(trackingId=TRACKING, sessionId="s", eventList=[event(40, now)])
            checks.fail(f"signature {name}", "accepted (200)")
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == want and status == 403:
                checks.ok(f"signature {name} -> 403 {code}")
            else:
                checks.fail(f"signature {name}", f"got {status} {code}, want 403 {want}")

    print(f"checks: {checks.passed} ok, {len(checks.failures)} failing")
    print(
        json.dumps(
            {
                "botocore": botocore.__version__,
                "valid_calls": len(valid),
                "valid_records": valid_records,
                "invalid_calls": invalid_calls,
                "signature_calls": len(signature_cases),
                "failures": checks.failures,
            }
        )
    )
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

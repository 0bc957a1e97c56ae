#!/usr/bin/env python3
# Test bootstrap speaking the Lambda Runtime API with the standard library only.
# The event's "action" field picks the behaviour; LSK_TEST_MODE picks init behaviour.
import http.client
import json
import os
import sys
import threading
import time

# Which build of this file runs (tests/watch_code.rs writes new versions over it).
CODE_VERSION = "v1"

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
mode = os.environ.get("LSK_TEST_MODE", "serve")
root = os.environ["LAMBDA_TASK_ROOT"]
try:
    with open(os.path.join(root, "pid-%d" % os.getpid()), "w") as f:
        f.write(str(os.getpid()))
except OSError:
    pass  # a read-only /var/task, as on AWS (tests/filesystem.rs)

print("init: bootstrap starting", flush=True)
conn = http.client.HTTPConnection(host, int(port))


def post(path, body, headers=None):
    conn.request("POST", path, body=body, headers=headers or {})
    resp = conn.getresponse()
    resp.read()
    return resp.status


if mode == "exit-before-next":
    sys.stderr.write("missing config XYZ\n")
    sys.stderr.flush()
    sys.exit(3)

if mode == "init-error":
    post(
        "/2018-06-01/runtime/init/error",
        json.dumps({"errorMessage": "cannot load settings", "errorType": "Runtime.ConfigError"}),
        {"Lambda-Runtime-Function-Error-Type": "Runtime.ConfigError"},
    )
    time.sleep(600)

while True:
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    resp = conn.getresponse()
    body = resp.read()
    rid = resp.getheader("Lambda-Runtime-Aws-Request-Id")
    event = json.loads(body)
    action = event.get("action", "echo") if isinstance(event, dict) else "echo"
    print("handling", rid, action, flush=True)
    base = "/2018-06-01/runtime/invocation/%s" % rid
    if action == "crash":
        sys.stderr.write("thread 'main' panicked at src/main.rs:7:5:\nboom\n")
        sys.stderr.flush()
        os._exit(101)
    if action == "sleep":
        # Lets a test see that this invocation is running.
        open(os.path.join(root, "running-%s" % rid), "w").close()
        time.sleep(event["seconds"])
    if action == "error":
        post(
            base + "/error",
            json.dumps({"errorMessage": "bad input: %s" % event.get("why"), "errorType": "Handled.Custom"}),
            {"Lambda-Runtime-Function-Error-Type": "Handled.Custom"},
        )
        continue
    if action == "exit-idle":
        # Answer, then die while waiting for the next event.
        post(base + "/response", json.dumps({"pid": os.getpid()}))
        threading.Timer(0.2, lambda: os._exit(0)).start()
        continue
    if action == "big":
        status = post(base + "/response", b"x" * event["size"])
        print("big response answered", status, flush=True)
        continue
    if action == "chatty":
        # One write right before the response: the init must drain the pipe first.
        sys.stdout.write("".join("line %d of chatty output\n" % i for i in range(event["lines"])))
        sys.stdout.flush()
    result = {
        # Large string events are only measured, so the answer stays small.
        "echo": event if isinstance(event, dict) else None,
        "echo_len": None if isinstance(event, dict) else len(event),
        "pid": os.getpid(),
        "code": CODE_VERSION,
        "deadline_ms": resp.getheader("Lambda-Runtime-Deadline-Ms"),
        "arn": resp.getheader("Lambda-Runtime-Invoked-Function-Arn"),
        "trace": resp.getheader("Lambda-Runtime-Trace-Id"),
        "now_ms": int(time.time() * 1000),
    }
    if action == "env":
        result["env"] = dict(os.environ)
        result["cwd"] = os.getcwd()
        result["pgid"] = os.getpgid(0)
    if action == "fs":
        import subprocess

        def writable(d):
            try:
                with open(os.path.join(d, "written-by-%d" % os.getpid()), "w") as f:
                    f.write("x")
                return True
            except OSError:
                return False

        result["cwd"] = os.getcwd()
        result["code_writable"] = writable(os.environ["LAMBDA_TASK_ROOT"])
        result["tmp_writable"] = writable("/tmp")
        result["tmp_entries"] = sorted(os.listdir("/tmp"))
        result["sh_pipefail"] = subprocess.run(["/bin/sh", "-c", "set -o pipefail"]).returncode == 0
        result["bootstrap_seen"] = os.path.exists(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "bootstrap"))
    post(base + "/response", json.dumps(result))

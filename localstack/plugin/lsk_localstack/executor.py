"""The `process` Lambda runtime executor: one `lsk-init` host process per execution environment.

Selected with LAMBDA_RUNTIME_EXECUTOR=process. LocalStack keeps doing everything else (versions,
scaling, keep-alive, event source mappings, function URLs, logs); this replaces only the part
that would start a Docker container, and talks to `lsk-init` over the same protocol as the
Go init does (localstack/init/PROTOCOL.md).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import select
import signal
import socket
import stat
import subprocess
import threading
import time
import weakref
from pathlib import Path

import h11
from localstack import config
from localstack.services.lambda_.invocation.executor_endpoint import (
    ExecutorEndpoint,
    InvokeSendError,
)
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

LOG = logging.getLogger(__name__)

SUPPORTED_RUNTIMES = ("provided.al2023", "provided.al2")
# The names lsk-init and this executor agree on (localstack/init/PROTOCOL.md). lsk-init keeps
# them in localstack/init/src/protocol.rs; its tests/protocol.rs fails if these differ.
LISTENING_PREFIX = "LSK_INIT_LISTENING"
INVOKE_PATH = "/invoke"
INLINE = "inline"
OUTCOME_RESPONSE = "response"
OUTCOME_ERROR = "error"
LOG_ENV = "LSK_INIT_LOG"
FS_ENV = "LSK_INIT_FS"
WATCH_CODE_ENV = "LSK_INIT_WATCH_CODE"
# How long an init may take to bind its port (it does so before starting the bootstrap).
INIT_LISTEN_TIMEOUT_S = 10.0
STOP_GRACE_S = 2.0
# LocalStack itself waits at most the maximum Lambda timeout plus a buffer for a result.
INVOKE_RESULT_TIMEOUT_S = 900 + 5
# How lsk-init hands back a result. "inline": in the answer to /invoke (one request per invoke);
# "callback": the Go init's protocol, posting logs and result back through LocalStack's gateway
# (two more requests through its Python handler chain per invoke). Kept to compare in benches.
RESULT_MODES = ("inline", "callback")
RESULT_MODE_HEADER = "x-lsk-result"
OUTCOME_HEADER = "x-lsk-outcome"
PAYLOAD_LENGTH_HEADER = "x-lsk-payload-length"


# lsk-init's own settings, passed through from LocalStack's environment when set:
# LSK_INIT_LOG (its log filter), LSK_INIT_FS (`host` turns the /var/task view off).
INIT_SETTINGS = (LOG_ENV, FS_ENV)


# How the executor writes requests to lsk-init and reads its answers: "own", a reader for what
# lsk-init (hyper) writes and nothing else; "h11", the h11 library's HTTP/1.1 state machine.
# `make bench` times both in one run (its `reader` rows); see ARCHITECTURE.md for the figures.
HTTP_READERS = ("own", "h11")
HTTP_READER_ENV = "LSK_EXECUTOR_HTTP"


def http_reader() -> str:
    reader = os.environ.get(HTTP_READER_ENV, "own") or "own"
    if reader not in HTTP_READERS:
        raise LambdaRuntimeException(
            f"{HTTP_READER_ENV}={reader!r} is not one of {', '.join(HTTP_READERS)}"
        )
    return reader


def result_mode() -> str:
    mode = os.environ.get("LSK_INVOKE_RESULTS", "inline") or "inline"
    if mode not in RESULT_MODES:
        raise LambdaRuntimeException(
            f"LSK_INVOKE_RESULTS={mode!r} is not one of {', '.join(RESULT_MODES)}"
        )
    return mode


# Every init this LocalStack started, so none outlives it (atexit here; the stdin lifeline
# inside lsk-init covers SIGKILL of LocalStack).
_LIVE_INITS: weakref.WeakSet[ProcessRuntimeExecutor] = weakref.WeakSet()


def unsupported_runtime_message(runtime: str | None) -> str:
    return (
        f"The process runtime executor runs only custom runtimes ({', '.join(SUPPORTED_RUNTIMES)}) "
        f"with a native `bootstrap` executable; runtime {runtime or '(container image)'} is not "
        "supported. Use provided.al2023 with a Rust bootstrap, or run LocalStack with the docker "
        "backend of LocalStack's official image (lsk --backend docker-official) for other runtimes."
    )


def init_binary() -> str:
    path = os.environ.get("LSK_INIT_BIN", "")
    if not path:
        raise LambdaRuntimeException(
            "LSK_INIT_BIN is not set: the process executor needs the path of the lsk-init binary "
            "(lsk sets it; build it with `cargo build --release -p lsk-init`)."
        )
    if not os.access(path, os.X_OK):
        raise LambdaRuntimeException(
            f"LSK_INIT_BIN={path} is not an executable file; build it with "
            "`cargo build --release -p lsk-init`."
        )
    return path


class InitProtocolError(OSError):
    """lsk-init's answer is not HTTP/1.1 as lsk-init writes it."""


def _dropped(sock: socket.socket) -> bool:
    """Whether an idle kept-alive socket can no longer carry a request: the init closed it (it
    reads as EOF) or it holds bytes nobody asked for. An idle healthy socket is not readable."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class InitConnection:
    """A keep-alive HTTP/1.1 connection to one init, with TCP_NODELAY.

    The stock endpoint opens a new `requests` connection per invoke; this is the hot path of
    every invocation, so the socket is kept and each request leaves in one write (no Nagle or
    delayed-ACK stalls). By default (`reader="own"`) the answer is read by hand rather than with
    `http.client`, whose header parsing (the `email` package) took more of LocalStack's GIL per
    invoke than the rest of this executor (py-spy); it only has to read what lsk-init (hyper)
    writes: a status line, headers, and a body with a Content-Length. `reader="h11"` frames both
    directions with h11 instead, so the two can be compared in one bench run."""

    def __init__(self, host: str, port: int, reader: str = "own"):
        if reader not in HTTP_READERS:
            raise ValueError(f"reader {reader!r} is not one of {', '.join(HTTP_READERS)}")
        self.host = host
        self.port = port
        self._reader = reader
        self._sock: socket.socket | None = None
        self._buf = b""
        self._h11: h11.Connection | None = None

    def _connect(self) -> socket.socket:
        # An inline answer comes when the function is done: wait as long as LocalStack would.
        sock = socket.create_connection((self.host, self.port), timeout=INVOKE_RESULT_TIMEOUT_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def post_json(
        self, path: str, payload: dict, extra_headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """POSTs `payload`; returns status, headers (lower-case names) and body of the answer."""
        body = json.dumps(payload).encode()
        headers = [
            ("Host", f"{self.host}:{self.port}"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            *(extra_headers or {}).items(),
        ]
        # Never send a request twice once it may have reached the init: it would run the
        # invocation twice. A kept-alive socket the init closed while idle is replaced before
        # sending; a send that fails part-way is retried once on a fresh connection (the init
        # only acts on a whole request); a failure after the whole request was sent is raised.
        if self._sock is not None and _dropped(self._sock):
            self.close()
        for attempt in range(2):
            fresh = self._sock is None
            if self._sock is None:
                self._sock = self._connect()
                self._buf = b""
                self._h11 = h11.Connection(h11.CLIENT) if self._reader == "h11" else None
            try:
                self._sock.sendall(self._request(path, headers, body))
            except OSError:
                self.close()
                if fresh or attempt == 1:
                    raise
                continue
            try:
                if self._h11 is not None:
                    return self._read_answer_h11()
                return self._read_answer()
            except OSError:
                self.close()
                raise
        raise AssertionError("unreachable")

    def _request(self, path: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
        if self._h11 is not None:
            try:
                return b"".join(
                    self._h11.send(event)
                    for event in (
                        h11.Request(method="POST", target=path, headers=headers),
                        h11.Data(data=body),
                        h11.EndOfMessage(),
                    )
                )
            except h11.LocalProtocolError as e:
                raise InitProtocolError(f"cannot frame the request to lsk-init: {e}") from e
        head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        return head.encode("latin-1") + body

    def _recv(self) -> bytes:
        chunk = self._sock.recv(262144)
        if not chunk:
            raise ConnectionResetError("lsk-init closed the connection")
        return chunk

    def _read_answer(self) -> tuple[int, dict[str, str], bytes]:
        buf = self._buf
        while (end := buf.find(b"\r\n\r\n")) < 0:
            if len(buf) > 65536:
                raise InitProtocolError("lsk-init sent more than 64 KiB of headers")
            buf += self._recv()
        lines = buf[:end].decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise InitProtocolError(f"not an HTTP/1.x status line from lsk-init: {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = headers.get("content-length", "")
        if not length.isdigit():
            raise InitProtocolError(
                f"lsk-init answered HTTP {code} without a Content-Length ({lines[1:]!r})"
            )
        size = int(length)
        parts = [buf[end + 4 :]]
        have = len(parts[0])
        while have < size:
            chunk = self._recv()
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        self._buf = data[size:]
        if headers.get("connection", "").lower() == "close":
            self.close()
        return int(code), headers, data[:size]

    def _read_answer_h11(self) -> tuple[int, dict[str, str], bytes]:
        conn = self._h11
        status, headers, parts = 0, {}, []
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(self._recv())
                elif isinstance(event, h11.Response):
                    status = event.status_code
                    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in event.headers}
                elif isinstance(event, h11.Data):
                    parts.append(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    raise ConnectionResetError("lsk-init closed the connection")
            if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                conn.start_next_cycle()
            else:
                self.close()
        except h11.RemoteProtocolError as e:
            raise InitProtocolError(f"lsk-init's answer is not HTTP/1.1: {e}") from e
        return status, headers, b"".join(parts)

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
                self._buf = b""
                self._h11 = None


class ProcessExecutorEndpoint(ExecutorEndpoint):
    """LocalStack's callback endpoint, with invokes sent over a kept-alive connection."""

    def __init__(self, executor_id: str, mode: str = "inline", reader: str = "own"):
        super().__init__(executor_id, container_address=None, container_port=None)
        self._lock = threading.Lock()
        self._init_conn: InitConnection | None = None
        self._mode = mode
        self._reader = reader

    def connect_to(self, host: str, port: int) -> None:
        self.container_address = host
        self.container_port = port
        self._init_conn = InitConnection(host, port, self._reader)

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        from concurrent.futures import Future

        if self._init_conn is None:
            raise ValueError("init address not set, but got an invoke")
        inline = self._mode == "inline"
        with self._lock:
            self.invocation_future = Future()
            self.logs = None
            try:
                status, headers, data = self._init_conn.post_json(
                    INVOKE_PATH, payload, {RESULT_MODE_HEADER: INLINE} if inline else None
                )
            except OSError as e:
                raise InvokeSendError(
                    f"could not send the invocation to lsk-init at "
                    f"{self.container_address}:{self.container_port}: {e}"
                ) from e
            if status >= 300:
                raise InvokeSendError(
                    f"lsk-init at {self.container_address}:{self.container_port} refused the "
                    f"invocation with HTTP {status}: {data[:512].decode(errors='replace')}"
                )
            if inline:
                return self._inline_result(payload.get("invoke-id", ""), headers, data)
            future = self.invocation_future
        return future.result(timeout=INVOKE_RESULT_TIMEOUT_S)

    def _inline_result(
        self, request_id: str, headers: dict[str, str], data: bytes
    ) -> InvocationResult:
        outcome = headers.get(OUTCOME_HEADER)
        try:
            split = int(headers.get(PAYLOAD_LENGTH_HEADER, ""))
        except ValueError:
            split = -1
        if outcome not in (OUTCOME_RESPONSE, OUTCOME_ERROR) or not 0 <= split <= len(data):
            raise InvokeSendError(
                f"lsk-init at {self.container_address}:{self.container_port} answered /invoke "
                f"without an inline result ({OUTCOME_HEADER}={outcome!r}, "
                f"{PAYLOAD_LENGTH_HEADER}={headers.get(PAYLOAD_LENGTH_HEADER)!r}); is "
                "LSK_INIT_BIN an lsk-init from this workspace? Rebuild it with "
                "`cargo build --release -p lsk-init`."
            )
        return InvocationResult(
            request_id,
            data[:split],
            is_error=outcome == OUTCOME_ERROR,
            logs=data[split:].decode(errors="replace"),
        )

    def shutdown(self) -> None:
        if self._init_conn is not None:
            self._init_conn.close()
        super().shutdown()


class ProcessRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.executor_endpoint = ProcessExecutorEndpoint(self.id, result_mode(), http_reader())
        self.process: subprocess.Popen | None = None
        self.log_path = Path(config.dirs.tmp) / "lsk-init" / f"{self.id}.log"
        self._stopped = False

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, env_vars: dict[str, str]) -> None:
        runtime = self.function_version.config.runtime
        if runtime not in SUPPORTED_RUNTIMES:
            raise LambdaRuntimeException(unsupported_runtime_message(runtime))
        code = self.function_version.config.code
        if code is None:
            raise LambdaRuntimeException(unsupported_runtime_message(None))
        task_root = Path(code.get_unzipped_code_location())

        # Built from scratch: only what LocalStack gives the function. The host's own
        # environment (its PATH, its AWS credentials) never reaches lsk-init or the function;
        # lsk-init adds what AWS sets (PATH, LANG, ...) unless the function sets it itself.
        env = {k: str(v) for k, v in env_vars.items() if v is not None}
        # lsk-init finds the code here; the function sees /var/task where the OS allows it.
        env["LAMBDA_TASK_ROOT"] = str(task_root)
        if code.is_hot_reloading():
            # LocalStack's hot-reload code (`lsk watch`): a host directory whose `bootstrap` may
            # be replaced at any time; lsk-init starts each invocation on the newest one.
            env[WATCH_CODE_ENV] = "1"
        for name in INIT_SETTINGS:
            if name in os.environ:
                env[name] = os.environ[name]

        self.executor_endpoint.start()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [init_binary(), "--listen", "127.0.0.1:0"],
                env=env,
                cwd=str(task_root),
                stdin=subprocess.PIPE,  # the lifeline: EOF means LocalStack is gone
                stdout=subprocess.PIPE,
                stderr=log,
                close_fds=True,
            )
        _LIVE_INITS.add(self)
        port = self._read_listening_port()
        self.executor_endpoint.connect_to("127.0.0.1", port)
        LOG.debug(
            "lsk-init %s (pid %s) for %s on port %s",
            self.id,
            self.process.pid,
            self.function_version.qualified_arn,
            port,
        )
        self.executor_endpoint.wait_for_startup()

    def _read_listening_port(self) -> int:
        proc = self.process
        deadline = time.monotonic() + INIT_LISTEN_TIMEOUT_S
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                raise LambdaRuntimeException(
                    f"lsk-init did not report its port within {INIT_LISTEN_TIMEOUT_S:.0f} s; "
                    f"its log ({self.log_path}):\n{self.get_logs()}"
                )
            ready, _, _ = select.select([proc.stdout], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 256)
            if not chunk:
                code = proc.wait(timeout=5)
                raise LambdaRuntimeException(
                    f"lsk-init exited with status {code} before listening; its log "
                    f"({self.log_path}):\n{self.get_logs()}"
                )
            line += chunk
        text = line.decode(errors="replace").strip()
        if not text.startswith(LISTENING_PREFIX + " "):
            self._kill()
            raise LambdaRuntimeException(f"unexpected first line from lsk-init: {text!r}")
        return int(text[len(LISTENING_PREFIX) + 1 :].rsplit(":", 1)[1])

    def stop(self) -> None:
        self._stopped = True
        proc = self.process
        if proc is not None and proc.poll() is None:
            try:
                proc.stdin.close()
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self._kill()
            except OSError:
                pass
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        _LIVE_INITS.discard(self)
        try:
            self.executor_endpoint.shutdown()
        except Exception as e:  # already unregistered: nothing left to release
            LOG.debug("executor endpoint %s shutdown: %s", self.id, e)

    def _kill(self) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                LOG.warning("lsk-init pid %s did not die after SIGKILL", proc.pid)

    # --- addresses -------------------------------------------------------------------------

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return "127.0.0.1"

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://127.0.0.1:{port}{self.executor_endpoint.get_endpoint_prefix()}"

    # --- invocations and logs --------------------------------------------------------------

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        return self.executor_endpoint.invoke(payload)

    def get_logs(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 16384))
                return f.read().decode(errors="replace")
        except OSError:
            return "(no lsk-init log)"

    # --- versions --------------------------------------------------------------------------

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        runtime = function_version.config.runtime
        if runtime not in SUPPORTED_RUNTIMES or function_version.config.code is None:
            raise LambdaRuntimeException(unsupported_runtime_message(runtime))
        init_binary()
        code = function_version.config.code
        code.prepare_for_execution()
        bootstrap = Path(code.get_unzipped_code_location()) / "bootstrap"
        if not bootstrap.is_file():
            raise LambdaRuntimeException(
                "the deployment package has no `bootstrap` file at its root; a provided.* "
                "function needs its executable zipped as `bootstrap` (lsk does this for you)"
            )
        # Python's zipfile fallback drops unix modes; the bootstrap must be executable.
        mode = bootstrap.stat().st_mode
        if not mode & stat.S_IXUSR:
            bootstrap.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        try:
            init_binary()
        except LambdaRuntimeException as e:
            LOG.warning("%s", e)
            return False
        return True


class ProcessRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "process"

    def load(self, *args, **kwargs):
        # Loaded when the Lambda service starts, before any function version (and its log
        # handler thread) exists.
        from lsk_localstack import logs, retention, urls

        logs.install()
        retention.install()
        urls.install_router_patch()
        return ProcessRuntimeExecutor


@atexit.register
def _stop_all_inits() -> None:
    for executor in list(_LIVE_INITS):
        try:
            executor.stop()
        except Exception:  # best effort at interpreter exit; the lifeline covers the rest
            pass

"""The Python runtime inside one execution environment (a worker process of the local cloud).

Run by path (``python bootstrap.py``), never imported as part of ``workshop_utils``: the function's
process must hold nothing but the runtime and the function's own modules. It follows what AWS's
Python runtime (aws-lambda-python-runtime-interface-client, ``awslambdaric/bootstrap.py``) does:
import the handler once at init, then loop over invocations; unhandled errors, log lines and the
logging module's format are the same.

Channel with the local cloud: two private pipes whose fds arrive in ``_LOCALCLOUD_FDS``
("<command fd>,<event fd>"). Every frame, both ways, is ``>II`` (header length, body length), a
JSON header, then the raw body. Worker -> cloud: ``log`` (body: one CloudWatch event), ``ready``,
``init_error``, ``result``. Cloud -> worker: ``invoke`` (body: the event). stdout and stderr are
redirected into ``log`` frames, so print() cannot corrupt the channel and log lines stay in order
with the result. The worker exits when the command pipe closes (the cloud stopped or died).

What the function can import is what AWS's runtime gives it. The worker is started with
``python -S -s -P`` (:mod:`.workers`): no site-packages of the cloud's environment, no user
site, not this file's directory; :func:`set_sys_path` then puts on ``sys.path``, in the order of
AWS's ``/var/runtime/bootstrap.py``, the task root (``/var/task``), the layers
(``/opt/python/lib/python3.X/site-packages``, ``/opt/python``), the runtime's packages
(boto3 and what it needs, :mod:`.runtimedir`; AWS: ``/var/lang/lib/python3.X/site-packages``)
and ``LAMBDA_RUNTIME_DIR``, ahead of the standard library.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import json
import logging
import os
import re
import resource
import struct
import sys
import threading
import time
import traceback

_HEAD = struct.Struct(">II")
ERROR_LOG_IDENT = "\u00a0"  # what the Python runtime indents traceback lines with in CloudWatch
_RUNTIME_FILE = os.path.abspath(__file__)

_cmd_fd, _evt_fd = (int(x) for x in os.environ.pop("_LOCALCLOUD_FDS").split(","))
_GATEWAY = os.environ.pop("_LOCALCLOUD_GATEWAY", "")  # http://127.0.0.1:<ws port>
_OPT = os.environ.pop("_LOCALCLOUD_OPT", "/opt")  # the layers, extracted (AWS: /opt)
_send_lock = threading.Lock()
_request_id = ""


def _send(header: dict, body: bytes = b"") -> None:
    head = json.dumps(header).encode()
    data = _HEAD.pack(len(head), len(body)) + head + body
    with _send_lock:
        view = memoryview(data)
        while view:
            view = view[os.write(_evt_fd, view):]


def _read_exact(n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(_cmd_fd, min(n, 1 << 20))
        if not chunk:  # the cloud closed the channel: stop, as an environment is shut down
            os._exit(0)
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _recv() -> tuple[dict, bytes]:
    hlen, blen = _HEAD.unpack(_read_exact(_HEAD.size))
    header = json.loads(_read_exact(hlen))
    return header, _read_exact(blen) if blen else b""


def _log(message: str) -> None:
    _send({"t": "log", "ts": int(time.time() * 1000)}, message.encode("utf-8", "replace"))


def _die_with_parent() -> None:
    """SIGKILL this worker if the local cloud dies, even while a handler is busy (Linux)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:
            os._exit(0)
    except Exception:  # not Linux: the closed command pipe still ends the worker between invokes
        pass


class _LineStream:
    """sys.stdout/sys.stderr of the function: each line becomes one CloudWatch event."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, name: str) -> None:
        self.name = name
        self._buf = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            self._buf += text
            if "\n" in self._buf:
                *lines, self._buf = self._buf.split("\n")
                for line in lines:
                    _log(line + "\n")
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        with self._lock:
            if self._buf:
                _log(self._buf)
                self._buf = ""

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError("the function's output is a log stream")

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False


class _LambdaLoggerHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            _log(self.format(record))
        except Exception:
            self.handleError(record)


class _LambdaLoggerFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _request_id
        return True


_handler = _LambdaLoggerHandler()

# awslambdaric/lambda_literals.py: logged before an init error's [ERROR] line
LAMBDA_UNHANDLED_EXCEPTION_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function "
    "code. However, in rare cases, a Lambda runtime update can cause unexpected function "
    "behavior. For functions using managed runtimes, runtime updates can be triggered by a "
    "function change, or can be applied automatically. To determine if the runtime has been "
    "updated, check the runtime version in the INIT_START log entry. If this error correlates "
    "with a change in the runtime version, you may be able to mitigate this error by "
    "temporarily rolling back to the previous runtime version. For more information, see "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html"
)


def _warn_unhandled() -> None:
    """The runtime's LAMBDA_WARNING line, in the logging format with an empty request id (as
    during init on AWS: two tabs), whatever levels the function's code set."""
    record = logging.LogRecord("root", logging.WARNING, _RUNTIME_FILE, 0,
                               LAMBDA_UNHANDLED_EXCEPTION_WARNING, None, None)
    record.aws_request_id = ""
    _log(_handler.format(record))


def _setup_logging() -> None:
    logging.Formatter.converter = time.gmtime
    handler = _handler
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
        "%Y-%m-%dT%H:%M:%S",
    ))
    handler.addFilter(_LambdaLoggerFilter())
    root = logging.getLogger()
    level = {None: "", "TRACE": "DEBUG"}.get(
        os.environ.get("AWS_LAMBDA_LOG_LEVEL"), os.environ.get("AWS_LAMBDA_LOG_LEVEL", "")
    ).upper()
    if level in logging._nameToLevel:
        root.setLevel(level)
    root.addHandler(handler)


# --- the AWS SDK inside the function reaches the local cloud ---------------------------------

_EXECUTE_API = re.compile(
    r"^https://(?P<api>[a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(?::443)?(?P<rest>/.*)?$"
)


def _route_execute_api(request, **_kwargs) -> None:
    """before-send: ``https://{api}.execute-api.{region}.amazonaws.com/{stage}/…`` goes to the
    local gateway as ``http://127.0.0.1:{ws port}/{api}/{stage}/…`` (path, query and the
    Authorization header unchanged)."""
    match = _EXECUTE_API.match(request.url)
    if match and _GATEWAY:
        request.url = f"{_GATEWAY}/{match['api']}{match['rest'] or '/'}"


def _patch_botocore_session(module) -> None:
    original_init = module.Session.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.register("before-send", _route_execute_api)

    module.Session.__init__ = __init__


class _BotocoreHook(importlib.abc.MetaPathFinder):
    """Patches ``botocore.session`` when (and only if) the function imports it."""

    def find_spec(self, name, path, target=None):
        if name != "botocore.session":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            _patch_botocore_session(module)

        loader.exec_module = exec_and_patch
        return spec


# --- errors as the Python runtime makes them ---------------------------------------------------

class FaultException(Exception):
    def __init__(self, exception_type: str, msg: str, trace=None) -> None:
        self.exception_type = exception_type
        self.msg = msg
        self.trace = trace


def make_error(message, error_type, stack_trace, invoke_id=None) -> dict:
    return {
        "errorMessage": message if message else "",
        "errorType": error_type if error_type else "",
        "requestId": invoke_id if invoke_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def _indent(line: str) -> str:
    stripped = line.lstrip(" ")
    return ERROR_LOG_IDENT * (len(line) - len(stripped)) + stripped


def log_error(error: dict) -> None:
    """``[ERROR] Type: message`` + the traceback, as ONE CloudWatch event."""
    description = "[ERROR]"
    if error.get("errorType"):
        description += " " + error["errorType"]
    if error.get("errorMessage"):
        if error.get("errorType"):
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description]
    stack = error.get("stackTrace")
    if stack is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack:
            if element == "":
                lines.append("")
            else:
                lines.extend(_indent(t) for t in element.splitlines())
    _log("\n".join(lines))


def _user_frames(tb) -> list[str]:
    frames = [f for f in traceback.extract_tb(tb) if f.filename != _RUNTIME_FILE]
    return traceback.format_list(frames)


def _get_handler(handler: str):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(
            "Runtime.MalformedHandlerName", f"Bad handler '{handler}': {e}"
        ) from None
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                "Runtime.BuiltInModuleConflict",
                f"Cannot use built-in module {modname} as a handler module",
            )
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(
            "Runtime.ImportModuleError", f"Unable to import module '{modname}': {e}"
        ) from None
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}']
        raise FaultException(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {e}", trace
        ) from None
    try:
        return getattr(module, fname)
    except AttributeError:
        raise FaultException(
            "Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'"
        ) from None


# --- marshalling -----------------------------------------------------------------------------

def _default(obj):
    import decimal

    if isinstance(obj, decimal.Decimal):  # the runtime writes Decimals as JSON numbers
        if obj.is_nan():
            return float("nan")
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_ENSURE_ASCII = os.environ.get("AWS_EXECUTION_ENV", "") not in {
    "AWS_Lambda_python3.12", "AWS_Lambda_python3.13", "AWS_Lambda_python3.14",
    "AWS_Lambda_python3.15",
}


def marshal(response) -> bytes:
    if isinstance(response, bytes):
        return response
    try:
        return json.dumps(response, default=_default, ensure_ascii=_ENSURE_ASCII,
                          allow_nan=True).encode("utf-8")
    except Exception as e:
        raise FaultException(
            "Runtime.MarshalError", f"Unable to marshal response: {e}", None
        ) from None


# --- context -----------------------------------------------------------------------------------

class _Obj:
    def __init__(self, values: dict, fields: tuple[str, ...]) -> None:
        for name in fields:
            setattr(self, name, values.get(name))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({vars(self)})"


class LambdaContext:
    def __init__(self, invoke_id, client_context, deadline_ms, invoked_function_arn) -> None:
        self.aws_request_id = invoke_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = None
        self.identity = None
        self.client_context = None
        if client_context is not None:
            self.client_context = _Obj(client_context, ("custom", "env", "client"))
            if isinstance(self.client_context.client, dict):
                self.client_context.client = _Obj(
                    self.client_context.client,
                    ("installation_id", "app_title", "app_version_name", "app_version_code",
                     "app_package_name"),
                )
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        delta = self._deadline_ms - int(time.time() * 1000)
        return delta if delta > 0 else 0

    def log(self, msg) -> None:
        _log(str(msg))

    def __repr__(self) -> str:
        return (f"LambdaContext([aws_request_id={self.aws_request_id},"
                f"function_name={self.function_name},"
                f"invoked_function_arn={self.invoked_function_arn}])")


# --- main loop -------------------------------------------------------------------------------

def _rss_mb() -> int:
    """Peak RSS in MB. VmHWM belongs to this program's memory; ru_maxrss would still count the
    local cloud's pages from before exec (Linux keeps it across exec)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return -(-int(line.split()[1]) // 1024)
    except (OSError, ValueError, IndexError):
        pass
    return -(-resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)


def _handle(request_handler, header: dict, body: bytes) -> None:
    global _request_id
    invoke_id = header["id"]
    _request_id = invoke_id
    error = None
    payload = b""
    try:
        context = LambdaContext(invoke_id, header.get("cc"), header["deadline"], header["arn"])
        try:
            event = json.loads(body)
        except Exception as e:
            raise FaultException(
                "Runtime.UnmarshalError", f"Unable to unmarshal input: {e}", None
            ) from None
        response = request_handler(event, context)
        payload = marshal(response)
    except FaultException as e:
        error = make_error(e.msg, e.exception_type, e.trace, invoke_id)
    except Exception:
        etype, value, tb = sys.exc_info()
        error = make_error(str(value), etype.__name__, _user_frames(tb), invoke_id)
    sys.stdout.flush()
    sys.stderr.flush()
    if error is not None:
        log_error(error)
        payload = json.dumps(error).encode()
    _send({"t": "result", "error": error is not None, "rss": _rss_mb()}, payload)


def set_sys_path() -> None:
    """``sys.path`` as AWS's ``/var/runtime/bootstrap.py`` builds it (``set_default_sys_path``,
    ``add_default_site_directories``, ``set_default_pythonpath``), on top of what the
    interpreter gave ``-S`` (PYTHONPATH's entries, then the standard library).

    Without PYTHONPATH: task root, layers (``/opt/python/lib/python3.X/site-packages`` then
    ``/opt/python``, X being the function's runtime's), the runtime's packages,
    ``LAMBDA_RUNTIME_DIR``, the standard library; ``.pth`` files of the task root and the
    layers are processed (``site.addsitedir``), and PYTHONPATH is set to
    ``LAMBDA_RUNTIME_DIR``. With a PYTHONPATH in the function's configuration only the task
    root (and the runtime directory, where AWS has the bootstrap's own directory) go in front
    of its entries, and the runtime's packages stay at the end, where the interpreter's own
    site-packages are."""
    import site

    task_root = os.environ["LAMBDA_TASK_ROOT"]
    runtime_dir = os.environ["LAMBDA_RUNTIME_DIR"]
    runtime_site = os.path.join(runtime_dir, "site-packages")
    version = os.environ.get("AWS_EXECUTION_ENV", "").rpartition("_")[2]  # "python3.12"
    if not version.startswith("python"):
        version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    opt_python = os.path.join(_OPT, "python")
    opt_site = os.path.join(opt_python, "lib", version, "site-packages")
    pythonpath_set = "PYTHONPATH" in os.environ
    interpreter_path = list(sys.path)
    if pythonpath_set:
        sys.path[:] = [task_root, runtime_dir, *interpreter_path, runtime_site]
    else:
        sys.path[:] = [task_root, opt_site, opt_python, runtime_site, runtime_dir,
                       *interpreter_path, runtime_site]
    site.addsitedir(task_root)
    if not pythonpath_set:
        site.addsitedir(opt_site)
        site.addsitedir(opt_python)
        os.environ["PYTHONPATH"] = runtime_dir


def main() -> None:
    _die_with_parent()
    set_sys_path()
    sys.meta_path.insert(0, _BotocoreHook())
    sys.stdout = _LineStream("<stdout>")
    sys.stderr = _LineStream("<stderr>")
    error = None
    try:
        _setup_logging()
        request_handler = _get_handler(os.environ["_HANDLER"])
    except FaultException as e:
        error = make_error(e.msg, e.exception_type, e.trace)
    except Exception:
        etype, value, tb = sys.exc_info()
        error = make_error(str(value), etype.__name__, _user_frames(tb))
    sys.stdout.flush()
    sys.stderr.flush()
    if error is not None:
        _warn_unhandled()
        log_error(error)
        _send({"t": "init_error", "rss": _rss_mb()}, json.dumps(error).encode())
        os._exit(1)
    _send({"t": "ready", "rss": _rss_mb()})
    while True:
        header, body = _recv()
        _handle(request_handler, header, body)


if __name__ == "__main__":
    main()

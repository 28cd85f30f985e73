"""The tests keep their own rules: each says what it checks, and every wait is in the one unit.

As python-websockets writes its tests: one time unit scaled from the environment
(``tests/timing.py``), a one-sentence docstring per test saying the behaviour, a name that says
the behaviour. These checks read every module of ``tests/`` with ``ast``, so a new test that
forgets a docstring, or waits a bare ``time.sleep(0.5)``, fails here with its file and line.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.timing import FACTOR_VARIABLE, milliseconds, timeout_factor, whole_seconds

TESTS = Path(__file__).resolve().parent
MODULES = sorted(p for p in TESTS.rglob("*.py") if p.name != "timing.py")
TEST_MODULES = [p for p in MODULES if p.name.startswith("test_")]

# A keyword argument, parameter or module constant with one of these names is a duration.
DURATION_NAME = re.compile(r"(?i)timeout|(^|_)s$|^settle|deadline")
CLOCKS = {"monotonic", "perf_counter"}  # time.monotonic(), time.perf_counter()
SLEEPS = {"sleep"}  # time.sleep, asyncio.sleep
TIMEOUT_CALLS = {"timeout"}  # asyncio.timeout
WAITS = {"join", "wait"}  # Thread.join(5), Popen.wait(5)
# A lifetime (a token's ``ttl_s``) is not a wait: it is compared with the wall clock when the
# thing is checked, and nothing sleeps on it. One of a minute or more outlasts any step of a
# test on any machine, so it needs no unit; a shorter one could run out while a slow machine
# works, which makes it a hidden deadline, and it is checked like any other duration.
LIFETIME_NAME = re.compile(r"(?i)ttl")
LONG_LIFETIME = 60  # seconds; a threshold the checker compares with, not a wait

# Named exceptions, each with its reason: (module, test) -> why a bare number is right there.
EXEMPT = {
    ("unit/test_aws_paths.py", "test_create_function_gives_up_once_its_deadline_passes"):
        "a fake clock: the deadline is virtual seconds and nothing waits",
    ("unit/test_gateway_limits_defaults.py", "test_a_cloud_s_settings_default_to_those_limits"):
        "AWS's quotas, compared as values: nothing waits on them",
    ("integration/test_deployments.py", "test_deployment_is_a_snapshot_until_redeployed"):
        "a setting read back from a stored deployment: nothing waits on it",
    ("unit/test_handlers_authorizer.py", "test_the_sdk_timeouts_fit_in_the_functions_time"):
        "botocore's own backoff bound added to its settings, compared as values: nothing waits",
}


def relative(path: Path) -> str:
    return path.relative_to(TESTS).as_posix()


def collected_tests(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The test functions pytest collects from a module: top level and in Test* classes."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith(
                "test"):
            yield node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            yield from (n for n in node.body if isinstance(n, (ast.FunctionDef,
                                                                ast.AsyncFunctionDef))
                        and n.name.startswith("test"))


def is_literal(node: ast.AST | None) -> bool:
    """A number written out (``5``, ``-1``, ``0.5 * 2``): nothing in it is the unit."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp):
        return is_literal(node.operand)
    if isinstance(node, ast.BinOp):
        return is_literal(node.left) and is_literal(node.right)
    return False


def is_long_lifetime(name: str, value: ast.AST) -> bool:
    """``ttl_s=3600``: a lifetime of at least a minute, written out (see LIFETIME_NAME)."""
    if not (LIFETIME_NAME.search(name) and is_literal(value)):
        return False
    seconds = eval(compile(ast.Expression(value), "<literal>", "eval"))  # numbers and + - * /
    return seconds >= LONG_LIFETIME


def is_duration(name: str, value: ast.AST | None) -> bool:
    """A duration's name holding a number written out, and not a long lifetime."""
    return bool(DURATION_NAME.search(name)) and is_literal(value) and not is_long_lifetime(
        name, value)


def called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def is_clock(node: ast.AST) -> bool:
    """A read of a monotonic clock: ``time.monotonic()``, ``loop.time()`` (not the wall clock
    ``time.time()``, which the tests read for timestamps, never to wait)."""
    if not (isinstance(node, ast.Call) and not node.args):
        return False
    name = called_name(node)
    return name in CLOCKS or name == "time" and not (
        isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "time")


def reads_a_clock(node: ast.AST) -> bool:
    return any(is_clock(n) for n in ast.walk(node))


def literal_waits(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, what) for every wait, timeout, deadline or time bound written as a bare number."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name, args = called_name(node), node.args
            if name in SLEEPS and args and is_literal(args[0]) and not (
                    isinstance(args[0], ast.Constant) and args[0].value == 0):  # sleep(0) yields
                yield node.lineno, f"{name}({ast.unparse(args[0])})"
            if name in TIMEOUT_CALLS and args and is_literal(args[0]):
                yield node.lineno, f"{name}({ast.unparse(args[0])})"
            if name == "wait_for" and len(args) > 1 and is_literal(args[1]):
                yield node.lineno, f"wait_for(..., {ast.unparse(args[1])})"
            if name in WAITS and args and is_literal(args[0]):
                yield node.lineno, f"{name}({ast.unparse(args[0])})"
            if name == "select" and len(args) > 3 and is_literal(args[3]):
                yield node.lineno, f"select(..., {ast.unparse(args[3])})"
            if name == "create_connection" and len(args) > 1 and is_literal(args[1]):
                yield node.lineno, f"create_connection(..., {ast.unparse(args[1])})"
            for keyword in node.keywords:
                if keyword.arg and is_duration(keyword.arg, keyword.value):
                    yield node.lineno, f"{keyword.arg}={ast.unparse(keyword.value)}"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            positional = arguments.posonlyargs + arguments.args
            pairs = list(zip(positional[len(positional) - len(arguments.defaults):],
                             arguments.defaults, strict=True))
            pairs += [(a, d) for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults,
                                             strict=True) if d]
            for arg, default in pairs:
                if is_duration(arg.arg, default):
                    yield node.lineno, f"{node.name}({arg.arg}={ast.unparse(default)})"
        elif isinstance(node, ast.Assign) and is_literal(node.value):
            for target in node.targets:
                if isinstance(target, ast.Name) and is_duration(target.id, node.value):
                    yield node.lineno, f"{target.id} = {ast.unparse(node.value)}"
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and (
                reads_a_clock(node.left) and is_literal(node.right)
                or reads_a_clock(node.right) and is_literal(node.left)):
            yield node.lineno, f"deadline {ast.unparse(node)}"
        elif isinstance(node, ast.Compare) and reads_a_clock(node):
            for side in (node.left, *node.comparators):
                if is_literal(side):
                    yield node.lineno, f"time bound {ast.unparse(node)}"
                    break


def exempt_lines(path: Path, tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for function in collected_tests(tree):
        if (relative(path), function.name) in EXEMPT:
            lines |= set(range(function.lineno, (function.end_lineno or function.lineno) + 1))
    return lines


def checks_something(function: ast.AST) -> bool:
    """An ``assert``, ``pytest.raises``/``fail`` or an ``assert_*`` call anywhere in the test
    (nested scenario coroutines included)."""
    for node in ast.walk(function):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call) and (called_name(node) in ("raises", "fail")
                                           or called_name(node).startswith("assert")):
            return True
    return False


@pytest.mark.parametrize("path", TEST_MODULES, ids=relative)
def test_every_test_has_a_docstring_saying_its_behaviour(path: Path) -> None:
    """A test without a docstring (or with an empty one) fails, naming its file and line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    missing = [f"{relative(path)}:{f.lineno} {f.name}" for f in collected_tests(tree)
               if not (ast.get_docstring(f) or "").strip()]
    assert missing == [], "tests without a docstring:\n" + "\n".join(missing)


@pytest.mark.parametrize("path", TEST_MODULES, ids=relative)
def test_every_test_name_is_a_phrase_not_a_topic(path: Path) -> None:
    """A test named by two words or fewer (``test_context_object``) names a topic, not what
    should happen; it fails here."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    topics = [f"{relative(path)}:{f.lineno} {f.name}" for f in collected_tests(tree)
              if len(f.name.removeprefix("test_").split("_")) < 3]
    assert topics == [], "tests named by a topic:\n" + "\n".join(topics)


@pytest.mark.parametrize("path", TEST_MODULES, ids=relative)
def test_every_test_checks_something(path: Path) -> None:
    """A test with no assert, no pytest.raises and no assert_* call cannot fail on a wrong
    result; it fails here."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    idle = [f"{relative(path)}:{f.lineno} {f.name}" for f in collected_tests(tree)
            if not checks_something(f)]
    assert idle == [], "tests that check nothing:\n" + "\n".join(idle)


@pytest.mark.parametrize("path", MODULES, ids=relative)
def test_every_wait_is_written_in_the_time_unit(path: Path) -> None:
    """A sleep, timeout, deadline, shrunk limit or time bound written as a bare number (not a
    multiple of ``tests.timing.SECOND``) fails here, so the timeout factor scales them all."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    exempt = exempt_lines(path, tree)
    found = [f"{relative(path)}:{line} {what}" for line, what in literal_waits(tree)
             if line not in exempt]
    assert found == [], ("waits written as bare numbers (multiply by tests.timing.SECOND):\n"
                         + "\n".join(found))


def test_the_checker_finds_each_kind_of_literal_wait() -> None:
    """Each form of a wait the checker knows, written as a bare number, is reported (a token
    lifetime under a minute included), and the same waits written in the unit are not, nor
    lifetimes of a minute or more."""
    bare = ast.parse("""
import asyncio, select, socket, time
WAIT_S = 15.0
def helper(timeout=5.0, *, settle_s=0.2): ...
async def scenario(ws, thread, proc, sock):
    time.sleep(0.5)
    await asyncio.sleep(1)
    async with asyncio.timeout(10):
        await asyncio.wait_for(ws.recv(), 2)
    await connect(url, open_timeout=20)
    LocalCloud(lambda_idle_timeout_s=0.5)
    GatewayLimits(idle_timeout_s=1.0, integration_timeout_s=-0.5 * 2)
    client.update_integration(TimeoutInMillis=500)
    thread.join(5)
    proc.wait(5)
    select.select([sock], [], [], 0.1)
    socket.create_connection(address, 5)
    deadline = time.monotonic() + 10
    assert time.monotonic() - started < 2.5
    mint_token(SECRET, "alice", ttl_s=5)
""")
    reported = [what for _, what in literal_waits(bare)]
    assert len(reported) == 19, reported
    scaled = ast.parse("""
import asyncio, time
from tests.timing import SECOND
WAIT_S = 15 * SECOND
def helper(timeout=5 * SECOND, *, settle_s=0.2 * SECOND): ...
async def scenario(ws, thread):
    time.sleep(0.5 * SECOND)
    await asyncio.sleep(0)
    async with asyncio.timeout(10 * SECOND):
        await asyncio.wait_for(ws.recv(), WAIT_S)
    thread.join(WAIT_S)
    GatewayLimits(frame_bytes=1024, idle_timeout_s=LIMIT * 2)
    deadline = time.monotonic() + WAIT_S
    assert time.monotonic() - started < 2.5 * SECOND
    assert ", ".join(["a", "b"]) and sorted([3, 1]) == [1, 3]
    mint_token(SECRET, "alice", ttl_s=60)
    TOKEN_TTL_S = 24 * 3600
def sign(name, ttl_s=3600): ...
""")
    assert list(literal_waits(scaled)) == []


def test_the_checker_finds_tests_that_check_nothing() -> None:
    """A test body with only calls is reported; asserts, pytest.raises and assert_* calls in
    the body or in a nested scenario count as checks."""
    tree = ast.parse("""
def test_quiet(iam):
    iam.create_policy(PolicyName="p")
def test_assert():
    assert 1
def test_raises():
    with pytest.raises(ValueError):
        int("x")
def test_nested():
    async def scenario():
        assert await thing()
    run(scenario())
def test_stubber(stub):
    stub.assert_no_pending_responses()
""")
    verdicts = {f.name: checks_something(f) for f in collected_tests(tree)}
    assert verdicts == {"test_quiet": False, "test_assert": True, "test_raises": True,
                        "test_nested": True, "test_stubber": True}


@pytest.mark.parametrize(("value", "factor"), [(None, 1.0), ("", 1.0), ("2", 2.0),
                                               (" 2.5 ", 2.5), ("0.5", 0.5)])
def test_the_factor_comes_from_the_environment(value: str | None, factor: float) -> None:
    """WORKSHOP_TESTS_TIMEOUT_FACTOR scales the unit; unset or empty means 1."""
    environ = {} if value is None else {FACTOR_VARIABLE: value}
    assert timeout_factor(environ) == factor


@pytest.mark.parametrize("value", ["two", "0", "-1", "nan", "inf"])
def test_a_factor_that_is_not_a_positive_number_is_refused_with_the_fix(value: str) -> None:
    """A factor that is not a positive finite number stops the suite with one line naming the
    variable and the values to use."""
    with pytest.raises(ValueError) as refused:
        timeout_factor({FACTOR_VARIABLE: value})
    message = str(refused.value)
    assert message.startswith(f"{FACTOR_VARIABLE}={value!r} is not a positive number")
    assert "2 or 3 on a slow machine" in message and "\n" not in message


def test_aws_settings_get_whole_units_of_the_scaled_time() -> None:
    """Lambda's Timeout gets whole seconds rounded up, at least 1; TimeoutInMillis gets whole
    milliseconds."""
    assert [whole_seconds(s) for s in (0.2, 1.0, 1.5, 3.0, 10.0)] == [1, 1, 2, 3, 10]
    assert [milliseconds(s) for s in (0.05, 0.5, 1.25)] == [50, 500, 1250]

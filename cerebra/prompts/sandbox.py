"""The sandboxed Jinja2 environment user templates run in, and its errors as CerebraErrors.

Templates are user input (stored over the API, rewritten by a model), so they compile in an
ImmutableSandboxedEnvironment with StrictUndefined: attribute access to internals
(`''.__class__.__mro__`, `func.__globals__`), mutating calls and unknown variables are
refused. Work is bounded too: `range` shares one iteration budget per render, `*` and `**`
cannot build huge values, and the output stops at `MAX_OUTPUT_CHARS`. Every refusal is an
InvalidInput (422) naming the template and what was refused; `check_source` finds the
dunder attribute accesses and syntax errors before a template is stored.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from cerebra.errors import InvalidInput

MAX_SOURCE_CHARS = 50_000
MAX_OUTPUT_CHARS = 200_000
MAX_ITERATIONS = 100_000  # every range() of one render together
MAX_VALUE_SIZE = 100_000  # characters or items a `*` may build; `**` results likewise


class TemplateSandboxError(InvalidInput):
    """A template tried something the sandbox refuses (an escape, a runaway computation)."""

    code = "template_sandbox"


class TemplateVariableMissing(InvalidInput):
    """A variable the template reads was not given (StrictUndefined)."""

    code = "template_variable_missing"


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_ITERATIONS

    def take(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise SecurityError(f"more than {MAX_ITERATIONS} loop iterations")


class PromptSandbox(ImmutableSandboxedEnvironment):
    """ImmutableSandboxedEnvironment with StrictUndefined and bounded `*`, `**` and range."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > 64:
                raise SecurityError("an exponent above 64 is refused")
            return operator.pow(left, right)
        if isinstance(left, str | list | tuple) and isinstance(right, int):
            size = len(left) * right
        elif isinstance(right, str | list | tuple) and isinstance(left, int):
            size = len(right) * left
        else:
            size = 0
        if size > MAX_VALUE_SIZE:
            raise SecurityError(f"a value of more than {MAX_VALUE_SIZE} items is refused")
        return operator.mul(left, right)


def _budgeted_range(*args: int) -> range:
    raise SecurityError("range() is only available while rendering")  # replaced per render


@lru_cache(maxsize=1)
def environment() -> PromptSandbox:
    """The sandbox: user templates compile and render only here (no loader: a template
    cannot include or extend files)."""
    env = PromptSandbox(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.globals["range"] = _budgeted_range
    env.globals.pop("lipsum", None)  # unbounded text on demand
    return env


def render_globals() -> dict[str, Any]:
    """Per-render globals: a range() that draws on this render's iteration budget."""
    budget = _Budget()

    def budgeted_range(*args: int) -> range:
        values = range(*args)
        budget.take(len(values))
        return values

    return {"range": budgeted_range}


_UNDEFINED = re.compile(r"^'([^']+)' is undefined$")
_NO_ATTRIBUTE = re.compile(r"has no attribute '([^']+)'")


def translate(error: Exception, template: str) -> InvalidInput:
    """A Jinja error while compiling or rendering `template` as the 422 the caller gets."""
    if isinstance(error, SecurityError):
        return TemplateSandboxError(
            f"template {template!r}: the sandbox refused it: {error}", field="template")
    if isinstance(error, jinja2.UndefinedError):
        text = str(error)
        found = _UNDEFINED.match(text) or _NO_ATTRIBUTE.search(text)
        name = found.group(1) if found else ""
        if name.startswith("_"):
            return TemplateSandboxError(
                f"template {template!r}: the sandbox refused access to {name!r}",
                field="template", attribute=name)
        return TemplateVariableMissing(
            f"template {template!r} needs the variable {name!r}, which was not given"
            if name else f"template {template!r}: {text}",
            field=f"variables.{name}" if name else "variables", variable=name)
    if isinstance(error, jinja2.TemplateSyntaxError):
        return InvalidInput(
            f"template {template!r} has a syntax error on line {error.lineno}: {error.message}",
            field="source")
    if isinstance(error, RecursionError | OverflowError | MemoryError):
        return TemplateSandboxError(
            f"template {template!r}: the sandbox refused it: {type(error).__name__}",
            field="template")
    return InvalidInput(f"template {template!r} failed to render: {error}", field="template")


def _unsafe_names(tree: nodes.Template) -> list[str]:
    found: list[str] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            attr = node.attr
        elif (isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const)
              and isinstance(node.arg.value, str)):
            attr = node.arg.value
        else:
            continue
        if attr.startswith("_"):
            found.append(attr)
    return found


def check_source(source: str, template: str) -> frozenset[str]:
    """Refuse a template that cannot be stored (too long, a syntax error, an attribute access
    to internals); return the variables it reads."""
    if not isinstance(source, str) or not source.strip():
        raise InvalidInput("a template needs some text", field="source")
    if len(source) > MAX_SOURCE_CHARS:
        raise InvalidInput(f"a template may have at most {MAX_SOURCE_CHARS} characters",
                           field="source")
    env = environment()
    try:
        tree = env.parse(source)
    except jinja2.TemplateSyntaxError as error:
        raise translate(error, template) from None
    unsafe = list(dict.fromkeys(reversed(_unsafe_names(tree))))  # in source order
    if unsafe:
        raise TemplateSandboxError(
            f"template {template!r}: the sandbox refuses access to "
            f"{', '.join(repr(name) for name in unsafe)} "
            "(attributes starting with an underscore are internals)", field="source",
            attribute=unsafe[0])
    return frozenset(meta.find_undeclared_variables(tree)) - set(env.globals)


def compile_source(source: str, template: str) -> jinja2.Template:
    """`source` compiled in the sandbox, after the checks of `check_source` (a 422 naming
    `template`), so a folder's file is held to what a stored template is."""
    check_source(source, template)
    try:
        return environment().from_string(source)
    except jinja2.TemplateSyntaxError as error:
        raise translate(error, template) from None


def stream(template: jinja2.Template, name: str, variables: dict[str, Any]) -> Iterator[str]:
    """Render `template` chunk by chunk in the sandbox, with errors as 422s naming `name`."""
    written = 0
    try:
        for chunk in template.generate({**variables, **render_globals()}):
            written += len(chunk)
            if written > MAX_OUTPUT_CHARS:
                raise SecurityError(f"more than {MAX_OUTPUT_CHARS} characters of output")
            yield chunk
    except InvalidInput:
        raise
    except (jinja2.TemplateError, RecursionError, OverflowError, MemoryError) as error:
        raise translate(error, name) from None
    except (TypeError, ValueError, ZeroDivisionError, KeyError, IndexError) as error:
        raise InvalidInput(f"template {name!r} failed to render: {error}",
                           field="template") from None

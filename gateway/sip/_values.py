"""Building frozen, slotted dataclass values on the parsers' hot paths.

A frozen dataclass ``__init__`` stores each field through ``object.__setattr__``, which costs
about as much as the rest of parsing a short header.  The parsers build values only from text
they have already validated, so they use a constructor that skips ``__init__``: the fields are
stored on an instance of a private twin class with the same bases and slots (plain, fast slot
stores), and the instance then becomes an instance of the frozen class (``__class__``
assignment, which CPython allows between classes of identical layout).  The result is
indistinguishable from one built by ``__init__`` and frozen from the moment it is returned.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from gateway.sip.grammar import Params

T = TypeVar("T")


def unchecked_constructor(cls: type[T], only: Sequence[str] | None = None) -> Callable[..., T]:
    """A function taking every field of ``cls`` positionally, in declaration order.

    No defaults, no ``__post_init__``: the caller passes validated values for all fields.
    ``cls`` must be a ``@dataclass(frozen=True, slots=True)``.  With ``only``, the function
    takes just those fields and leaves the others unset, for a class whose ``__getattr__``
    computes them on first use (see :class:`gateway.sip.headers.Headers`).
    """
    names = [field.name for field in dataclasses.fields(cls)]  # type: ignore[arg-type]
    if only is not None:
        names = [name for name in names if name in only]
    twin = type(f"_{cls.__name__}Builder", cls.__bases__, {"__slots__": cls.__dict__["__slots__"]})
    twin().__class__ = cls  # fails at import time, not per message, if the layouts differ
    namespace: dict[str, Any] = {"new": object.__new__, "twin": twin, "cls": cls}
    lines = [f"def build({', '.join(names)}):", "    obj = new(twin)"]
    lines += [f"    obj.{name} = {name}" for name in names]
    lines += ["    obj.__class__ = cls", "    return obj"]
    exec("\n".join(lines) + "\n", namespace)  # the technique dataclasses uses for __init__
    build: Callable[..., T] = namespace["build"]
    return build


NO_PARAMS = Params()


def params_on_first_read(value: Any, name: str) -> Params:
    """``__getattr__`` of a value whose ``params`` slot a fast parser left unset, keeping the
    validated text in ``_params_text``: split it now, store it, return it."""
    text = value._params_text
    if name != "params" or text is None:
        raise AttributeError(name)
    params = split_checked_params(text)
    object.__setattr__(value, "params", params)
    return params


def split_checked_params(text: str) -> Params:
    """``;a=b;c`` -> ``Params((("a", "b"), ("c", None)))`` for text a pattern has validated.

    The caller guarantees that names and values hold no ';' or '=' (tokens, hosts, ports, URI
    paramchars without escapes).  Plain partitioning beats a regex here: lists are short.
    """
    if not text:
        return NO_PARAMS
    items: list[tuple[str, str | None]] = []
    for item in text[1:].split(";"):
        name, equals, value = item.partition("=")
        items.append((name, value if equals else None))
    return Params(items)

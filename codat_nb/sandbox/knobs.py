"""Knobs: settings declared once, as class attributes, and checked on every assignment.

A ``Knob`` carries its kind (which values it takes, and how to read one from the command line),
its default and a line of help. Everything else is derived from the declarations: validation on
set (so ``error_rate=5`` fails loudly instead of meaning "always"), the keyword options of
``Sandbox(...)`` and the ``codat-nb sandbox`` flags. A knob can be set at any time, also while
requests are being served; ``on_change`` lets a setting take effect at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Kind:
    """The values a knob takes. ``check`` returns the value to store, ``parse`` reads command-line
    text (``None``: an on/off flag); both raise ValueError("must be ...") without the name.
    ``metavar`` names the value in ``--help``."""

    check: Callable[[Any], Any]
    parse: Callable[[str], Any] | None
    metavar: str = ""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _parse_number(text: str) -> int | float:
    """An int where the text is one (so messages echo ``-5``, not ``-5.0``); inf and nan refused."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"must be a number, got {text!r}")
    return value


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"must be an int, got {text!r}") from None


def _check_flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be True or False, got {value!r}")
    return value


def _check_fraction(value: object) -> float:
    if not _is_number(value) or not 0 <= value <= 1:  # type: ignore[operator]
        raise ValueError(f"must be between 0 and 1, got {value!r}")
    return float(value)  # type: ignore[arg-type]


FLAG = Kind(_check_flag, None)
FRACTION = Kind(_check_fraction, _parse_number, "0..1")


def number(minimum: float = 0) -> Kind:
    """A finite float >= ``minimum`` (an int is accepted and stored as a float)."""

    def check(value: object) -> float:
        if not _is_number(value) or not value >= minimum:  # type: ignore[operator]
            raise ValueError(f"must be a number >= {minimum:g}, got {value!r}")
        if math.isinf(value):  # type: ignore[arg-type]
            raise ValueError(f"must be finite, got {value!r}")
        return float(value)  # type: ignore[arg-type]

    return Kind(check, _parse_number, "NUMBER")


def count(minimum: int) -> Kind:
    """An int >= ``minimum`` (bools and floats refused)."""

    def check(value: object) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"must be an int >= {minimum}, got {value!r}")
        return value

    return Kind(check, _parse_int, "INT")


def optional(kind: Kind) -> Kind:
    """``kind`` or None (``none`` on the command line; an on/off flag given neither way)."""
    parse = kind.parse
    if parse is None:
        return Kind(lambda value: None if value is None else kind.check(value), None)
    return Kind(
        lambda value: None if value is None else kind.check(value),
        lambda text: None if text.lower() == "none" else parse(text),
        f"{kind.metavar}|none",
    )


class Knob:
    """One setting, declared as a class attribute; the value lives in the instance."""

    def __init__(
        self,
        kind: Kind,
        default: Any,
        help: str,
        *,
        on_change: Callable[[Any], None] | None = None,
    ):
        self.kind = kind
        self.default = default
        self.help = help
        self.on_change = on_change
        self.name = ""
        self.__doc__ = f"{help} (default {default!r})"  # what help(Faults) shows for the knob

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.__dict__[self.name]

    def __set__(self, obj: object, value: Any) -> None:
        obj.__dict__[self.name] = self.check(value)
        if self.on_change is not None:
            self.on_change(obj)

    def check(self, value: Any) -> Any:
        """The value as it would be stored, or a ValueError naming the knob."""
        try:
            return self.kind.check(value)
        except ValueError as exc:
            raise ValueError(f"{self.name} {exc}") from None

    def parse(self, text: str) -> Any:
        """A command-line value, checked; ValueError (without the name) if it is not one."""
        assert self.kind.parse is not None, f"{self.name} is a flag: it takes no value"
        return self.kind.check(self.kind.parse(text))


def knobs(owner: type) -> dict[str, Knob]:
    """The knobs ``owner`` declares, in declaration order."""
    return {name: value for name, value in vars(owner).items() if isinstance(value, Knob)}


def configure(obj: object, options: Mapping[str, Any]) -> None:
    """Set every knob of ``obj`` from ``options``, or to its default where not given."""
    declared = knobs(type(obj))
    refuse_unknown(f"{type(obj).__name__}()", options, declared)
    for name, knob in declared.items():
        setattr(obj, name, options.get(name, knob.default))


def refuse_unknown(caller: str, given: Iterable[str], valid: Iterable[str]) -> None:
    """TypeError naming the first unknown option and listing the valid ones (a typo must not
    be silently ignored)."""
    valid = list(valid)
    unknown = [name for name in given if name not in valid]
    if unknown:
        raise TypeError(
            f"{caller} got an unknown option {unknown[0]!r}; the options are: {', '.join(valid)}"
        )

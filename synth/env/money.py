"""Money kept in cents: how families show it to the model and read it back from an answer."""

from __future__ import annotations

import re

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_SIGNED = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def money(cents: float) -> str:
    """`$1,234.56`: how an amount is written in prompts, tool errors and answers."""
    return f"${cents / 100:,.2f}"


def dollars(cents: int) -> float:
    """The amount as a JSON number of dollars (what tools return)."""
    return round(cents / 100, 2)


def numbers_in(text: str, *, signed: bool = False, skip_dates: bool = False) -> list[float]:
    """Every number in free text, thousands separators allowed (`1,234.5`); with `signed` a
    leading minus counts, with `skip_dates` the parts of YYYY-MM-DD dates are not numbers."""
    if skip_dates:
        text = _DATE.sub(" ", text)
    pattern = _SIGNED if signed else _NUMBER
    return [float(m.replace(",", "")) for m in pattern.findall(text)]


def cents_in(text: str, *, signed: bool = False, skip_dates: bool = False) -> list[int]:
    """Every number in free text read as dollars, in cents (see `numbers_in`)."""
    return [round(x * 100) for x in numbers_in(text, signed=signed, skip_dates=skip_dates)]

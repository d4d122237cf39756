"""How the report documents show a figure: one formatter per kind, shared by the HTML, the PDF and their tests.

Every figure is formatted here and nowhere else, so the HTML and the PDF say exactly the same thing
and a test can format the report JSON's value the same way and look for it in the document.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from typing import Any

NOT_KNOWN = "n/a"
DASH = "–"  # en dash between the ends of an interval


def _finite(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(float(x))


def count(x: Any) -> str:
    """An integer with thousands separators: 3,990."""
    return f"{int(x):,}" if _finite(x) else NOT_KNOWN


def money_digits(x: float) -> int:
    """Decimals for an amount: 2 from 1 up, else enough for 3 significant digits (0.00744)."""
    if x == 0 or abs(x) >= 1:
        return 2
    return max(2, 2 - math.floor(math.log10(abs(x))))


def amount(x: Any) -> str:
    """An amount without its currency: 6.57, 1,234.50, 0.00744."""
    if not _finite(x):
        return NOT_KNOWN
    return f"{float(x):,.{money_digits(float(x))}f}"


def money(x: Any, currency: str) -> str:
    """An amount with its currency: 6.57 USD (the currency as the data gives it)."""
    text = amount(x)
    return f"{text} {currency}".strip() if text != NOT_KNOWN else NOT_KNOWN


def pct(x: Any, digits: int = 1) -> str:
    """A share as a percentage: 91.8 %."""
    return f"{100 * float(x):.{digits}f} %" if _finite(x) else NOT_KNOWN


def interval(low: Any, high: Any) -> str:
    """A 95 % interval of a share: 95 % CI 84.7–95.8 %."""
    if not (_finite(low) and _finite(high)):
        return "no interval"
    return f"95 % CI {100 * float(low):.1f}{DASH}{100 * float(high):.1f} %"


def number(x: Any, digits: int = 3) -> str:
    """A coefficient (alpha, kappa): 0.399."""
    return f"{float(x):.{digits}f}" if _finite(x) else NOT_KNOWN


def of(k: Any, n: Any, what: str) -> str:
    """The data behind a share: 90 of 98 control tasks."""
    return f"{count(k)} of {count(n)} {what}"


def date(value: Any) -> str:
    """A date-time as the documents show it: 2024-09-18 10:00 UTC (the text as given if unparsable)."""
    if value is None or value == "":
        return NOT_KNOWN
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M")

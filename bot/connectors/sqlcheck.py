"""What a query must look like before it reaches a database (pure).

The databases enforce read-only access themselves (a read-only transaction on PostgreSQL, a read-only
connection with an authorizer on SQLite, see sql.py); these checks come first so that Claude gets a
clear refusal instead of a driver error, and so a second statement never travels at all.
"""

from __future__ import annotations

import re

# Statements that read: anything else is refused before it is sent.
READING = ("select", "with", "values", "table")
_WORD = re.compile(r"[A-Za-z_]+")


class Refused(Exception):
    """A query the bot will not run; the message is the tool error Claude reads."""


def strip_comments_and_literals(sql: str, *, keep_literals: bool = False) -> str:
    """`sql` with comments removed and string/identifier literals blanked (or kept as they are)."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                raise Refused("the query has a comment that never ends (`/*` without `*/`)")
            out.append(" ")
            i = end + 2
        elif c in ("'", '"'):
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:  # '' or "" inside a literal
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                raise Refused("the query has a quote that is never closed")
            out.append(sql[i : j + 1] if keep_literals else c + c)
            i = j + 1
        elif c == "$" and (tag := re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", sql[i:])):
            # PostgreSQL dollar quoting: $$...$$ or $tag$...$tag$
            marker = tag.group(0)
            end = sql.find(marker, i + len(marker))
            if end < 0:
                raise Refused("the query has a dollar-quoted string that is never closed")
            out.append(sql[i : end + len(marker)] if keep_literals else "''")
            i = end + len(marker)
        else:
            out.append(c)
            i += 1
    return "".join(out)


def check_query(sql: str) -> str:
    """The query without a trailing `;`, or `Refused` with the reason."""
    if not sql.strip():
        raise Refused("the query is empty")
    bare = strip_comments_and_literals(sql).strip()
    body = bare.rstrip().rstrip(";").rstrip()
    if ";" in body:
        raise Refused("only one statement per call: split it into several calls")
    if not body:
        raise Refused("the query is empty")
    first = _WORD.match(body.lstrip("( \n\t"))
    keyword = first.group(0).lower() if first else ""
    if keyword not in READING:
        shown = keyword.upper() or body.split(None, 1)[0]
        raise Refused(
            f"this source is read-only: only SELECT (or WITH ... SELECT) queries are run, not {shown}"
        )
    # What is sent: without comments (a trailing `-- ...` after `;` would otherwise read as more
    # text after the statement) and without the trailing semicolon.
    return strip_comments_and_literals(sql, keep_literals=True).strip().rstrip(";").rstrip()

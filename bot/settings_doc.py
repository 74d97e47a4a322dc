"""The README's settings table, generated from `Settings` so that the two never drift apart."""

from __future__ import annotations

from bot.config import Settings, env_name


def settings_table() -> str:
    """The README's settings table, generated from `Settings` so the two never drift apart."""
    rows = ["| variable | default | what it does |", "|---|---|---|"]
    for name, info in Settings.model_fields.items():
        if info.is_required():
            default = "*(required)*"
        elif info.default_factory is not None:
            default = "*(empty)*"
        elif info.default is None:
            default = "*(unset)*"
        elif info.default == "":
            default = "*(empty)*"
        elif isinstance(info.default, list):
            default = f"`{','.join(info.default)}`"
        elif isinstance(info.default, bool):
            default = f"`{str(info.default).lower()}`"
        else:
            default = f"`{info.default}`"
        description = (info.description or "").replace("|", "\\|")
        rows.append(f"| `{env_name(name)}` | {default} | {description} |")
    return "\n".join(rows) + "\n"


README_START = "<!-- settings:start -->"
README_END = "<!-- settings:end -->"


def readme_with_settings(readme: str) -> str:
    """The README with its settings section replaced by the table generated from `Settings`."""
    head, start, rest = readme.partition(README_START)
    _, end, tail = rest.partition(README_END)
    if not start or not end:
        raise ValueError(f"the README has no {README_START} ... {README_END} section")
    return f"{head}{README_START}\n{settings_table()}{README_END}{tail}"

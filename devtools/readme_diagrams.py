"""Rewrite the README's machine diagrams from the declarations: `python -m devtools.readme_diagrams`."""

from __future__ import annotations

import sys
from pathlib import Path

from ecsops.cli.operations import BUILTIN, get_operation

START, END = "<!-- machines:start -->", "<!-- machines:end -->"


def diagrams_section() -> str:
    parts = [START]
    for name in sorted(BUILTIN):
        spec = get_operation(name)
        parts.append(f"### {name}\n\n```mermaid\n{spec.definition.mermaid()}```")
        if spec.item_definition is not None:
            noun = spec.extra.get("item_noun", "instance")
            parts.append(f"Each {noun} of a `{name}` run:\n\n```mermaid\n{spec.item_definition.mermaid()}```")
    parts.append(END)
    return "\n\n".join(parts)


def current_section(readme: str) -> str:
    start, end = readme.index(START), readme.index(END) + len(END)
    return readme[start:end]


def main() -> int:
    path = Path(__file__).resolve().parents[1] / "README.md"
    readme = path.read_text()
    path.write_text(readme.replace(current_section(readme), diagrams_section()))
    print(f"rewrote the machine diagrams in {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

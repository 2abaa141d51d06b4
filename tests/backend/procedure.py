"""Prints the shell commands a rendered README gives for one step of a procedure.

    python3 procedure.py README.md "Terraform state during an outage" "Switch back"

The step is the `### <step>` heading inside the `## <section>` heading; its commands are the one
```sh block under it. Exits non-zero when the section, the step or exactly one block is missing,
so a test that runs the documented commands cannot silently run nothing.
"""

import sys


def subsection(lines, level, title):
    """The lines under the heading `<level> <title>`, up to the next heading of that level or above."""
    heading = f"{level} {title}"
    try:
        start = [line.rstrip() for line in lines].index(heading) + 1
    except ValueError:
        sys.exit(f"no heading {heading!r}")
    body, fenced = [], False
    for line in lines[start:]:
        if line.lstrip().startswith("```"):
            fenced = not fenced
        hashes = len(line) - len(line.lstrip("#"))
        if not fenced and 0 < hashes <= len(level) and line[hashes : hashes + 1] == " ":
            break
        body.append(line)
    return body


def sh_blocks(lines):
    blocks, current = [], None
    for line in lines:
        fence = line.strip()
        if current is None and fence == "```sh":
            current = []
        elif current is not None and fence == "```":
            blocks.append(current)
            current = None
        elif current is not None:
            current.append(line)
    if current is not None:
        sys.exit("a ```sh block is not closed")
    return blocks


def main():
    if len(sys.argv) != 4:  # noqa: PLR2004
        sys.exit(__doc__)
    path, section, step = sys.argv[1:]
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    blocks = sh_blocks(subsection(subsection(lines, "##", section), "###", step))
    if len(blocks) != 1:
        sys.exit(f"{step!r} has {len(blocks)} ```sh blocks, not one")
    print("\n".join(blocks[0]))


if __name__ == "__main__":
    main()

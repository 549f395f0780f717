#!/usr/bin/env python3
"""Every C++ block of the README and the guide is code the build compiles.

A ```cpp block in README.md or docs/guide/*.md must come right after a marker line

    <!-- snippet: examples/guide/FILE.cpp NAME [NAME...] -->

and hold exactly the lines between `// [snippet:NAME]` and `// [/snippet]` in that file
(their common indentation removed); with several names, those regions in that order,
one blank line between them (an #include at the top of the file, then code from inside
a function). The files under examples/guide/ are compiled by the
build, and the complete programs run, so a block that stops compiling fails the tests.

    check_snippets.py ROOT            check (exit 1 with one line per problem)
    check_snippets.py ROOT --write    rewrite the blocks from the sources, then check
"""
import glob
import os
import re
import sys

MARKER = re.compile(r"^<!-- snippet: (\S+) ((?:\S+ )*\S+) -->\s*$")
BEGIN = re.compile(r"^\s*// \[snippet:([A-Za-z0-9_.-]+)\]\s*$")
END = re.compile(r"^\s*// \[/snippet\]\s*$")
# A C++ block however it is fenced (```cpp, ```c++, ~~~cc, ```cpp title=...): all checked.
FENCE = re.compile(r"^(```|~~~)\s*(cpp|c\+\+|cc|cxx|hpp|h)(?=$|[\s{])")


def regions(path):
    """NAME -> the region's lines, dedented; errors as a list of strings."""
    out, errors, name, lines = {}, [], None, []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f.read().split("\n"), 1):
            if BEGIN.match(line):
                if name:
                    errors.append(f"{path}:{number}: snippet {name} is not closed")
                name, lines = BEGIN.match(line).group(1), []
            elif END.match(line):
                if not name:
                    errors.append(f"{path}:{number}: [/snippet] without a start")
                    continue
                if name in out:
                    errors.append(f"{path}:{number}: snippet {name} twice")
                indent = min((len(l) - len(l.lstrip(" ")) for l in lines if l.strip()), default=0)
                out[name] = [l[indent:] for l in lines]
                name = None
            elif name:
                lines.append(line)
    if name:
        errors.append(f"{path}: snippet {name} is not closed")
    return out, errors


def check(root, write):
    errors = []
    pages = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "guide", "*.md")))
    cache = {}
    used = set()
    blocks = 0
    for page in pages:
        with open(page, encoding="utf-8") as f:
            text = f.read().split("\n")
        out = []
        i = 0
        changed = False
        while i < len(text):
            line = text[i]
            if FENCE.match(line.strip()):
                blocks += 1
                marker = MARKER.match(text[i - 1]) if i > 0 else None
                end = i + 1
                while end < len(text) and text[end].strip() not in ("```", "~~~"):
                    end += 1
                body = text[i + 1:end]
                where = f"{os.path.relpath(page, root)}:{i + 1}"
                if not marker:
                    errors.append(f"{where}: a cpp block without a <!-- snippet: FILE NAME --> line before it")
                    out.extend(text[i:end + 1])
                    i = end + 1
                    continue
                source, names = marker.group(1), marker.group(2).split()
                name = " ".join(names)
                path = os.path.join(root, source)
                if not re.fullmatch(r"examples/guide/[A-Za-z0-9_]+\.cpp", source):
                    errors.append(f"{where}: {source} is not a program under examples/guide/ (only those are built)")
                    out.extend(text[i:end + 1])
                    i = end + 1
                    continue
                if not os.path.isfile(path):
                    errors.append(f"{where}: {source} does not exist")
                    out.extend(text[i:end + 1])
                    i = end + 1
                    continue
                if path not in cache:
                    cache[path], errs = regions(path)
                    errors.extend(errs)
                region = []
                for n in names:
                    used.add((path, n))
                    part = cache[path].get(n)
                    if part is None:
                        region = None
                        break
                    region += ([""] if region else []) + part
                if region is None:
                    errors.append(f"{where}: {source} has no snippet {name}")
                    out.extend(text[i:end + 1])
                elif region != body:
                    if write:
                        out.extend([text[i]] + region + [text[end]])
                        changed = True
                    else:
                        errors.append(f"{where}: the block differs from {source} [{name}] "
                                      f"(run tests/docs/check_snippets.py . --write)")
                        out.extend(text[i:end + 1])
                else:
                    out.extend(text[i:end + 1])
                i = end + 1
                continue
            out.append(line)
            i += 1
        if write and changed:
            with open(page, "w", encoding="utf-8") as f:
                f.write("\n".join(out))
    for path in glob.glob(os.path.join(root, "examples", "guide", "*.cpp")):
        if path not in cache:
            cache[path], errs = regions(path)
            errors.extend(errs)
        for name in cache[path]:
            if (path, name) not in used:
                errors.append(f"{os.path.relpath(path, root)}: snippet {name} is shown on no page")
    return blocks, errors


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root = sys.argv[1]
    write = "--write" in sys.argv[2:]
    if write:
        check(root, True)
    blocks, errors = check(root, False)
    for e in errors:
        print("FAIL " + e)
    print(f"check_snippets: {blocks} cpp blocks, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

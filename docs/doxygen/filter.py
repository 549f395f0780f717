#!/usr/bin/env python3
"""Doxygen INPUT_FILTER for tokenpass' headers, which document with plain `//` comments.

Prints FILE with those comments turned into doc comments, so that the headers stay in the
house style and Doxygen still sees every word:
  - the comment block at the top of the file (before `#pragma once`) becomes `@file` text;
  - a `//` comment on its own line, outside function bodies, documents what follows (`///`),
    unless a blank line follows it (a section heading such as `// ---- mTLS ----`);
  - a `//` comment after a declaration on the same line documents it (`///<`), except
    after a forward declaration (`struct X;  // x.h`), which Doxygen would hand to the
    next declaration;
  - a comment over several declarations (overloads, fields declared together, up to the
    next blank line or the brace that ends the class; braces only as initialisers,
    default arguments or inline bodies that close within the run, never a nested type),
    with a blank line or the class's opening line before it, documents each of them:
    they become a member group (DISTRIBUTE_GROUP_DOC). Its markers go on those lines:
    `///@{` on a blank line, `/**@{*/` after the opening line, `///@}` on the blank line
    after the declarations or `/**@}*/` before the closing brace; a blank line between
    two groups carries both. (Not after `public:`: a constructor's comment there is not
    meant for the destructor and copy operations below it.)
Comments inside function bodies and initialisers are left alone. Line numbers are kept.
"""
import re
import sys

SCOPE = re.compile(r"\b(namespace|class|struct|union|enum)\b")
CLASS = re.compile(r"\b(class|struct|union)\b")
ACCESS = ("public:", "private:", "protected:")
FORWARD = re.compile(r"^\s*(class|struct|union|enum(\s+class)?)\s+\w+\s*;\s*$")


def strip_strings(line):
    """The line without string and character literals (braces in them do not count)."""
    return re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'', '""', line)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        lines = f.read().split("\n")
    out = []
    stack = []           # one entry per open brace: True for a scope, False for a body
    pending = ""         # declaration text since the last ; { or }
    in_file_comment = True
    for line in lines:
        stripped = line.lstrip()
        if in_file_comment:
            if stripped.startswith("//"):
                text = stripped[2:].strip()
                out.append(("/** @file " if not out else " * ") + text.replace("*/", "* /"))
                continue
            in_file_comment = False
            if out:
                out[-1] += " */"
        in_scope = all(stack)
        code, _, comment = line.partition("//") if "//" in strip_strings(line) else (line, "", "")
        # A "//" inside a string literal: treat the whole line as code.
        if comment and strip_strings(code).count('"') % 2:
            code, comment = line, ""
        if in_scope and not code.strip() and comment:
            if comment.startswith("/") or comment.startswith("!"):
                out.append(line)
            else:
                out.append(code + "///" + comment)
        elif in_scope and code.strip() and comment and not comment.startswith(("/", "!")) and \
                code.rstrip().endswith((";", ",")) and "NOLINT" not in comment and \
                not FORWARD.match(code):
            out.append(code + "///<" + comment)
        else:
            out.append(line)
        # Track braces in the code part.
        for ch in strip_strings(code):
            if ch == "{":
                # `template <class T>` before a function is no class.
                pending = re.sub(r"template\s*<[^{;]*?>", "", pending)
                stack.append(bool(SCOPE.search(pending)) and "(" not in pending.split("=")[0][-1:] and
                             "=" not in pending)
                pending = ""
            elif ch == "}":
                if stack:
                    stack.pop()
                pending = ""
            elif ch == ";":
                pending = ""
            else:
                pending += ch
    headings(out)
    group(out)
    sys.stdout.write("\n".join(out))


def headings(out):
    """A doc comment with a blank line after it documents nothing: back to `//`."""
    for n, line in enumerate(out):
        if n + 1 < len(out) and out[n + 1].strip() != "":
            continue
        m = n
        while m >= 0 and out[m].lstrip().startswith("///") and \
                not out[m].lstrip().startswith("///<"):
            out[m] = out[m].replace("///", "//", 1)
            m -= 1


def declarations(run):
    """How many declarations the lines `run` hold, or 0 when they are not whole
    declarations only: braces (`x{5};`, `= {}`, `{ return x_; }`, a body over several
    lines) must close within the run and open no class, struct, union, enum or namespace."""
    depth = 0
    count = 0
    for line in run:
        if line.lstrip().startswith(ACCESS + ("#",)):
            return 0
        code = strip_strings(line).split("//")[0].rstrip()
        if "{" in code and SCOPE.search(code.split("{")[0]):
            return 0
        depth += code.count("{") - code.count("}")
        if depth < 0:
            return 0
        if depth == 0 and code.endswith((";", "}")):
            count += 1
    return count if depth == 0 else 0


def group_start(line):
    """The marker that opens a group after `line`, or None when no group may start there:
    after a blank line, the end of the group before, or the opening line of a class,
    struct or union body."""
    code = strip_strings(line)
    if line.strip() == "":
        return "///@{"
    if line == "///@}":
        return "/**@}*/ /**@{*/"
    if "//" not in code and code.rstrip().endswith("{") and CLASS.search(code) and \
            not re.search(r"\benum\b", code):
        return line + " /**@{*/"
    return None


def group(out):
    """A doc comment over several declarations becomes a member group: markers on the
    lines around it and them (same line count), as the module's docstring says."""
    i = 0
    while i < len(out):
        start = group_start(out[i])
        following = out[i + 1].lstrip() if i + 1 < len(out) else ""
        if start and following.startswith("///") and not following.startswith("///<"):
            j = i + 1
            while j < len(out) and out[j].lstrip().startswith("///"):
                j += 1
            k = j
            depth = 0  # of braces opened in the run, so that only the class's own `};` ends it
            while k < len(out) and out[k].strip() != "" and not out[k].lstrip().startswith("//"):
                code = strip_strings(out[k]).split("//")[0]
                if depth == 0 and code.lstrip().startswith("}"):
                    break
                depth += code.count("{") - code.count("}")
                k += 1
            if k < len(out) and out[k].strip() in ("", "};") and declarations(out[j:k]) >= 2:
                out[i] = start
                out[k] = "///@}" if out[k].strip() == "" else "/**@}*/" + out[k]
                i = k
                continue
        i += 1


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""scripts/tidy.py - the style checks a compiler does not do (STYLE.md rule 28).

For every C file under the broker's folders: lines of at most 100 columns,
function bodies of at most 70 lines, and no banned calls (malloc and friends
outside the allocator, arena and pool files; sprintf, strcpy, assert, time,
rand). Test and bench code is checked for line length only. No tracked text
file (sources, docs, scripts, build files) may hold a merge's conflict markers.
Exits non-zero with one line per finding. Run by `meson test` (suite `tidy`).
"""
import os
import re
import sys

LINE_COLUMNS_MAX = 100
FUNCTION_LINES_MAX = 70
STRICT_FOLDERS = ("core", "storage", "net", "broker", "proto")
LENIENT_FOLDERS = ("client", "test", "bench", "examples")
HEAP_FILES = {"core/alloc_libc.c", "core/alloc_mimalloc.c", "core/arena.c", "core/pool.c"}
BANNED = {
    "sprintf": re.compile(r"(?<![\w.])v?sprintf\s*\("),
    "strcpy": re.compile(r"(?<![\w.])strcpy\s*\("),
    "assert": re.compile(r"(?<![\w.])assert\s*\("),
    "time": re.compile(r"(?<![\w.>])time\s*\("),
    "rand": re.compile(r"(?<![\w.])s?rand\s*\("),
}
HEAP_CALL = re.compile(r"(?<![\w.])(malloc|calloc|realloc|free)\s*\(")
FUNCTION_START = re.compile(r"^[a-z_][\w]*\s*\(.*")  # definition name at column 0
CONFLICT_MARKER = re.compile(r"^(<{7} |>{7} |={7}$)")
TEXT_SUFFIXES = (".c", ".h", ".md", ".py", ".build", ".txt", ".map", ".in", ".toml", ".yml")
SKIPPED_DIRECTORIES = {".git", "subprojects"}


def strip_comments_and_strings(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r'"(\\.|[^"\\])*"', '""', text)


def check_function_lengths(path, lines, findings):
    start = None
    for number, line in enumerate(lines, 1):
        if FUNCTION_START.match(line) and not line.rstrip().endswith(";"):
            start = number
        elif line.startswith("}") and start is not None:
            length = number - start + 1
            if length > FUNCTION_LINES_MAX + 2:
                findings.append(f"{path}:{start}: function is {length} lines "
                                f"(limit {FUNCTION_LINES_MAX})")
            start = None


def check_file(path, strict, findings):
    with open(path, encoding="utf-8") as handle:
        raw = handle.read()
    for number, line in enumerate(raw.split("\n"), 1):
        if len(line) > LINE_COLUMNS_MAX:
            findings.append(f"{path}:{number}: line is {len(line)} columns")
    if not strict:
        return
    code = strip_comments_and_strings(raw)
    lines = code.split("\n")
    if path.endswith(".c"):
        check_function_lengths(path, lines, findings)
    for number, line in enumerate(lines, 1):
        for name, pattern in BANNED.items():
            if pattern.search(line):
                findings.append(f"{path}:{number}: banned call {name}()")
        if path not in HEAP_FILES and HEAP_CALL.search(line):
            findings.append(f"{path}:{number}: heap call outside the allocator, arena, pool")


def is_text_to_check(directory, name):
    if name.endswith(TEXT_SUFFIXES) or name == "meson_options.txt":
        return True
    return directory.endswith(("scripts", ".ci")) and "." not in name


def check_conflict_markers(findings):
    for directory, subdirectories, names in os.walk("."):
        subdirectories[:] = [d for d in subdirectories
                             if d not in SKIPPED_DIRECTORIES and not d.startswith("build")]
        for name in sorted(names):
            if not is_text_to_check(directory, name):
                continue
            path = os.path.join(directory, name)[2:]
            with open(path, encoding="utf-8", errors="replace") as handle:
                for number, line in enumerate(handle, 1):
                    if CONFLICT_MARKER.match(line):
                        findings.append(f"{path}:{number}: merge conflict marker")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    os.chdir(root)
    findings = []
    for folder in STRICT_FOLDERS + LENIENT_FOLDERS:
        for directory, _, names in os.walk(folder):
            for name in sorted(names):
                if name.endswith((".c", ".h")):
                    path = os.path.join(directory, name)
                    check_file(path, folder in STRICT_FOLDERS, findings)
    check_conflict_markers(findings)
    for finding in findings:
        print(finding)
    print(f"tidy: {len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())

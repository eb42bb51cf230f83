#!/usr/bin/env python3
"""Prints the build targets that a selection of CTest tests runs.

usage: test_targets.py BUILD_DIR [ctest selection options...]

A configured build tree knows which tests a selection picks (ctest
--show-only=json-v1), their commands (the add_test lines of its
CTestTestfile.cmake files: CTest's JSON leaves the command out while the
program is not built yet) and its targets (cmake --build --target help). A
target is needed when a selected test's command names a file of that name
inside the build tree, as the program or as an argument (sse_cat's tests
pass -DSSE_CAT=<path>). The sanitizer steps of .ci/run build only those,
not every example and tool.
"""
import json
import os
import re
import subprocess
import sys

# add_test(NAME "word" "word"...): a word may hold escaped quotes and
# newlines, so the call can span lines.
ADD_TEST = re.compile(r'^add_test\((\S+)((?:\s+"(?:[^"\\]|\\.)*")*)\s*\)', re.M)
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def test_commands(build: str) -> dict:
    """Each test's command words, read off the build tree's CTestTestfile.cmake files."""
    commands = {}
    for folder, _, files in os.walk(build):
        if "CTestTestfile.cmake" not in files:
            continue
        with open(os.path.join(folder, "CTestTestfile.cmake"), encoding="utf-8") as f:
            for match in ADD_TEST.finditer(f.read()):
                commands[match.group(1)] = QUOTED.findall(match.group(2))
    return commands


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    build = os.path.realpath(sys.argv[1])
    selection = sys.argv[2:]
    shown = subprocess.run(
        ["ctest", "--test-dir", build, "--show-only=json-v1", *selection],
        check=True, capture_output=True, text=True).stdout
    helped = subprocess.run(
        ["cmake", "--build", build, "--target", "help"],
        check=True, capture_output=True, text=True).stdout
    targets = {line.split(":")[0].strip() for line in helped.splitlines()[1:] if ":" in line}

    commands = test_commands(build)
    needed = set()
    for test in json.loads(shown)["tests"]:
        if test["name"] not in commands:
            print(f"test_targets.py: no add_test line for {test['name']}", file=sys.stderr)
            return 1
        for word in commands[test["name"]]:
            path = word.split("=", 1)[1] if word.startswith("-D") and "=" in word else word
            if os.path.realpath(path).startswith(build + os.sep):
                name = os.path.basename(path)
                if name in targets:
                    needed.add(name)
    if not needed:
        print("test_targets.py: no test of the selection runs a target", file=sys.stderr)
        return 1
    print("\n".join(sorted(needed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

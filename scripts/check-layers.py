#!/usr/bin/env python3
"""weir's layer rule, checked: every `#include "..."` of the tree goes to a folder its own layer
may use (docs/architecture.md draws the same arrows).

  scripts/check-layers.py                 check the tree; exit 1 naming each wrong include
  scripts/check-layers.py --self-test     show that the check catches each kind of violation
  scripts/check-layers.py --public-headers CXX
        compile one translation unit including every public engine header (every engine header
        outside an `internal/` folder) with RocksDB's headers replaced by ones that #error: it
        builds only if no public header reaches RocksDB, even transitively

Run from anywhere; the tree is the one this script is in. ctest runs all three.
"""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Each layer and the layers its files may include (its own always). A file belongs to the layer
# with the longest matching folder. Bottom to top.
ENGINE = ["engine/processor", "engine/dsl", "engine/metrics", "engine/kafka", "engine/runtime",
          "engine/http"]
LAYERS = {
    "common": [],
    "stores": ["common"],
    "engine/processor": ["common", "stores"],
    "engine/dsl": ["common", "stores", "engine/processor"],
    "engine/metrics": ["common", "stores", "engine/processor"],
    "engine/kafka": ["common", "engine/processor"],
    "engine/runtime": ["common", "stores", "engine/processor", "engine/metrics", "engine/kafka"],
    "engine/http": ["common", "stores", "engine/processor", "engine/metrics", "engine/kafka",
                    "engine/runtime"],
    "topologies": ["common", "stores"] + ENGINE,
    "bench": ["common", "stores", "topologies"] + ENGINE,
    "cli": ["common", "stores", "topologies", "bench"] + ENGINE,
    "tests": ["common", "stores", "topologies", "bench"] + ENGINE,
    # Programs as a user writes them: the installed headers only (docs/library.md).
    "examples": ["common", "stores"] + ENGINE,
}
# A unit test beside the code it tests may also use what is below the top of its area (an
# engine test may run a topology through the test driver), never a layer above the area.
TEST_EXTRA = {layer: ENGINE for layer in ENGINE}
# Folders private to a layer: only the layers named may include from them.
PRIVATE = {
    "engine/runtime/internal": ["engine/runtime"],
    "engine/processor/internal": ["engine/processor", "engine/runtime"],
}

PROJECT_FOLDERS = {"common", "stores", "engine", "topologies", "bench", "cli", "tests",
                   "examples"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(path, names):
    best = None
    for name in names:
        if path == name or path.startswith(name + "/"):
            if best is None or len(name) > len(best):
                best = name
    return best


def is_test(path):
    return path.endswith("_test.cc") or path.startswith("tests/")


NO_LAYER = "in no layer (add its folder to scripts/check-layers.py and docs/architecture.md)"


def violations(sources):
    """sources: {path: text}. Returns the wrong includes as messages."""
    found = []
    for path, text in sorted(sources.items()):
        own = layer_of(path, LAYERS)
        if own is None:
            if path.split("/")[0] in PROJECT_FOLDERS:
                found.append(f"{path}: {NO_LAYER}")
            continue
        allowed = set(LAYERS[own]) | {own}
        if is_test(path):
            allowed |= set(TEST_EXTRA.get(own, []))
        for match in INCLUDE.finditer(text):
            target = match.group(1)
            line = text.count("\n", 0, match.start()) + 1
            where = f"{path}:{line}: includes {target}"
            if "/" not in target:
                continue  # not a path from the repository's root
            to = layer_of(target, LAYERS)
            if to is None:
                if target.split("/")[0] in PROJECT_FOLDERS:
                    found.append(f"{where}: {target} is {NO_LAYER}")
                continue
            if to not in allowed:
                found.append(f"{where}: {own} may not use {to} "
                             f"(it may use: {', '.join(sorted(allowed)) or 'nothing'})")
                continue
            private = layer_of(target, PRIVATE)
            if private is not None and own not in PRIVATE[private]:
                found.append(f"{where}: {private}/ is private to "
                             f"{' and '.join(PRIVATE[private])}")
    return found


def tree_sources():
    listed = subprocess.run(["git", "-C", ROOT, "ls-files", "-co", "--exclude-standard",
                             "*.h", "*.cc"], check=True, capture_output=True, text=True).stdout
    sources = {}
    for path in listed.split():
        if path.startswith("build") or not os.path.exists(os.path.join(ROOT, path)):
            continue
        with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as f:
            sources[path] = f.read()
    return sources


def self_test():
    cases = {
        "stores/x.cc": '#include "engine/runtime/kafka_streams.h"\n',
        "engine/dsl/x.h": '#include "engine/runtime/kafka_streams.h"\n',
        "engine/kafka/x.cc": '#include "engine/runtime/internal/task.h"\n',
        "engine/http/x.cc": '#include "engine/runtime/internal/task.h"\n',
        "topologies/x.cc": '#include "cli/commands.h"\n',
        "engine/processor/x_test.cc": '#include "topologies/payment.h"\n',
        "engine/newfolder/x.cc": '#include "engine/newfolder/y.h"\n',
    }
    fine = {
        "engine/runtime/x.cc": '#include "engine/runtime/internal/task.h"\n',
        "engine/processor/x_test.cc": '#include "engine/runtime/test_driver.h"\n',
        "cli/x.cc": '#include "engine/http/metrics.h"\n',
    }
    # A file in a folder that is no layer, and an include of it.
    cases["engine/http/y.cc"] = '#include "engine/newfolder/y.h"\n'
    cases["engine/z.cc"] = '#include "engine/processor/record.h"\n'
    expected = len(cases)
    got = violations(cases)
    for message in got:
        print("caught:", message)
    wrong = violations(fine)
    if len(got) != expected or wrong:
        print(f"self-test FAILED: {len(got)} of {expected} violations caught; "
              f"{len(wrong)} false alarms {wrong}", file=sys.stderr)
        return 1
    print(f"self-test: {len(got)} of {expected} violations caught, no false alarm")
    return 0


def public_headers(cxx):
    headers = sorted(p for p in tree_sources()
                     if p.startswith("engine/") and p.endswith(".h") and "/internal/" not in p)
    rocksdb = "/usr/include/rocksdb"
    with tempfile.TemporaryDirectory(prefix="weir-public-headers-") as shadow:
        count = 0
        for folder, _, files in os.walk(rocksdb):
            for name in files:
                rel = os.path.relpath(os.path.join(folder, name), "/usr/include")
                os.makedirs(os.path.join(shadow, os.path.dirname(rel)), exist_ok=True)
                with open(os.path.join(shadow, rel), "w") as f:
                    f.write(f'#error "a public engine header reaches RocksDB: <{rel}>"\n')
                count += 1
        if count == 0:
            print(f"no RocksDB headers under {rocksdb}: nothing to shadow", file=sys.stderr)
            return 1
        unit = os.path.join(shadow, "all_public_headers.cc")
        with open(unit, "w") as f:
            f.writelines(f'#include "{h}"\n' for h in headers)
        command = [cxx, "-std=c++20", "-fsyntax-only", "-I", shadow, "-I", ROOT, unit]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            sys.stderr.write(result.stderr[-6000:])
            print(f"FAILED: {len(headers)} public engine headers with {count} RocksDB headers "
                  "shadowed", file=sys.stderr)
            return 1
        print(f"{len(headers)} public engine headers build with RocksDB's {count} headers "
              "shadowed by #error")
        return 0


def main(argv):
    if argv[1:2] == ["--self-test"]:
        return self_test()
    if argv[1:2] == ["--public-headers"] and len(argv) == 3:
        return public_headers(argv[2])
    if len(argv) > 1:
        print(__doc__, file=sys.stderr)
        return 2
    sources = tree_sources()
    found = violations(sources)
    for message in found:
        print(message, file=sys.stderr)
    if found:
        print(f"{len(found)} include(s) break the layer rule (scripts/check-layers.py, "
              "docs/architecture.md)", file=sys.stderr)
        return 1
    print(f"{len(sources)} files: every include within its layer's rule")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env bash
# weir as a library, from outside the repository (ctest: install.find_package):
#   1. `cmake --install BUILD --prefix P` into a scratch prefix;
#   2. every installed header compiles in one unit against P alone (the source tree is not on the
#      include path: a public header that includes one not installed fails here), with the
#      flags `pkg-config --cflags weir` gives;
#   3. a project of its own finds the package (find_package(weir 0.N), CMAKE_PREFIX_PATH=P only),
#      builds a DSL topology against weir::engine, runs it through the test driver and prints
#      its output, which must be the expected counts;
#   4. the same object links with `pkg-config --libs weir`;
#   5. each example (examples/) builds against the prefix alone, passes its test, and runs on
#      the embedded broker over a fixed input, whose output is checked.
# Usage: tests/install_test.sh BUILD_DIR SCRATCH_DIR
set -euo pipefail
build=$(realpath "$1")
scratch=$2
rm -rf "$scratch"
mkdir -p "$scratch"
scratch=$(realpath "$scratch")
prefix=$scratch/prefix

cmake --install "$build" --prefix "$prefix" >"$scratch/install.log"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name weir.pc | head -1)")
version=$(pkg-config --modversion weir)
minor=${version%.*}
echo "installed weir $version into $prefix"
test -x "$prefix/bin/weir"
"$prefix/bin/weir" --version | grep -q "$version"
if find "$prefix/include" -path '*internal*' | grep -q .; then
  echo "FAILED: the runtime's internals were installed:" >&2
  find "$prefix/include" -path '*internal*' >&2
  exit 1
fi

cflags=$(pkg-config --cflags weir)
unit=$scratch/all_headers.cc
(cd "$prefix/include/weir" && find . -name '*.h' | sort | sed 's|^\./\(.*\)|#include "\1"|') >"$unit"
headers=$(wc -l <"$unit")
# shellcheck disable=SC2086  # the flags are words
c++ $cflags -fsyntax-only "$unit"
echo "$headers installed headers compile against the prefix alone"

mkdir -p "$scratch/app"
cat >"$scratch/app/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(weir_user LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(weir $minor REQUIRED)
add_executable(count main.cc)
target_link_libraries(count PRIVATE weir::engine)
CMAKE
cat >"$scratch/app/main.cc" <<'CPP'
// Words counted per key with weir's DSL, run through its test driver.
#include <cstdio>
#include <optional>
#include <string>

#include "engine/dsl/streams_builder.h"
#include "engine/runtime/test_driver.h"

int main() {
  using weir::serdes::String;
  weir::StreamsBuilder builder;
  builder.Stream<std::string, std::string>("words", String(), String())
      .GroupByKey()
      .Count()
      .ToStream()
      .To("counts", weir::Produced<std::string, std::optional<int64_t>>::With(
                        String(), weir::serdes::Optional(weir::serdes::Int64())));
  absl::StatusOr<weir::Topology> topology = builder.Build();
  if (!topology.ok()) return 1;
  weir::TopologyTestDriver driver(*topology);
  weir::TestInputTopic<std::string, std::string> words(driver, "words", String(), String());
  for (const char* word : {"a", "b", "a"}) {
    if (!words.Pipe(word, "", 1).ok()) return 1;
  }
  weir::TestOutputTopic<std::string, std::optional<int64_t>> counts(
      driver, "counts", String(), weir::serdes::Optional(weir::serdes::Int64()));
  auto records = counts.ReadRecords();
  if (!records.ok()) return 1;
  for (const auto& r : *records) std::printf("%s=%lld\n", r.key.c_str(), (long long)*r.value);
  return 0;
}
CPP
cmake -S "$scratch/app" -B "$scratch/app/build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release >"$scratch/app-configure.log"
cmake --build "$scratch/app/build" >"$scratch/app-build.log"
got=$("$scratch/app/build/count" | tr '\n' ' ')
if [ "$got" != "a=1 b=1 a=2 " ]; then
  echo "FAILED: the user's program printed '$got', not 'a=1 b=1 a=2 '" >&2
  exit 1
fi
echo "find_package(weir $minor): a user's project built and counted: $got"

object=$(find "$scratch/app/build" -name 'main.cc.o' | head -1)
# shellcheck disable=SC2046
c++ -o "$scratch/count-pc" "$object" $(pkg-config --libs weir)
got=$("$scratch/count-pc" | tr '\n' ' ')
test "$got" = "a=1 b=1 a=2 "
echo "pkg-config --libs weir links the same program"

# The examples, each on its own against the prefix: built, tested, run on the embedded broker
# with INPUT on stdin, its output (lines joined by spaces) compared with WANT.
examples=$(cd "$(dirname "$0")/../examples" && pwd)
example() {
  local name=$1 input=$2 want=$3 got
  cmake -S "$examples/$name" -B "$scratch/$name" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_TYPE=Release >"$scratch/$name-configure.log"
  cmake --build "$scratch/$name" >"$scratch/$name-build.log"
  (cd "$scratch/$name" && ctest --output-on-failure >"$scratch/$name-test.log") || {
    cat "$scratch/$name-test.log" >&2
    exit 1
  }
  # shellcheck disable=SC2059  # the input is a format: its \n are the lines
  got=$(printf "$input" | "$scratch/$name/$name" 2>"$scratch/$name-run.log" | tr '\n' ' ') ||
    got="(it failed: exit status $?)"
  if [ "$got" != "$want" ]; then
    echo "FAILED: $name on the embedded broker printed '$got', not '$want'" >&2
    tail -20 "$scratch/$name-run.log" >&2
    exit 1
  fi
  echo "examples/$name: built against the prefix, its test passed; on the embedded broker: $got"
}
example word-count 'all streams lead to Kafka\nhello kafka streams\njoin kafka summit\n' \
  "all 1 hello 1 join 1 kafka 3 lead 1 streams 2 summit 1 to 1 "
example enrich 'products p1 teapot\ncustomers c1 Ada\norders c1 p1,2\norders c2 p1,1\ncustomers c1 Ada L.\norders c1 p1,3\norders c1 p9,1\n' \
  "c1: Ada bought 2 x teapot c2: someone bought 1 x teapot c1: Ada L. bought 3 x teapot "
rm -rf "$scratch"

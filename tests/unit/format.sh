#!/bin/sh
# The house style (.clang-format) holds for every C file in the tree:
# `clang-format -i FILE` fixes one that fails here.
cd "${NETLAB_SRC:?set by meson}" || exit 1
files=$(git ls-files 'src/*.[ch]' 'tests/unit/*.[ch]' 'tests/fuzz/*.c' 2>/dev/null)
[ -n "$files" ] || files=$(find src tests/unit tests/fuzz -name '*.[ch]')
bad=0
n=0
for f in $files; do
  n=$((n + 1))
  if clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "ok $n - $f"
  else
    echo "not ok $n - $f is not formatted (clang-format -i $f)"
    bad=1
  fi
done
echo "1..$n"
exit $bad

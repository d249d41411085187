#!/bin/sh
# The house style (.clang-format) holds for every C file in the tree:
# `clang-format -i FILE` fixes one that fails here. And no function of src/
# is longer than a screen, 80 lines (scripts/function-lengths measures them).
cd "${NETLAB_SRC:?set by meson}" || exit 1
files=$(git ls-files 'src/*.[ch]' 'tests/unit/*.[ch]' 'tests/fuzz/*.c' 2>/dev/null)
[ -n "$files" ] || files=$(find src tests/unit tests/fuzz -name '*.[ch]')
max=80
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
src=$(printf '%s\n' $files | grep '^src/.*\.c$')
n=$((n + 1))
long=$(scripts/function-lengths $src | awk -v max=$max '$1 > max' | sort -rn)
if [ -z "$long" ] && [ -n "$(scripts/function-lengths $src)" ]; then
  echo "ok $n - no function of src/ is over $max lines"
else
  echo "not ok $n - functions over $max lines (split them by meaning):"
  printf '%s\n' "${long:-none measured: scripts/function-lengths found no function}" | sed 's/^/# /'
  bad=1
fi
echo "1..$n"
exit $bad

#!/bin/sh
# mandoc -T lint on every page (`make check-man`, CI). Clean means no message at all, style
# included: mandoc exits 0 and prints nothing.
#
# mandoc resolves a cross-reference (.Xr svc 1) only among the pages installed under
# /usr/share/man, so the pages are linted as if installed there: in a mount namespace of our
# own (as root, or in a user namespace), a tmpfs holding them as man1/ and man8/ is mounted
# over /usr/share/man, with its mandoc.db (makewhatis). Without a namespace, the unresolved references to our own pages are
# left out, and the script says so.
set -eu
cd "$(dirname "$0")"
self=$PWD/$(basename "$0")
pages=$(ls ./*.1 ./*.8)

if [ "${1-}" = --inside ]; then
  mount -t tmpfs tmpfs /usr/share/man
  mkdir /usr/share/man/man1 /usr/share/man/man8
  cp ./*.1 /usr/share/man/man1/
  cp ./*.8 /usr/share/man/man8/
  # With no mandoc.db there, mandoc warns that it is outdated at every reference.
  makewhatis /usr/share/man
  # shellcheck disable=SC2086
  exec mandoc -T lint $pages
fi

for ns in "unshare --mount" "unshare --map-root-user --mount"; do
  if $ns true 2>/dev/null; then
    exec $ns sh "$self" --inside
  fi
done

echo "man/lint.sh: no mount namespace here: references to our own pages are not checked" >&2
ours=$(printf '%s\n' $pages | sed 's|^\./||; s|\.\([18]\)$| \1|' | paste -sd '|')
# shellcheck disable=SC2086
out=$(mandoc -T lint $pages 2>&1 | grep -Ev "referenced manual not found: Xr ($ours)\$" || true)
[ -z "$out" ] || { printf '%s\n' "$out" >&2; exit 1; }

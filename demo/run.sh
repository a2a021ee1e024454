#!/usr/bin/env bash
# The demo: builds the workspace, runs our svscan on a copy of demo/scandir with Debian's s6
# tools around it (s6-supervise under it, s6-log as hello's logger, s6-svstat and s6-svc from
# outside), shows the services for a few seconds, then stops everything with svscanctl -t.
#
# Run it from anywhere: ./demo/run.sh. On a fresh Debian machine it installs s6 first (as
# root, or through sudo). The repository stays clean: the scan dir is copied to a temp dir.
# SVSCAN=/usr/bin/s6-svscan ./demo/run.sh runs the same demo around the C s6-svscan.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

say() { printf '\n== %s\n' "$*"; }

if ! command -v s6-supervise >/dev/null 2>&1; then
  say "installing Debian's s6 (s6-supervise, s6-log, s6-svstat, s6-svc)"
  sudo=
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y s6
fi

say "building: cargo build --release --workspace"
cargo build --release --workspace
svscan=${SVSCAN:-$root/target/release/svscan}
svscanctl=$root/target/release/svscanctl

tmp=$(mktemp -d)
scan=$tmp/scandir
pid=
cleanup() {
  # On an early exit, stop svscan's tree the supervised way, then remove the copy.
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
cp -R demo/scandir "$scan"

say "starting: $svscan -d 3 $scan"
# -d 3: svscan writes a newline to fd 3 once it listens for commands; fd 3 is a FIFO we read.
mkfifo "$tmp/ready"
"$svscan" -d 3 "$scan" 3>"$tmp/ready" &
pid=$!
if ! read -r -t 10 _ <"$tmp/ready"; then
  echo "svscan exited, or did not report readiness within 10 s" >&2
  exit 1
fi
echo "svscan (pid $pid) is ready"

status() {
  for svc in hello hello/log sleeper; do
    printf '  %-10s %s\n' "$svc" "$(s6-svstat "$scan/$svc" 2>&1 || true)"
  done
}

show() {
  say "after $1 s: s6-svstat of each service"
  status
  echo "  last lines of hello/log/main/current (written by s6-log):"
  tail -n 3 "$scan/hello/log/main/current" 2>/dev/null | sed 's/^/    /' || true
}

sleep 2
show 2
say "s6-svc -u $scan/sleeper (it has a down file, so it was not started)"
s6-svc -u "$scan/sleeper"
sleep 2
show 4
sleep 2
show 6

say "stopping: svscanctl -t $scan"
"$svscanctl" -t "$scan"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
  echo "svscan is still running 10 s after svscanctl -t" >&2
  exit 1
fi
code=0
wait "$pid" || code=$?
pid=
echo "svscan exited with status $code; on -t it stops its supervisors and waits for them:"
for svc in hello hello/log sleeper; do
  if s6-svok "$scan/$svc"; then state="still supervised"; else state="no supervisor left"; fi
  printf '  %-10s %s\n' "$svc" "$state"
done

#!/usr/bin/env bash
# The demo: a supervision tree on our programs alone. It installs them (make install, with
# the s6 names, into a temporary staging directory put first in PATH), runs svscan on a copy
# of demo/scandir, so that svscan starts our supervise as `s6-supervise` from PATH, shows the
# services with svstat, brings the `down` one up with svc, then stops the tree. The only C
# program it may run is s6-log, hello's logger, where it is installed (else a shell logger).
#
#   ./demo/run.sh              svscan in the background, stopped with svscanctl -t
#   ./demo/run.sh --pid1       svscan as PID 1 of a new PID namespace (unshare --pid --fork
#                              --mount-proc), stopped by a SIGTERM from outside, as a
#                              container runtime stops a container
#   ./demo/run.sh --installed  no build: our programs as PATH finds them (make install
#                              S6_NAMES=1 done before; CI runs it so)
#   SVSCAN=/usr/bin/s6-svscan ./demo/run.sh    the same around another svscan: Debian's C one
#                              starts its own /usr/bin/s6-supervise (a path fixed at its build)
#
# Run it from anywhere, as root or not (--pid1 needs root or user namespaces). A fresh Debian
# needs only Rust: make is installed if missing (through sudo when not root). The repository
# stays clean: the build is cargo's, everything else is in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

pid1= installed=
for arg; do
  case $arg in
    --pid1) pid1=1 ;;
    --installed) installed=1 ;;
    *) echo "usage: $0 [--pid1] [--installed]" >&2; exit 100 ;;
  esac
done

say() { printf '\n== %s\n' "$*"; }

tmp=$(mktemp -d)
scan=$tmp/scandir
pid=
cleanup() {
  # On an early exit, stop svscan's tree the supervised way, then remove the copy.
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "${svscan_pid:-$pid}" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ -z "$installed" ]; then
  if ! command -v make >/dev/null 2>&1; then
    say "installing make"
    sudo=
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
    $sudo apt-get update
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y make
  fi
  say "building and installing: make install DESTDIR=$tmp/stage PREFIX=/usr S6_NAMES=1"
  make -s install DESTDIR="$tmp/stage" PREFIX=/usr S6_NAMES=1 >/dev/null
  PATH=$tmp/stage/usr/bin:$PATH
fi
svscan=${SVSCAN:-svscan}

# The pids whose parent is $1.
children() {
  local stat line rest
  for stat in /proc/[0-9]*/stat; do
    { read -r line <"$stat"; } 2>/dev/null || continue
    rest=${line##*) }
    rest=${rest#* }
    [ "${rest%% *}" = "$1" ] && { stat=${stat#/proc/}; echo "${stat%/stat}"; }
  done
  return 0
}

say "the programs"
for prog in "$svscan" s6-supervise svscanctl svc svstat svok; do
  path=$(command -v "$prog" || true)
  real=$(readlink -f "$path" 2>/dev/null || true)
  if [ ! -x "$path" ]; then
    printf '  %-13s (not in PATH)\n' "$prog"
  elif [ "$real" = "$path" ]; then
    printf '  %-13s %s\n' "$prog" "$path"
  else
    printf '  %-13s %s -> %s\n' "$prog" "$path" "$real"
  fi
done
if s6log=$(command -v s6-log) && [ -x "$s6log" ]; then
  echo "  hello/log     s6-log ($s6log, C s6)"
else
  echo "  hello/log     a shell logger (no s6-log here)"
fi

cp -R demo/scandir "$scan"
mkfifo "$tmp/ready"
if [ -n "$pid1" ]; then
  if ! unshare --pid --fork --mount-proc true 2>/dev/null; then
    echo "--pid1: unshare --pid --fork --mount-proc fails here (it needs root)" >&2
    exit 1
  fi
  say "starting: unshare --pid --fork --mount-proc $svscan -d 3 $scan"
  unshare --pid --fork --mount-proc "$svscan" -d 3 "$scan" 3>"$tmp/ready" &
else
  say "starting: $svscan -d 3 $scan"
  "$svscan" -d 3 "$scan" 3>"$tmp/ready" &
fi
pid=$!
# -d 3: svscan writes a newline to fd 3 once it listens for commands; fd 3 is a FIFO we read.
if ! read -r -t 10 _ <"$tmp/ready"; then
  echo "svscan exited, or did not report readiness within 10 s" >&2
  exit 1
fi
svscan_pid=$pid
if [ -n "$pid1" ]; then
  svscan_pid=$(children "$pid")
  echo "svscan is ready: pid $svscan_pid here, $(sed -n 's/^NSpid:\s*//p' "/proc/$svscan_pid/status" | awk '{print "pid " $NF}') in its namespace (unshare is pid $pid)"
else
  echo "svscan (pid $svscan_pid) is ready"
fi

show() {
  say "$1"
  svstat --scan "$scan" | sed 's/^/  /'
  echo "  the supervisors (svscan's children):"
  for child in $(children "$svscan_pid"); do
    printf '    pid %-7s %s %s\n' "$child" "$(readlink "/proc/$child/exe")" \
      "$(tr '\0' ' ' <"/proc/$child/cmdline")"
  done
}

# Waits up to $1 s for $2 lines in hello's log.
wait_lines() {
  for _ in $(seq $(($1 * 10))); do
    [ "$({ wc -l <"$scan/hello/log/main/current"; } 2>/dev/null || echo 0)" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 0
}

wait_lines 5 1
show "svstat --scan: hello and its logger up, sleeper down (it has a down file)${pid1:+; pids as seen in the namespace}"
say "svc -wu -u -T 5000 $scan/sleeper: up (-u), and svc waits until it is (-wu)"
svc -wu -u -T 5000 "$scan/sleeper"
wait_lines 5 2
show "after svc -u"
echo "  hello/log/main/current:"
sed 's/^/    /' "$scan/hello/log/main/current"

if [ -n "$pid1" ]; then
  say "kill -TERM $svscan_pid: the SIGTERM a container runtime sends to PID 1"
  kill -TERM "$svscan_pid"
else
  say "stopping: svscanctl -t $scan"
  svscanctl -t "$scan"
fi
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
  echo "svscan is still running 10 s after it was told to stop" >&2
  exit 1
fi
code=0
wait "$pid" || code=$?
pid=
if [ -n "$pid1" ]; then
  echo "unshare exited with status $code: svscan, PID 1, stopped its supervisors, waited for them and"
  echo "exited (no .s6-svscan/finish), and the namespace went with it:"
else
  echo "svscan exited with status $code; on -t it stops its supervisors and waits for them:"
fi
for svc in hello hello/log sleeper; do
  if svok "$scan/$svc"; then state="still supervised"; else state="no supervisor left"; fi
  printf '  %-10s %s\n' "$svc" "$state"
done

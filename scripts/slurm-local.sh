#!/usr/bin/env bash
# A one-node Slurm on this machine, for the Slurm array-job test (test/cli/slurm.test.ts) and for
# trying docs/slurm/ by hand. It installs nothing: it needs Debian's slurm-wlm and munge
# (`sudo apt-get install slurm-wlm munge`, or `sudo scripts/setup-system.sh`), and root.
#
#   scripts/slurm-local.sh start [DIR]   writes DIR/slurm.conf and a munge key of its own, starts munged,
#                                        slurmctld and slurmd, waits until `sinfo` shows the node idle,
#                                        then prints `export SLURM_CONF=DIR/slurm.conf`, which the
#                                        clients (sbatch, squeue, scontrol, scancel) need
#   scripts/slurm-local.sh stop [DIR]    cancels this cluster's jobs, stops the three daemons (by their
#                                        pid files) and removes DIR
#   scripts/slurm-local.sh logs [DIR]    prints the daemons' logs (what a failed test shows)
#
# DIR defaults to $PMF_SLURM_DIR, else /tmp/pmf-slurm. Everything lives in DIR: munged gets its own
# key, socket and pid file there, Slurm its state, spool, pid and log files, and free ports on
# 127.0.0.1, so it touches nothing under /etc, /run or /var, needs no systemd, and two of these can
# run side by side. No cgroups either (proctrack/linuxproc, task/none, jobacct_gather/none): it runs
# in a container. Verified on Debian 12 (Slurm 22.05.8, munge 0.5.15).
set -euo pipefail

cmd=${1:-}
DIR=${2:-${PMF_SLURM_DIR:-/tmp/pmf-slurm}}
MARK=.pmf-slurm-local # a DIR holding it is ours to remove
die() { echo "slurm-local: $*" >&2; exit 1; }
log() { echo "slurm-local: $*" >&2; }

conf() { printf '%s/slurm.conf' "$DIR"; }
# A start that fails once something runs: the logs, then stop what did start, then the reason.
start_failed() { print_logs >&2; stop > /dev/null 2>&1 || true; die "$*"; }

print_logs() {
  local f
  for f in munged.log slurmctld.log slurmd.log; do
    [ -f "$DIR/log/$f" ] || continue
    echo "----- $DIR/log/$f (last 60 lines) -----"
    tail -n 60 "$DIR/log/$f"
  done
}

# Stops the daemons whose pid files are given: TERM to all at once (each takes about 2 s to
# exit), KILL to any left after 10 s.
stop_pidfiles() {
  local f pid pids=() alive
  for f in "$@"; do
    pid=$(cat "$f" 2> /dev/null || true)
    [ -n "$pid" ] && kill "$pid" 2> /dev/null && pids+=("$pid")
  done
  for _ in $(seq 1 100); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2> /dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -0 "$pid" 2> /dev/null && kill -9 "$pid" 2> /dev/null; done; true
  rm -f "$@"
}

stop() {
  [ -d "$DIR" ] || return 0
  [ -f "$DIR/$MARK" ] || die "$DIR was not made by scripts/slurm-local.sh start: not touching it"
  if [ -f "$DIR/run/slurmctld.pid" ] && kill -0 "$(cat "$DIR/run/slurmctld.pid")" 2> /dev/null; then
    # Jobs first, so that no slurmstepd and no job is left running once slurmd is gone.
    SLURM_CONF=$(conf) squeue -h -o %A 2> /dev/null | sort -u | SLURM_CONF=$(conf) xargs -r scancel --quiet 2> /dev/null || true
    for _ in $(seq 1 50); do
      [ -z "$(SLURM_CONF=$(conf) squeue -h -o %i -t running,completing 2> /dev/null)" ] && break
      sleep 0.2
    done
  fi
  stop_pidfiles "$DIR/run/slurmd.pid" "$DIR/run/slurmctld.pid" "$DIR/munge/munged.pid"
  rm -rf "$DIR"
  log "stopped; removed $DIR"
}

# A TCP port on 127.0.0.1 that nothing listens on (bash's /dev/tcp connects where something does).
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    case " ${taken:-} " in *" $p "*) continue ;; esac
    if ! (exec 3<> "/dev/tcp/127.0.0.1/$p") 2> /dev/null; then
      taken="${taken:-} $p"
      echo "$p"
      return 0
    fi
  done
  die "no free TCP port found"
}

start() {
  local missing=() b
  for b in munged munge unmunge slurmctld slurmd sbatch squeue sinfo scontrol scancel; do
    command -v "$b" > /dev/null || missing+=("$b")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: install Debian's Slurm and munge with \`sudo apt-get install slurm-wlm munge\` (or \`sudo scripts/setup-system.sh\`)"
  [ "$(id -u)" -eq 0 ] || die "slurmd runs jobs as their users and needs root: run this (and the test) as root"
  if [ -d "$DIR" ]; then
    if [ -f "$DIR/$MARK" ]; then
      log "$DIR holds an earlier local Slurm: stopping it first"
      stop
    else
      die "$DIR exists and was not made by this script: pass another DIR"
    fi
  fi
  mkdir -p "$DIR"
  local d
  d=$(cd "$DIR/.." && pwd)
  while :; do # munged refuses a socket below a folder that others cannot enter (mkdtemp's 700)
    [ "$(( 0$(stat -c %a "$d") & 1 ))" -eq 1 ] || { rmdir "$DIR" 2> /dev/null || true; die "$d is not searchable by others (mode $(stat -c %a "$d")), which munged requires above its socket: chmod o+x it or pick another DIR"; }
    [ "$d" = / ] && break
    d=$(dirname "$d")
  done
  touch "$DIR/$MARK"
  # munged wants its socket reachable by everyone (x on every folder above it), its key private.
  mkdir -p "$DIR/munge/key" "$DIR/log" "$DIR/run" "$DIR/state" "$DIR/spool"
  chmod 755 "$DIR" "$DIR/munge"
  chmod 700 "$DIR/munge/key"

  # munged with a key, socket, pid, seed and log file of its own (the system's munged, if any, is left alone).
  local key=$DIR/munge/key/munge.key sock=$DIR/munge/munge.socket
  [ -f "$key" ] || { dd if=/dev/urandom of="$key" bs=1 count=1024 status=none; chmod 400 "$key"; }
  munged --key-file="$key" --socket="$sock" --pid-file="$DIR/munge/munged.pid" \
    --seed-file="$DIR/munge/munged.seed" --log-file="$DIR/log/munged.log" ||
    start_failed "munged did not start"
  munge -S "$sock" -n | unmunge -S "$sock" > /dev/null ||
    start_failed "munge -n | unmunge fails on $sock"

  local host ctld_port slurmd_port
  host=$(hostname -s)
  ctld_port=$(free_port)
  slurmd_port=$(free_port)
  cat > "$(conf)" <<EOF
# Written by scripts/slurm-local.sh: a one-node Slurm, everything in $DIR, no cgroups.
ClusterName=pmflocal
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=600
SchedulerParameters=sched_min_interval=0
SlurmdTimeout=60
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF
  SLURM_CONF=$(conf)
  slurmctld -f "$SLURM_CONF" || start_failed "slurmctld did not start"
  slurmd -f "$SLURM_CONF" -N "$host" || start_failed "slurmd did not start"

  local state=""
  for _ in $(seq 1 150); do
    state=$(sinfo -h -N -n "$host" -o %t 2> /dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.2
  done
  [ "$state" = idle ] ||
    start_failed "node $host is '${state:-unknown}', not idle, 30 s after starting slurmctld and slurmd (logs above)"
  log "node $host idle (slurmctld :$ctld_port, slurmd :$slurmd_port, $(nproc) CPUs); state in $DIR"
  echo "export SLURM_CONF=$SLURM_CONF"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  logs) print_logs ;;
  *) echo "usage: scripts/slurm-local.sh start|stop|logs [DIR]" >&2; exit 2 ;;
esac

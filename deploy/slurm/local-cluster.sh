#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for trying deploy/slurm/ and for the tests
# (tests/deploy/test_slurm.py). Not for production: no accounting, no authentication
# (AuthType=auth/none), root runs the jobs.
#
#   deploy/slurm/local-cluster.sh install          # Debian packages slurmctld slurmd slurm-client
#   deploy/slurm/local-cluster.sh start DIR [GPUS] # configuration, state and logs in DIR
#   export SLURM_CONF=DIR/slurm.conf               # every client (sbatch, dask-jobqueue) reads it
#   deploy/slurm/local-cluster.sh stop DIR         # stops the daemons; DIR can then be removed
#
# The node has GPUS (default 2) GPUs as a generic resource ("gres") without a real GPU: each
# names a character device of DIR/dev, so `--gres=gpu:1` jobs get CUDA_VISIBLE_DEVICES and a
# job waits while the GPUs are taken, as on a GPU cluster. The daemons run in the foreground
# under setsid (no systemd needed); their PIDs are kept in DIR/*.pid for the stop.
# SLURMCTLD_PORT and SLURMD_PORT (default 6817, 6818) let several clusters run side by side.
set -euo pipefail

SBIN=${SLURM_SBIN:-/usr/sbin}

die() { echo "local-cluster: $*" >&2; exit 1; }

install_packages() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
        && return 0
    [ "$(id -u)" = 0 ] || die "installing SLURM needs root"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client >/dev/null
}

write_config() {
    local dir=$1 gpus=$2 cpus mem_mb
    cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)   # nproc alone obeys OMP_NUM_THREADS
    # what slurmd will find, less some for the system; DefMemPerCPU keeps one job from
    # taking the whole node's memory (and so the whole node)
    mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
    mkdir -p "$dir"/{state,spool,log,dev}
    local files="" i
    for ((i = 0; i < gpus; i++)); do
        # a GPU without a GPU: any character device will do (/dev/null's numbers)
        [ -e "$dir/dev/gpu$i" ] || mknod "$dir/dev/gpu$i" c 1 3
        files+="$dir/dev/gpu$i,"
    done
    cat >"$dir/slurm.conf" <<EOF
ClusterName=hts-local
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
AuthType=auth/none
CredType=cred/none
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.daemon.pid
SlurmdPidFile=$dir/slurmd.daemon.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
MailProg=/bin/true
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$((mem_mb / cpus))
MinJobAge=30
KillWait=5
SlurmctldTimeout=30
SlurmdTimeout=60
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:$gpus State=UNKNOWN
PartitionName=gpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
    # File= is required: a gpu gres without devices drains the node
    printf 'AutoDetect=off\nNodeName=localhost Name=gpu File=%s\n' "${files%,}" >"$dir/gres.conf"
}

start() {
    local dir gpus=${2:-2} t0
    [ -n "${1:-}" ] || die "usage: $0 start DIR [GPUS]"
    command -v "$SBIN/slurmctld" >/dev/null || die "SLURM is not installed (run: $0 install)"
    mkdir -p "$1"
    dir=$(cd "$1" && pwd)
    t0=$(date +%s.%N)
    write_config "$dir" "$gpus"
    export SLURM_CONF=$dir/slurm.conf
    # -i: ignore state of an earlier cluster in DIR; -D: foreground, so the PID is the daemon's
    setsid "$SBIN/slurmctld" -D -i -f "$SLURM_CONF" >"$dir/log/slurmctld.out" 2>&1 </dev/null &
    echo $! >"$dir/slurmctld.pid"
    setsid "$SBIN/slurmd" -D -f "$SLURM_CONF" >"$dir/log/slurmd.out" 2>&1 </dev/null &
    echo $! >"$dir/slurmd.pid"
    local state="" i
    for ((i = 0; i < 600; i++)); do
        state=$(sinfo -h -N -o %t 2>/dev/null | head -1 || true)
        [ "$state" = idle ] && break
        sleep 0.1
    done
    if [ "$state" != idle ]; then
        echo "local-cluster: the node did not become idle (state '${state}'):" >&2
        tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
        stop "$dir"
        exit 1
    fi
    echo "SLURM cluster up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s;" \
        "export SLURM_CONF=$SLURM_CONF"
}

stop_pid() {
    local file=$1 pid i
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
}

stop() {
    [ -n "${1:-}" ] || die "usage: $0 stop DIR"
    [ -d "$1" ] || return 0
    local dir
    dir=$(cd "$1" && pwd)
    # jobs first (their steps would outlive slurmd), then the node, then the controller
    if [ -f "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
        SLURM_CONF=$dir/slurm.conf timeout 10 scancel --full --user=root >/dev/null 2>&1 || true
    fi
    stop_pid "$dir/slurmd.pid"
    stop_pid "$dir/slurmctld.pid"
}

case "${1:-}" in
    install) install_packages ;;
    start) shift; start "$@" ;;
    stop) shift; stop "$@" ;;
    *) die "usage: $0 install | start DIR [GPUS] | stop DIR" ;;
esac

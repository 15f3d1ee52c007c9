#!/usr/bin/env bash
# A one-node (Son of) Grid Engine cluster on this machine, for trying deploy/sge/ and for
# the tests (tests/deploy/test_sge.py). Not for production: root runs the jobs.
#
#   deploy/sge/local-cluster.sh install          # Debian packages gridengine-{master,exec,client}
#   deploy/sge/local-cluster.sh start DIR [GPUS] # logs and PIDs in DIR
#   export SGE_ROOT=/var/lib/gridengine SGE_CELL=default   # qsub, qstat, dask-jobqueue
#   deploy/sge/local-cluster.sh stop DIR
#
# Debian's packages keep the cell's configuration in /var/lib/gridengine and its spool in
# /var/spool/gridengine; start (re)configures it: this host's name as an alias of
# localhost, jobs of root allowed (min_uid 0), a 1-second scheduling interval, an `smp`
# parallel environment, a queue `all.q` with a slot per core, and GPUS (default 2) GPUs as
# the consumable `gpu` (-l gpu=1). The daemons run in the foreground (SGE_ND) under setsid.
set -euo pipefail

export SGE_ROOT=${SGE_ROOT:-/var/lib/gridengine} SGE_CELL=${SGE_CELL:-default}

die() { echo "local-cluster: $*" >&2; exit 1; }

install_packages() {
    [ -x /usr/sbin/sge_qmaster ] && [ -x /usr/sbin/sge_execd ] && command -v qsub >/dev/null \
        && return 0
    [ "$(id -u)" = 0 ] || die "installing Grid Engine needs root"
    local pkg
    for pkg in gridengine-common gridengine-client gridengine-master; do
        debconf-set-selections <<EOT
$pkg shared/gridenginemaster string localhost
$pkg shared/gridenginecell string default
$pkg shared/gridengineconfig boolean true
EOT
    done
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        gridengine-master gridengine-exec gridengine-client >/dev/null
}

# qconf -A* adds, -M* modifies: whichever applies to an object that may exist already
put() {
    local kind=$1 file=$2
    qconf "-A$kind" "$file" >/dev/null 2>&1 || qconf "-M$kind" "$file" >/dev/null 2>&1
}

configure() {
    local dir=$1 gpus=$2 cores
    cores=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)   # nproc alone obeys OMP_NUM_THREADS
    qconf -sconf | sed 's/^min_uid .*/min_uid 0/; s/^min_gid .*/min_gid 0/' >"$dir/global"
    (cd "$dir" && qconf -Mconf global >/dev/null 2>&1)
    qconf -as localhost >/dev/null 2>&1 || true   # "already exists" on a restart
    # and `qstat -j` says why a job waits
    qconf -ssconf | sed 's/^schedule_interval .*/schedule_interval 0:0:1/;
        s/^schedd_job_info .*/schedd_job_info true/' >"$dir/sched"
    qconf -Msconf "$dir/sched" >/dev/null 2>&1
    if ! qconf -sc | grep -q '^gpu '; then
        { qconf -sc; echo "gpu gpu INT <= YES YES 0 0"; } >"$dir/complexes"
        qconf -Mc "$dir/complexes" >/dev/null 2>&1
    fi
    printf '%s\n' "pe_name smp" "slots 999" "user_lists NONE" "xuser_lists NONE" \
        "start_proc_args /bin/true" "stop_proc_args /bin/true" "allocation_rule \$pe_slots" \
        "control_slaves FALSE" "job_is_first_task TRUE" "urgency_slots min" \
        "accounting_summary FALSE" "qsort_args NONE" >"$dir/smp.pe"
    put p "$dir/smp.pe"
    printf '%s\n' "hostname localhost" "load_scaling NONE" "complex_values gpu=$gpus" \
        "user_lists NONE" "xuser_lists NONE" "projects NONE" "xprojects NONE" \
        "usage_scaling NONE" "report_variables NONE" >"$dir/localhost.host"
    put e "$dir/localhost.host"
    # the queue: the defaults of `qconf -sq`, on this host, with the cores as slots
    {
        echo "qname all.q"; echo "hostlist localhost"; echo "seq_no 0"
        echo "load_thresholds NONE"; echo "suspend_thresholds NONE"; echo "nsuspend 1"
        echo "suspend_interval 00:05:00"; echo "priority 0"; echo "min_cpu_interval 00:05:00"
        echo "processors UNDEFINED"; echo "qtype BATCH INTERACTIVE"; echo "ckpt_list NONE"
        echo "pe_list smp"; echo "rerun FALSE"; echo "slots $cores"; echo "tmpdir /tmp"
        echo "shell /bin/sh"; echo "prolog NONE"; echo "epilog NONE"
        echo "shell_start_mode unix_behavior"; echo "starter_method NONE"
        echo "suspend_method NONE"; echo "resume_method NONE"; echo "terminate_method NONE"
        echo "notify 00:00:60"; echo "owner_list NONE"; echo "user_lists NONE"
        echo "xuser_lists NONE"; echo "subordinate_list NONE"; echo "complex_values NONE"
        echo "projects NONE"; echo "xprojects NONE"; echo "calendar NONE"
        echo "initial_state default"
        for limit in rt cpu fsize data stack core rss vmem; do
            echo "s_$limit INFINITY"; echo "h_$limit INFINITY"
        done
    } >"$dir/all.q"
    put q "$dir/all.q"
}

start() {
    local dir gpus=${2:-2} t0 i
    [ -n "${1:-}" ] || die "usage: $0 start DIR [GPUS]"
    [ -x /usr/sbin/sge_qmaster ] || die "Grid Engine is not installed (run: $0 install)"
    mkdir -p "$1"
    dir=$(cd "$1" && pwd)
    # one cell per machine (Debian's): not beside a qmaster started elsewhere (a service)
    ! timeout 5 qconf -sh >/dev/null 2>&1 || die "a Grid Engine qmaster is already running"
    t0=$(date +%s.%N)
    # the host's name resolves to 127.0.0.1, whose name is localhost: one host, two names
    echo "localhost $(hostname)" >"$SGE_ROOT/$SGE_CELL/common/host_aliases"
    echo localhost >"$SGE_ROOT/$SGE_CELL/common/act_qmaster"
    SGE_ND=1 setsid /usr/sbin/sge_qmaster >"$dir/qmaster.log" 2>&1 </dev/null &
    echo $! >"$dir/qmaster.pid"
    for ((i = 0; i < 300; i++)); do qconf -sh >/dev/null 2>&1 && break; sleep 0.1; done
    qconf -sh >/dev/null 2>&1 || { tail -n 20 "$dir/qmaster.log" >&2; stop "$dir"; die "no qmaster"; }
    configure "$dir" "$gpus"
    SGE_ND=1 setsid /usr/sbin/sge_execd >"$dir/execd.log" 2>&1 </dev/null &
    echo $! >"$dir/execd.pid"
    # ready when the execution host reports its load (the queue is not in alarm 'au')
    for ((i = 0; i < 600; i++)); do
        qstat -f -q all.q 2>/dev/null | grep -q '^all.q@localhost .*lx-[a-z0-9]* *$' && break
        sleep 0.1
    done
    if ! qstat -f -q all.q 2>/dev/null | grep -q '^all.q@localhost .*lx-[a-z0-9]* *$'; then
        qstat -f >&2 || true
        stop "$dir"
        die "the execution host did not come up"
    fi
    echo "Grid Engine up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s;" \
        "export SGE_ROOT=$SGE_ROOT SGE_CELL=$SGE_CELL"
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
    local dir i
    dir=$(cd "$1" && pwd)
    if [ -f "$dir/qmaster.pid" ] && kill -0 "$(cat "$dir/qmaster.pid")" 2>/dev/null; then
        timeout 10 qdel -u root '*' >/dev/null 2>&1 || true
        for ((i = 0; i < 100; i++)); do
            [ -z "$(qstat -u root 2>/dev/null)" ] && break
            sleep 0.1
        done
    fi
    stop_pid "$dir/execd.pid"
    stop_pid "$dir/qmaster.pid"
}

case "${1:-}" in
    install) install_packages ;;
    start) shift; start "$@" ;;
    stop) shift; stop "$@" ;;
    *) die "usage: $0 install | start DIR [GPUS] | stop DIR" ;;
esac

#!/usr/bin/env bash
# bench-fanout-ab.sh: `parley bench fanout` for two builds, run alternately
# in the same window (A B A B …) so that a shared machine's load falls on
# both alike; prints every run and the medians of each column.
#
#   scripts/bench-fanout-ab.sh BASE_REF [RUNS] -- [bench fanout flags…]
#
# BASE_REF (e.g. main) is built from a temporary worktree; B is the working
# tree. Both binaries run with the SAME bench flags; each run gets a fresh
# data directory (under $BENCH_DIR, default a temp dir: set it to a disk
# path to measure the disk, /dev/shm for tmpfs). The load generator is the
# working tree's (its bench code is copied into the base build) so only
# the server differs.
set -euo pipefail
base=${1:?usage: $0 BASE_REF [RUNS] -- [bench flags]}
shift
runs=3
if [[ $# -gt 0 && $1 != -- ]]; then runs=$1; shift; fi
[[ ${1:-} == -- ]] && shift
root=$(git rev-parse --show-toplevel)
work=$(mktemp -d /tmp/bench-ab.XXXXXX)
cleanup() { git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
git -C "$root" worktree add --detach "$work/base" "$base" >/dev/null 2>&1
cp "$root/cmd/parley/bench.go" "$work/base/cmd/parley/bench.go"
(cd "$work/base" && go build -o "$work/A" ./cmd/parley)
(cd "$root" && go build -o "$work/B" ./cmd/parley)
datadir=${BENCH_DIR:-$work}
for i in $(seq "$runs"); do
  for v in A B; do
    rm -rf "$datadir/pb-$v"
    out=$("$work/$v" bench fanout "$@" --data "$datadir/pb-$v" 2>/dev/null) || true
    rm -rf "$datadir/pb-$v"
    line=$(awk -v v="$v" -v i="$i" '
      /delivered/ {d=$2}
      /latency/ {p50=$3; p99=$5}
      /lost/ {lost=$4}
      /cpu/ {srv=$3; gen=$7; load=$13; sub(/\)/,"",load)}
      /idle memory/ {mem=$3}
      /marginal/ {live=$2}
      END {printf "%s run %s: delivered/s %s p50 %s p99 %s lost %s server-cores %s gen-cores %s idle-KB %s load %s marginal-KB %s\n", v, i, d, p50, p99, lost, srv, gen, (mem==""?"-":mem), load, (live==""?"-":live)}' <<<"$out")
    echo "$line" | tee -a "$work/results"
  done
done
echo "medians over $runs runs (flags: $*):"
for v in A B; do
  awk -v v="$v" '
    function ms(x) { if (x ~ /µs$/) return x/1000; if (x ~ /ms$/) return x+0; if (x ~ /s$/) return x*1000; return x }
    function med(a, n,   i, j, t) { for (i=1;i<=n;i++) for (j=i+1;j<=n;j++) if (a[j]<a[i]) {t=a[i];a[i]=a[j];a[j]=t}; return n%2 ? a[(n+1)/2] : (a[n/2]+a[n/2+1])/2 }
    $1==v { n++; d[n]=$5; p50[n]=ms($7); p99[n]=ms($9); s[n]=$13; g[n]=$15; if ($17!="-") { m++; mem[m]=$17 }; if ($21!="-") { l++; live[l]=$21 } }
    END { printf "%s (%s): delivered/s %.0f  p50 %.2f ms  p99 %.2f ms  server %.2f cores  generator %.2f cores  idle %s KB/conn  marginal %s KB/conn\n",
          v, (v=="A" ? "base" : "working tree"), med(d,n), med(p50,n), med(p99,n), med(s,n), med(g,n), (m ? sprintf("%.1f", med(mem,m)) : "-"), (l ? sprintf("%.1f", med(live,l)) : "-") }' "$work/results"
done

#!/bin/sh
# Run libFuzzer targets for a fixed time each and record what they did.
#
#   sh mk/fuzz-run.sh B SECONDS TARGET...
#
# Seeds come from fuzz/corpus/TARGET/ (kept in git); new inputs go to
# B/fuzz/work/TARGET/ and are merged back into fuzz/corpus/TARGET/ at the
# end (libFuzzer -merge=1 adds only inputs that add coverage; no seed is
# ever removed, so regression inputs stay).  A crash
# leaves its input in B/fuzz/crashes/ and makes the script exit 1.  One line
# per target is appended to B/fuzz/runs.log: target, seconds, executions,
# coverage, result.
#
# SPDX-License-Identifier: ISC
set -u
b=$1; secs=$2; shift 2
status=0
mkdir -p "$b/fuzz/work" "$b/fuzz/crashes" "$b/fuzz/logs"
for t in "$@"; do
	bin="$b/fuzz/fuzz_$t"
	[ -x "$bin" ] || { echo "fuzz-run: $bin not built (make fuzz)" >&2; exit 2; }
	seeds="fuzz/corpus/$t"; work="$b/fuzz/work/$t"; log="$b/fuzz/logs/$t.log"
	mkdir -p "$seeds" "$work"
	"$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
	    -rss_limit_mb=2048 -artifact_prefix="$b/fuzz/crashes/$t-" \
	    "$work" "$seeds" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	if [ $rc -eq 0 ]; then result=ok; else result="FAILED rc=$rc"; status=1; fi
	# New inputs join the seeds only where they add coverage; seeds,
	# regression inputs among them, are never removed.
	"$bin" -merge=1 "$seeds" "$work" >/dev/null 2>&1 ||
	    echo "fuzz-run: $t: merging new inputs into $seeds failed" >&2
	line="$t ${secs}s execs=${execs:-?} cov=${cov:-?} seeds=$(ls "$seeds" | wc -l) $result"
	echo "$(date -u +%FT%TZ) $line" >>"$b/fuzz/runs.log"
	echo "fuzz-run: $line"
done
exit $status

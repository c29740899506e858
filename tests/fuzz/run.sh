#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the fuzz targets with clang (libFuzzer, ASan, UBSan) and runs each
# for SECONDS on a seed corpus recorded from a real program; prints TAP.
# meson cannot build one target with another compiler, so this does it by
# hand: every tools/*.c and *.cpp but main.c, the code `heldby report` runs.
#
#   tests/fuzz/run.sh BUILD_DIR HELDBY VICTIM SECONDS [libFuzzer options...]
#
# BUILD_DIR receives the objects, the targets, the corpora and any crash
# input (BUILD_DIR/artifacts/). Inputs that once failed live in
# tests/fuzz/regressions/TARGET/ and are replayed first.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
out=$1 heldby=$2 victim=$3 seconds=$4
shift 4
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; }
finish() { echo "1..$n"; exit $failed; }

# A small quarantine, so that -rss_limit_mb measures our memory, not ASan's.
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=32}"
CC=${CC_FUZZ:-clang}
CXX=${CXX_FUZZ:-clang++}
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
mkdir -p "$out/obj" "$out/artifacts"
probe="$out/probe.c"
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return d && n; }' >"$probe"
if ! $CC -fsanitize=fuzzer $san "$probe" -o "$out/probe" >/dev/null 2>&1; then
	echo "ok 1 - fuzz # SKIP $CC -fsanitize=fuzzer does not work (clang, libclang-rt-14-dev)"
	echo "1..1"
	exit 0
fi

flags="-g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -I$src/include -I$src/tools $san"
libs="$(pkg-config --libs libdw libzstd) -lelf -lm -lstdc++"
objs=""
build_ok=1
for f in "$src"/tools/*.c "$src"/tools/*.cpp; do
	base=$(basename "$f")
	[ "$base" = main.c ] && continue
	o="$out/obj/$base.o"
	objs="$objs $o"
	# Rebuild when the source or any header is newer than the object.
	if [ -f "$o" ] && [ -z "$(find "$f" "$src/tools" "$src/include" -newer "$o" -name '*.h' -o \
		-newer "$o" -path "$f" 2>/dev/null | head -n 1)" ]; then
		continue
	fi
	case "$f" in
	*.cpp) $CXX -std=c++17 -fno-exceptions -fsanitize=fuzzer-no-link $flags -c "$f" -o "$o" || build_ok=0 ;;
	*) $CC -std=c11 -fsanitize=fuzzer-no-link $flags -c "$f" -o "$o" || build_ok=0 ;;
	esac
done
for t in fuzz_trace fuzz_records; do
	$CC -std=c11 -fsanitize=fuzzer $flags "$src/tests/fuzz/$t.c" $objs $libs -o "$out/$t" || build_ok=0
done
$CC -std=c11 -O2 -I"$src/include" "$src/tests/fuzz/seed_records.c" $(pkg-config --libs libzstd) \
	-o "$out/seed_records" || build_ok=0
if [ $build_ok = 1 ]; then ok "fuzz_targets_build_with_clang"; else not_ok "fuzz_targets_build_with_clang"; finish; fi

# Seeds: a real trace of a small program, and its blocks' records.
seeds="$out/seeds"
rm -rf "$seeds" && mkdir -p "$seeds/trace" "$seeds/records"
"$heldby" run -o "$seeds/trace/real.%p.hbt" -- "$victim" >/dev/null 2>&1
real=$(ls "$seeds"/trace/real.*.hbt 2>/dev/null | head -n 1)
if [ -n "$real" ] && "$out/seed_records" "$real" "$seeds/records/real.rec"; then
	ok "fuzz_seed_corpus_from_a_real_trace"
else
	not_ok "fuzz_seed_corpus_from_a_real_trace"
	finish
fi

# Each target: the regression inputs once, then SECONDS of fuzzing from a
# fresh corpus (so a run depends on the seeds, not on earlier runs).
for t in fuzz_trace fuzz_records; do
	kind=${t#fuzz_}
	reg="$src/tests/fuzz/regressions/$t"
	if [ -d "$reg" ] && [ -n "$(ls "$reg")" ]; then
		if "$out/$t" -rss_limit_mb=512 -timeout=5 "$reg"/* >"$out/$t.regress.log" 2>&1; then
			ok "${t}_regression_inputs_pass"
		else
			not_ok "${t}_regression_inputs_pass"
			tail -n 30 "$out/$t.regress.log" | sed 's/^/#   /'
		fi
	fi
	corpus="$out/corpus-$kind"
	rm -rf "$corpus" && mkdir -p "$corpus"
	if "$out/$t" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=512 -timeout=5 \
		-artifact_prefix="$out/artifacts/$t-" -print_final_stats=1 "$@" \
		"$corpus" "$seeds/$kind" >"$out/$t.log" 2>&1; then
		ok "${t}_${seconds}s_without_crash_hang_or_leak"
	else
		not_ok "${t}_${seconds}s_without_crash_hang_or_leak"
		grep -E "ERROR|SUMMARY|Test unit written|==[0-9]+==" "$out/$t.log" | head -n 20 | sed 's/^/#   /'
		tail -n 30 "$out/$t.log" | sed 's/^/#   /'
	fi
	grep -E "stat::number_of_executed_units|cov:" "$out/$t.log" | tail -n 2 | sed 's/^/# /'
done
finish

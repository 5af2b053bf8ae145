#!/usr/bin/env bash
# Builds the libFuzzer targets and runs them.
#
#   Fuzz/run.sh build [TARGET...]          build with libFuzzer instrumentation (release, own scratch path)
#   Fuzz/run.sh fuzz [TARGET...]           run each target for FUZZ_SECONDS (default 600), one after another
#   Fuzz/run.sh smoke [TARGET...]          run each for SMOKE_SECONDS (default 20) after its seed corpus
#   Fuzz/run.sh replay TARGET FILE...      run single inputs (a saved crash, say) through one target
#
# Inputs found while fuzzing go to .build-fuzz/corpus/TARGET (the committed seeds under
# Fuzz/Corpus/TARGET are only read); crashes, hangs (one input over 10 s) and inputs needing
# over 2 GB go to .build-fuzz/findings/TARGET/. The status is non-zero when any target failed.
#
# FUZZ_SANITIZE=address adds AddressSanitizer (its own build in .build-fuzz-address): slower, but
# catches out-of-bounds reads through the JSON parser's unsafe buffer pointers, which release
# builds do not bounds-check. FUZZ_CONFIGURATION=debug (own build in .build-fuzz-debug) compiles
# faster from scratch and checks those bounds too, but runs several times slower.
set -uo pipefail
cd "$(dirname "$0")/.."

SWIFT=${SWIFT:-swift}
SANITIZE=${FUZZ_SANITIZE:-}
CONFIGURATION=${FUZZ_CONFIGURATION:-release}
SCRATCH=.build-fuzz${SANITIZE:+-$SANITIZE}
[ "$CONFIGURATION" = release ] || SCRATCH=$SCRATCH-$CONFIGURATION
SANITIZE_FLAGS=(--sanitize fuzzer)
RUN_FLAGS=()
if [ -n "$SANITIZE" ]; then
    # swiftc keeps only its last -sanitize= flag, so Swift code also gets both in one.
    SANITIZE_FLAGS+=(--sanitize "$SANITIZE" -Xswiftc "-sanitize=fuzzer,$SANITIZE")
    RUN_FLAGS+=(-detect_leaks=0) # the runtime's caches live until exit and would read as leaks
fi
ALL_TARGETS=(FuzzJSON FuzzConfig FuzzRules FuzzCDI FuzzIngress FuzzFleetRecords)
export SYNCBRIDGE_FUZZ=1 # declares the targets in Package.swift
# Swift's crash backtracer would take the signal of a trap first, and libFuzzer leaves a handler
# that is already installed alone: the run would die without saving the input.
export SWIFT_BACKTRACE=enable=no

# Longest input per target: big enough for the samples and their mutations, small enough
# to keep each run fast. A hang is one input running over 10 s.
max_len() {
    case $1 in
    FuzzJSON) echo 8192 ;;
    FuzzConfig | FuzzRules) echo 4096 ;;
    *) echo 2048 ;;
    esac
}

dictionary() {
    case $1 in
    FuzzJSON) echo Fuzz/Dictionaries/json.dict ;;
    FuzzConfig | FuzzRules) echo Fuzz/Dictionaries/yaml.dict ;;
    FuzzCDI) echo Fuzz/Dictionaries/cdi.dict ;;
    FuzzIngress) echo Fuzz/Dictionaries/ingress.dict ;;
    FuzzFleetRecords) echo Fuzz/Dictionaries/json.dict ;;
    esac
}

build() {
    local target
    for target in "$@"; do
        echo "== building $target"
        # -enable-testing: the CDI and ingress targets reach internal parsing code through @testable.
        # Only errors and the result are shown: the dependencies' warnings would bury them.
        nice -n 10 "$SWIFT" build -c "$CONFIGURATION" --scratch-path "$SCRATCH" "${SANITIZE_FLAGS[@]}" \
            -Xswiftc -enable-testing --product "$target" 2>&1 | grep -E "error:|Build of product|Compiling Fuzz" || return 1
    done
}

# run SECONDS TARGET: fuzzes one target, prints a one-line summary, fails on any finding.
run() {
    local seconds=$1 target=$2
    local corpus=$SCRATCH/corpus/$target findings=$SCRATCH/findings/$target log=$SCRATCH/logs/$target.log
    mkdir -p "$corpus" "$findings" "$(dirname "$log")"
    echo "== $target for ${seconds}s (log: $log)"
    nice -n 10 "$SCRATCH/$CONFIGURATION/$target" "$corpus" "Fuzz/Corpus/$target" \
        -max_total_time="$seconds" -max_len="$(max_len "$target")" -timeout=10 -rss_limit_mb=2048 \
        -dict="$(dictionary "$target")" -artifact_prefix="$findings/" -print_final_stats=1 ${RUN_FLAGS[@]+"${RUN_FLAGS[@]}"} >"$log" 2>&1
    local status=$?
    local last runs rate
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    echo "   runs: ${runs:-?}, per second: ${rate:-?}, last status: ${last:-none}"
    if [ $status -ne 0 ]; then
        echo "   FAILED (exit $status); input saved in $findings:"
        grep -E '^==[0-9]+== ?ERROR|Fatal error|property failed|ALARM|out-of-memory|deadly signal|Test unit written' "$log" | head -8 | sed 's/^/   /'
        return 1
    fi
}

command=${1:-}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${ALL_TARGETS[@]}")

case $command in
build)
    build "${targets[@]}"
    ;;
fuzz | smoke)
    if [ "$command" = fuzz ]; then seconds=${FUZZ_SECONDS:-600}; else seconds=${SMOKE_SECONDS:-20}; fi
    start=$(date +%s)
    build "${targets[@]}" || exit 1
    echo "== built in $(($(date +%s) - start))s"
    failed=()
    for target in "${targets[@]}"; do run "$seconds" "$target" || failed+=("$target"); done
    if [ ${#failed[@]} -gt 0 ]; then
        echo "fuzzing found problems in: ${failed[*]}"
        exit 1
    fi
    echo "all fuzz targets ran clean"
    ;;
replay)
    target=${targets[0]:?name a target}
    nice -n 10 "$SCRATCH/$CONFIGURATION/$target" -timeout=10 -rss_limit_mb=2048 ${RUN_FLAGS[@]+"${RUN_FLAGS[@]}"} "${targets[@]:1}"
    ;;
*)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac

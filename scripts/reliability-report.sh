#!/usr/bin/env bash
# The reliability figures of one test run, gathered in one place: per fault suite, the tests
# run and passed per engine; the bad inputs and hostile archives tried; the fake engine's
# faults; the peak memory of every output flood mode; what the run left behind; the fuzzing.
#
#   scripts/reliability-report.sh TEST_LOG REPORT [FUZZ_LOG]
#
# TEST_LOG is the output of `cargo test` (scripts/test.sh keeps it in target/test-output.log),
# REPORT the lines the tests noted (`POCKETDOCK_TEST_REPORT`, see tests/src/lib.rs `report`)
# and scripts/leftovers.sh printed, FUZZ_LOG the output of scripts/fuzz.sh. It only reads: the
# run's own checks decide whether it passed.
set -euo pipefail

[[ $# -ge 2 ]] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
log=$1 report=$2 fuzz=${3:-}
[[ -f $log ]] || { echo "no test log at $log" >&2; exit 2; }
[[ -f $report ]] || { echo "no report at $report" >&2; exit 2; }

echo "== reliability figures"
echo
echo "Fault suites: tests passed / run (a test is one scenario on one adapter and engine)"
awk '
    BEGIN {
        title["faults_container_gone"] = "container killed or removed during a call"
        title["faults_engine_stop"] = "engine stopped during a call"
        title["faults_resources"] = "out of memory, fork bomb"
        title["faults_flood"] = "output floods (GiBs, every mode)"
        title["faults_hostile_archive"] = "hostile archives on pull"
        title["faults_fake_engine"] = "fake engine (malformed bytes, slow loris)"
        title["bad_input"] = "bad input through the CLI and the API"
        title["crash_cleanup"] = "owner killed with SIGKILL, TTLs"
        title["limits_report"] = "limits read back from inside"
        n = split("faults_container_gone faults_engine_stop faults_resources faults_flood faults_hostile_archive faults_fake_engine bad_input crash_cleanup limits_report", order, " ")
    }
    /^ *Running / {
        suite = ""
        if (match($0, /tests\/[a-z_]+\.rs/)) suite = substr($0, RSTART + 6, RLENGTH - 9)
        next
    }
    suite != "" && /^test .* \.\.\. (ok|FAILED)$/ {
        name = $2
        engine = "none"
        if (name ~ /(^|::)podman(::|$)/) engine = "podman"
        else if (name ~ /(^|::)docker(::|$)/) engine = "docker"
        if (engine == "none" && name == "child_entry") next
        run[suite, engine]++
        if ($NF == "ok") ok[suite, engine]++
    }
    function cell(s, e) { return (run[s, e] ? (ok[s, e] + 0) "/" run[s, e] : "-") }
    END {
        printf "  %-46s %9s %9s %9s\n", "suite", "podman", "docker", "no engine"
        for (i = 1; i <= n; i++) {
            s = order[i]
            printf "  %-46s %9s %9s %9s\n", title[s], cell(s, "podman"), cell(s, "docker"), cell(s, "none")
            tp += ok[s, "podman"]; tr += run[s, "podman"]
            dp += ok[s, "docker"]; dr += run[s, "docker"]
            np += ok[s, "none"]; nr += run[s, "none"]
        }
        printf "  %-46s %9s %9s %9s\n", "all", tp "/" tr, dp "/" dr, np "/" nr
    }
' "$log"

echo
echo "Hostile inputs tried (each refused or obeyed as it should be; the suites above assert it)"
awk '
    $1 == "bad-input" { bad[$2]++ }
    $1 == "hostile-archive" { arch[$2]++; if ($NF != "outside=0") outside[$2]++ }
    $1 == "fake-engine" { fake++; kinds[$4] = 1 }
    END {
        printf "  bad inputs (CLI and API):     podman %d, docker %d\n", bad["podman"], bad["docker"]
        printf "  hostile archives pulled:      podman %d, docker %d; entries written outside the destination: %d\n", arch["podman"], arch["docker"], outside["podman"] + outside["docker"]
        k = 0; for (x in kinds) k++
        printf "  fake-engine faults survived:  %d (%d kinds of fault, every operation, blocking and tokio)\n", fake, k
    }
' "$report"

echo
echo "Output floods: peak resident memory of the host process (MiB; 1 GiB of stdout and 1 GiB of"
echo "stderr per flood, cap 1 MiB per stream)"
awk '
    $1 == "flood" {
        key = $2 " " $4
        split($5, p, "="); peak[key, $3] = p[2]
        if (!(key in seen)) { seen[key] = 1; keys[++n] = key }
    }
    END {
        if (n == 0) { print "  (no flood figures noted)"; exit }
        printf "  %-32s %8s %8s\n", "adapter, mode", "podman", "docker"
        for (i = 1; i <= n; i++) printf "  %-32s %8s %8s\n", keys[i], peak[keys[i], "podman"], peak[keys[i], "docker"]
    }
' "$report"
awk '$1 == "fake-engine-peak" { split($3, p, "="); if (p[2] + 0 > max) { max = p[2] + 0; at = $2 } ; n++ }
     END { if (n) printf "  fake engine, highest peak of its %d cells: %.1f MiB (%s)\n", n, max, at }' "$report"

echo
echo "Left behind by the whole run"
if grep -q '^leftover ' "$report"; then
    grep '^leftover ' "$report" | sed 's/^leftover /  /'
else
    echo "  (not counted: scripts/leftovers.sh did not run)"
fi

if [[ -n $fuzz && -f $fuzz ]]; then
    echo
    echo "Fuzzing"
    sed -n '/^== fuzz summary/,$p' "$fuzz" | sed '1d; s/^/  /'
fi

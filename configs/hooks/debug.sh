#!/bin/sh
# corelease run-script debug hook: appends the hook point (argv[1]) and every variable the
# server passed to /tmp/kea-hook-runscript-debug.log, as kea-hook-runscript's examples/debug.sh
# does. Watch it with:  tail -F /tmp/kea-hook-runscript-debug.log
#
# Works with both contracts corelease implements:
#   "hooks-libraries": [{ "library": "/usr/lib/kea/hooks/kea-hook-runscript.so",
#                         "parameters": { "script": "/etc/corelease/hooks/debug.sh", "wait": false } }]
#   "hooks-libraries": [{ "library": "/usr/lib/kea/hooks/libdhcp_run_script.so",
#                         "parameters": { "name": "/etc/corelease/hooks/debug.sh", "sync": false } }]
#
# The server clears the environment: only the contract's variables (KEA_*, or QUERY4_*,
# LEASE4_*, ... for libdhcp_run_script) are set, and no PATH, hence the one below.
# Values may hold client-supplied bytes (hostnames): they are printed, never evaluated, and a
# newline inside a value is written as \n so one variable stays on one line.

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
LOG=/tmp/kea-hook-runscript-debug.log

{
    printf '=== %s pid %s argv: %s\n' "$(date '+%Y-%m-%dT%H:%M:%S%z')" "$$" "$*"
    # NUL-separated so values with newlines survive; PATH is our own, not the server's.
    env -0 | sort -z | sed -z -e 's/\n/\\n/g' | tr '\0' '\n' | grep -v '^PATH=' | grep -v '^PWD='
} >> "$LOG" 2>&1

exit 0

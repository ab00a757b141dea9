#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the tests of one suite inside the guest and reports them as the
# kselftest runner does: a TAP 13 document, each test's output behind "# "
# (so KTAP printed by a test nests under it), and one result line per test
# from its exit code: 0 pass, 4 skip (KSFT_SKIP), 124 timeout, else fail.
#
# Usage: runner.sh SUITE PLAN, from the directory the tests are staged in.
# PLAN has one line per test: NAME<TAB>TIMEOUT_SECONDS<TAB>COMMAND.

set -o pipefail
suite=$1
plan=$2

echo "TAP version 13"
echo "1..$(grep -c . "$plan")"
n=0
while IFS=$'\t' read -r name seconds command; do
	[ -n "$name" ] || continue
	n=$((n + 1))
	echo "# selftests: $suite: $name"
	timeout --foreground "$seconds" bash -c "$command" </dev/null 2>&1 | sed -u 's/^/# /'
	rc=$?
	case $rc in
	0) echo "ok $n selftests: $suite: $name" ;;
	4) echo "ok $n selftests: $suite: $name # SKIP" ;;
	124) echo "not ok $n selftests: $suite: $name # TIMEOUT $seconds seconds" ;;
	*) echo "not ok $n selftests: $suite: $name # exit=$rc" ;;
	esac
done < "$plan"

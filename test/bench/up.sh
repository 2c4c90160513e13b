#!/usr/bin/env bash
# Measures what `make up` costs on top of Terraform itself, in one run, and prints a table:
#   make up:     `go run ./app/cmd/localenv up` (what `make up` runs) in a run directory
#                of its own, on a free REGISTRY_ADDR: emulator, synth, cdktf deploy,
#                registry, smoke
#   plain apply: `terraform init && terraform apply -auto-approve` of the stack directory
#                that up synthesized (cdktf.out/stacks/registry), against a fresh
#                emulator, with the same provider mirror configuration (only the
#                emulator's endpoint, in the stack and in AWS_ENDPOINT_URL, and the state
#                path differ)
#   overhead:    make up minus plain apply, in seconds and in % of plain apply (goal <= 20%)
# then where make up's time went (its phases, from its output's time stamps) and the
# resources the plain apply waited on for more than 5 s (the AWS provider's own waits).
# Each round takes the stack up deployed down again (`localenv down`, not in the figures).
#   BENCH_ROUNDS=n  rounds of up, down, plain apply (default 1); with more than one, the
#                   last row is the median of each column
#   BENCH_KEEP=1    keep the work directory with every log
#   BENCH_LOCALENV=path  run this build of app/cmd/localenv as make up instead of
#                   `go run ./app/cmd/localenv`, e.g. to compare two builds
set -euo pipefail
cd "$(dirname "$0")/../.."
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CHECKPOINT_DISABLE=1
unset ACME_ENV
rounds=${BENCH_ROUNDS:-1}

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-up.XXXXXX")
localenv=$work/localenv
cleanup() {
	if [ -x "$localenv" ]; then
		for d in "$work"/up-* "$work"/plain-*; do
			[ -d "$d" ] || continue
			"$localenv" -run-dir "$d" registry-stop
			"$localenv" -run-dir "$d" emulator-stop
		done >/dev/null 2>&1 || true
	fi
	if [ -n "${BENCH_KEEP:-}" ]; then echo "logs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

now() { echo "$EPOCHREALTIME"; }
# secs START END: END-START in seconds, one decimal.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# stamp: prefixes every line with the time it arrived (no process per line).
stamp() { while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done; }
fail() { echo "up.sh: $1 failed, see $2" >&2; BENCH_KEEP=1; exit 1; }
endpoint_of() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["endpoint"])' "$1"; }

# For the steps around the measurements (down, the plain apply's emulator).
go build -o "$localenv" ./app/cmd/localenv
free_addr() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print("127.0.0.1:%d" % s.getsockname()[1])'; }

up_cmd=(go run ./app/cmd/localenv)
[ -n "${BENCH_LOCALENV:-}" ] && up_cmd=("$BENCH_LOCALENV")

rows=()
for r in $(seq 1 "$rounds"); do
	up=$work/up-$r plain=$work/plain-$r
	mkdir -p "$plain/stack"

	# 1. make up, in its own run and output directories.
	t0=$(now)
	REGISTRY_ADDR=$(free_addr) "${up_cmd[@]}" -run-dir "$up" -out "$up/cdktf.out" up 2>&1 |
		sed -u 's/\x1b\[[0-9;?]*[A-Za-z]//g' | stamp >"$up.log" || fail "make up" "$up.log"
	t1=$(now)
	up_s=$(secs "$t0" "$t1")
	endpoint=$(endpoint_of "$up/emulator.json")
	cp "$up/cdktf.out/stacks/registry/cdk.tf.json" "$plain/cdk.tf.json.up" # before down synthesizes again
	"$localenv" -run-dir "$up" -out "$up/cdktf.out" down >"$up-down.log" 2>&1 || fail "make down" "$up-down.log"

	# 2. The same stack with plain Terraform on a fresh emulator.
	"$localenv" -run-dir "$plain" emulator-start >"$plain/emulator-start.log" 2>&1 ||
		fail "emulator start" "$plain/emulator-start.log"
	python3 - "$plain/cdk.tf.json.up" "$plain/stack/cdk.tf.json" "$endpoint" "$(endpoint_of "$plain/emulator.json")" \
		"$plain/state/registry.tfstate" <<-'EOF'
		import json, sys
		src, dst, old, new, state = sys.argv[1:]
		text = open(src).read()
		if old not in text:
		    sys.exit(f"{src} does not name the emulator endpoint {old}")
		stack = json.loads(text.replace(old, new))
		stack["terraform"]["backend"] = {"local": {"path": state}}
		json.dump(stack, open(dst, "w"), indent=2)
	EOF
	rc=(env "AWS_ENDPOINT_URL=$(endpoint_of "$plain/emulator.json")") # stacks.EmulatorEnv
	[ -f "$up/terraform.rc" ] && rc+=("TF_CLI_CONFIG_FILE=$up/terraform.rc")
	p0=$(now)
	(cd "$plain/stack" && "${rc[@]}" terraform init -input=false -no-color &&
		"${rc[@]}" terraform apply -auto-approve -input=false -no-color) >"$plain.log" 2>&1 ||
		fail "plain terraform apply" "$plain.log"
	plain_s=$(secs "$p0" "$(now)")
	"$localenv" -run-dir "$plain" emulator-stop >/dev/null 2>&1 || true

	overhead_s=$(secs "$plain_s" "$up_s")
	rows+=("$r $plain_s $up_s $overhead_s $(awk -v o="$overhead_s" -v p="$plain_s" 'BEGIN { printf "%.0f", 100 * o / p }')")
done

# 3. The table.
printf '%-6s %12s %10s %10s %12s\n' round "plain apply" "make up" overhead "% of plain"
printf '%-6s %12s %10s %10s %12s\n' ------ ------------ ---------- ---------- ------------
for row in "${rows[@]}"; do
	read -r r p u o pct <<<"$row"
	printf '%-6s %11ss %9ss %9ss %11s%%\n' "$r" "$p" "$u" "$o" "$pct"
done
if [ "$rounds" -gt 1 ]; then
	printf '%s\n' "${rows[@]}" | awk '
		{ for (c = 2; c <= 5; c++) v[c, NR] = $c }
		END {
			printf "%-6s", "median"
			for (c = 2; c <= 5; c++) {
				for (i = 1; i <= NR; i++) a[i] = v[c, i]
				for (i = 2; i <= NR; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
				m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
				if (c == 2) printf " %11.1fs", m
				else if (c == 5) printf " %11.0f%%", m
				else printf " %9.1fs", m
			}
			print ""
		}'
fi
echo "goal: overhead <= 20% of the plain apply"

# make up's phases (last round): from t0 to the first line of each step's output.
echo
echo "make up, where the time went (round $rounds):"
awk -v t0="$t0" -v t1="$t1" '
	function mark(name) { if (!(name in at)) { at[name] = $1; order[++n] = name } }
	/emulator starting at/          { mark("emulator build, its socket bound") }
	/Generated Terraform code/      { mark("synth (image, zip, jsii; emulator starts meanwhile)") }
	/emulator running at/           { mark("emulator ready (start not hidden by synth)") }
	/Apply complete!/               { mark("deploy (cdktf deploy: init, plan, apply)") }
	/The outputs have been written/ { mark("outputs (terraform output)") }
	/Smoke test against/            { mark("registry (binary, task environment, /health)") }
	END {
		prev = t0
		for (i = 1; i <= n; i++) { printf "  %-52s %7.1fs\n", order[i], at[order[i]] - prev; prev = at[order[i]] }
		printf "  %-52s %7.1fs\n", "smoke, summary", t1 - prev
	}' "$up.log"

echo
echo "provider waits, plain apply (round $rounds, resources over 5 s):"
sed -n -E 's/^([^ :]+): (Creation|Modifications) complete after ([0-9hms]+).*/\3 \1/p' "$plain.log" |
	awk '{ t = $1; s = 0
		if (match(t, /[0-9]+m/)) s += 60 * substr(t, RSTART, RLENGTH - 1)
		if (match(t, /[0-9]+s/)) s += substr(t, RSTART, RLENGTH - 1)
		if (s > 5) printf "  %-70s %4ds\n", $2, s }' | sort -k2 -n -r
echo
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(terraform version 2>/dev/null | head -1), $(date -u +%Y-%m-%d)"

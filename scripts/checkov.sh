#!/usr/bin/env bash
# checkov gate on the synthesized templates of the stacks RealtimeComments-{dev,staging,prod}
# (cdk.out/assembly-<stage>/*.template.json: one stack per stage).
#
#   make checkov                 # or: scripts/checkov.sh
#   CHECKOV_NO_SYNTH=1 make checkov   # scan cdk.out as it is (no `make synth` first)
#   scripts/checkov.sh --install-only # only create/update .venv-checkov
#   CHECKOV_CDK_OUT=dir scripts/checkov.sh   # scan the cloud assembly in dir instead (no synth)
#
# - Installs checkov from requirements-checkov.txt into its own venv .venv-checkov when missing
#   or older than that file (its dependencies clash with the app's .venv).
# - Brings the templates up to date with `make synth` (make rebuilds only what is stale).
# - Runs checkov (framework cloudformation) with the checked-in config .checkov.yaml, fully
#   offline: no platform download (--skip-download, BC_SKIP_MAPPING), no PyPI version check
#   (CKV_SKIP_PACKAGE_UPDATE_CHECK), no API key passed on, so no results upload.
# - Prints passed / failed / skipped per template, then every failed check, and exits non-zero
#   when any check fails (or checkov cannot parse a template).
#
# "skipped" counts the results of the checks that .checkov.yaml skips (each with its reason there;
# checkov does not run them at all, so a second run without the skip list counts them) plus any
# result skipped in a template itself (Metadata.checkov.skip on a resource).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${CHECKOV_VENV:-.venv-checkov}"
REQUIREMENTS=requirements-checkov.txt
CONFIG="${CHECKOV_CONFIG:-.checkov.yaml}"
STAGES=(dev staging prod)
CDK_OUT="${CHECKOV_CDK_OUT:-cdk.out}"

install_env() {
  if [[ -x "$VENV/bin/checkov" && -f "$VENV/.installed" && "$VENV/.installed" -nt "$REQUIREMENTS" ]]; then
    return
  fi
  echo "checkov: installing $REQUIREMENTS into $VENV" >&2
  test -x "$VENV/bin/python" || python3 -m venv "$VENV"
  # Keep the venv out of git, ruff and every other tool that honours .gitignore.
  printf '*\n' >"$VENV/.gitignore"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  touch "$VENV/.installed"
}

install_env
VENV="$(cd "$VENV" && pwd)"
if [[ "${1:-}" == "--install-only" ]]; then
  exit 0
fi

if [[ -z "${CHECKOV_NO_SYNTH:-}" && -z "${CHECKOV_CDK_OUT:-}" ]]; then
  make --no-print-directory synth >&2
fi

if [[ ! -d "$CDK_OUT" ]]; then
  echo "checkov: $CDK_OUT is missing (run make synth)" >&2
  exit 2
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Each stage's template, copied under its stack name so that the report names the stage.
TEMPLATES=()
for stage in "${STAGES[@]}"; do
  found=("$CDK_OUT/assembly-$stage"/*.template.json)
  if [[ ${#found[@]} -ne 1 || ! -f "${found[0]}" ]]; then
    echo "checkov: no template for stage $stage in $CDK_OUT/assembly-$stage (run make synth)" >&2
    exit 2
  fi
  template="$WORK/RealtimeComments-$stage.template.json"
  cp "${found[0]}" "$template"
  TEMPLATES+=("$template")
done

# Offline and hermetic: no platform, no version check, no API key, no ~/.checkov.yaml.
run_checkov() {
  env -u BC_API_KEY -u PRISMA_API_URL -u BC_API_URL \
    HOME="$WORK" XDG_CACHE_HOME="$WORK/cache" \
    BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=true \
    "$VENV/bin/checkov" --skip-download --framework cloudformation \
    "${TEMPLATES[@]/#/--file=}" --output json "$@"
}

# The gate: with the checked-in config (its skip list).
set +e
run_checkov --config-file "$(cd "$(dirname "$CONFIG")" && pwd)/$(basename "$CONFIG")" >"$WORK/gate.json" 2>"$WORK/gate.log"
gate_rc=$?
# The same scan without any skip, run outside the repository so no .checkov.yaml is picked up;
# only used to count what the config skips.
(cd "$WORK" && run_checkov) >"$WORK/all.json" 2>"$WORK/all.log"
all_rc=$?
set -e
for run in gate all; do
  if ! "$VENV/bin/python" -c 'import json, sys; json.load(open(sys.argv[1]))' "$WORK/$run.json" 2>/dev/null; then
    echo "checkov: the $run run produced no JSON report (exit code $gate_rc / $all_rc):" >&2
    cat "$WORK/$run.log" >&2
    exit 2
  fi
done

"$VENV/bin/python" - "$WORK/gate.json" "$WORK/all.json" "$gate_rc" "${STAGES[@]}" <<'PY'
import json
import sys
from collections import Counter
from pathlib import PurePath

gate_path, all_path, gate_rc, *stages = sys.argv[1:]


def load(path):
    """checkov prints one report object per framework (a list when there are several)."""
    data = json.load(open(path))
    reports = data if isinstance(data, list) else [data]
    results = {"passed": [], "failed": [], "skipped": []}
    parsing_errors = 0
    for report in reports:
        parsing_errors += report.get("summary", {}).get("parsing_errors", 0)
        for kind in results:
            results[kind].extend(report.get("results", {}).get(f"{kind}_checks", []))
    return results, parsing_errors


def per_template(results):
    counts = {kind: Counter(PurePath(r["file_path"]).name for r in rows) for kind, rows in results.items()}
    return counts


gate, gate_errors = load(gate_path)
everything, _ = load(all_path)
g, a = per_template(gate), per_template(everything)

print(f"checkov {'':<36} {'passed':>7} {'failed':>7} {'skipped':>8}")
totals = Counter()
for stage in stages:
    name = f"RealtimeComments-{stage}.template.json"
    passed, failed = g["passed"][name], g["failed"][name]
    # Skipped by .checkov.yaml (not run in the gate) plus skipped in the template itself
    # (a resource's Metadata.checkov.skip, reported by checkov as skipped).
    skipped = a["passed"][name] + a["failed"][name] - passed - failed + g["skipped"][name]
    skipped_failing = a["failed"][name] - failed
    totals.update(passed=passed, failed=failed, skipped=skipped, skipped_failing=skipped_failing)
    print(f"  {name:<42} {passed:>7} {failed:>7} {skipped:>8}  ({skipped_failing} failing results skipped)")
print(
    f"  {'total':<42} {totals['passed']:>7} {totals['failed']:>7} {totals['skipped']:>8}"
    f"  ({totals['skipped_failing']} failing results skipped)"
)

if gate["failed"]:
    print("\nFailed checks (fix them, or skip them with a reason: .checkov.yaml for a whole check, Metadata.checkov.skip for one resource):")
    by_check = {}
    for row in gate["failed"]:
        by_check.setdefault((row["check_id"], row["check_name"]), []).append(
            f"{PurePath(row['file_path']).name.removesuffix('.template.json')}: {row['resource']}"
        )
    for (check_id, check_name), resources in sorted(by_check.items()):
        print(f"  {check_id} {check_name} ({len(resources)})")
        for resource in resources:
            print(f"      {resource}")

if gate_errors:
    print(f"\ncheckov could not parse {gate_errors} template(s)")
ok = not gate["failed"] and not gate_errors and gate_rc in ("0", "1")
print("\ncheckov: " + ("passed" if ok else "FAILED"))
sys.exit(0 if ok else 1)
PY

#!/usr/bin/env bash
# The `command` provider's example launch scripts (examples/providers/) are run with
# stand-ins for `aws` and `kubectl` that record their arguments and stdin: each script
# must print only the handle, pass the SW_* values where they belong, and (EC2) write user
# data that is valid shell. No cloud is contacted. Usage: provider_examples.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: provider_examples.sh SOURCE_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
cat >"$tmp/bin/aws" <<'STUB'
#!/bin/sh
printf '%s\n' "$@" >"$STUB_LOG"
for a in "$@"; do case $a in file://*) cp "${a#file://}" "$STUB_LOG.userdata" ;; esac; done
echo i-0123456789abcdef0
STUB
cat >"$tmp/bin/kubectl" <<'STUB'
#!/bin/sh
printf '%s\n' "$@" >>"$STUB_LOG"
case $1 in
  create) if [ "$2" = secret ]; then echo "secret/$4 created"; else cat >"$STUB_LOG.manifest"; \
          sed -n 's/^  name: //p' "$STUB_LOG.manifest" | head -1 | tr -d '\n'; fi ;;
esac
STUB
chmod +x "$tmp/bin/aws" "$tmp/bin/kubectl"
export PATH="$tmp/bin:$PATH" SW_WORKER_ID=7 SW_WORKER_TYPE=c5.xlarge \
       SW_CONNECT=10.0.0.5:8081 SW_TOKEN=tok-secret-123
fail() { echo "provider_examples: $*" >&2; exit 1; }

STUB_LOG=$tmp/aws.log "$src/examples/providers/launch-ec2.sh" >"$tmp/ec2.out"
[ "$(cat "$tmp/ec2.out")" = i-0123456789abcdef0 ] || fail "launch-ec2.sh printed '$(cat "$tmp/ec2.out")', not only the instance id"
grep -qx -- --instance-type "$tmp/aws.log" && grep -qx c5.xlarge "$tmp/aws.log" || fail "launch-ec2.sh did not ask for SW_WORKER_TYPE"
bash -n "$tmp/aws.log.userdata" || fail "launch-ec2.sh wrote user data that is not valid shell"
grep -q "SW_CONNECT='10.0.0.5:8081'" "$tmp/aws.log.userdata" || fail "user data lacks SW_CONNECT"
grep -q "SW_TOKEN='tok-secret-123'" "$tmp/aws.log.userdata" || fail "user data lacks the token"

STUB_LOG=$tmp/k8s.log "$src/examples/providers/launch-k8s.sh" >"$tmp/k8s.out"
pod=$(cat "$tmp/k8s.out")
[[ $pod =~ ^spillway-w7-[0-9a-f]{8}$ ]] || fail "launch-k8s.sh printed '$pod', not only a pod name"
grep -q '"--connect", "10.0.0.5:8081"' "$tmp/k8s.log.manifest" || fail "pod does not dial SW_CONNECT"
! grep -q tok-secret-123 "$tmp/k8s.log.manifest" || fail "the token is in the pod spec, not only in its Secret"
# The manifest must parse as YAML (PyYAML, Debian's python3-yaml).
python3 -c 'import yaml' 2>/dev/null ||
  fail "python3-yaml is missing: scripts/install-deps.sh installs it"
python3 -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); assert d["kind"] == "Pod"' \
    "$tmp/k8s.log.manifest" || fail "the pod manifest is not a YAML Pod"
echo "provider_examples: launch-ec2.sh and launch-k8s.sh print their handles and pass SW_* on"

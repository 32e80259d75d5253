#!/usr/bin/env bash
# Packages `spillway function` as an AWS Lambda deployment zip for the provided.al2023
# runtime: a `bootstrap` that execs the bundled binary, the binary, the shared libraries it
# needs that are not part of glibc (in lib/, found with ldd), and the model file.
#
#   scripts/package-lambda.sh [--build-dir DIR] [--model FILE] [--out ZIP]
#
# Defaults: --build-dir build, --model DIR/fashion-mlp.pb, --out DIR/spillway-lambda.zip.
# The zip is written with python3's zipfile module, since `zip` may not be installed.
# glibc itself is never bundled: the binary must run with the target's glibc (AL2023 has
# 2.34), so build it where glibc is no newer than that (see README, "Running the model on
# AWS Lambda").
set -euo pipefail

usage() {
    sed -n '5,6p' "$0" | sed 's/^# \{0,1\}//'
}

build=build
model=
out=
while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build=${2:?--build-dir needs a value}; shift 2 ;;
    --model) model=${2:?--model needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "package-lambda.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
binary=$build/spillway
model=${model:-$build/fashion-mlp.pb}
out=${out:-$build/spillway-lambda.zip}
for f in "$binary" "$model"; do
    if [ ! -f "$f" ]; then
        echo "package-lambda.sh: $f: not found (build first: cmake --build $build)" >&2
        exit 1
    fi
done
command -v python3 >/dev/null || { echo "package-lambda.sh: python3 is required" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/lib"
cp "$binary" "$stage/spillway"
cp "$model" "$stage/fashion-mlp.pb"

# Lambda runs /var/task/bootstrap (LAMBDA_TASK_ROOT) as the runtime process. The bundled
# libraries come first on the search path; glibc comes from the sandbox.
cat >"$stage/bootstrap" <<'EOF'
#!/bin/sh
export LD_LIBRARY_PATH="$LAMBDA_TASK_ROOT/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$LAMBDA_TASK_ROOT/spillway" function --model "$LAMBDA_TASK_ROOT/fashion-mlp.pb"
EOF
chmod 755 "$stage/bootstrap" "$stage/spillway"

# ldd lists the whole dependency closure. glibc's own libraries (and the vDSO, which has
# no file) must come from the target system, since they have to match its ld.so.
glibc='^(linux-vdso|linux-gate|ld-linux[^ ]*|libc|libm|libdl|libpthread|librt|libresolv'
glibc+='|libutil|libanl|libnsl|libBrokenLocale|libmvec)\.so'
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | while read -r name path; do
    if [[ $name =~ $glibc ]]; then
        continue
    fi
    # -L: Debian reaches OpenBLAS through /etc/alternatives symlinks; copy the real file
    # under the name the binary asks for.
    cp -L "$path" "$stage/lib/$name"
done
if ldd "$binary" | grep -q 'libasan\|libubsan'; then
    echo "package-lambda.sh: warning: $binary is a sanitizer build; package one configured" \
        "with -DSW_SANITIZE=OFF for deployment" >&2
fi

python3 - "$stage" "$out" <<'EOF'
import os, sys, zipfile

stage, out = sys.argv[1], sys.argv[2]
tmp = out + ".tmp"
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
    for root, dirs, files in os.walk(stage):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            info = zipfile.ZipInfo.from_file(path, os.path.relpath(path, stage))
            # Lambda keeps the Unix mode bits stored in the zip: bootstrap must stay executable.
            info.external_attr = (os.stat(path).st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as f:
                z.writestr(info, f.read())
os.replace(tmp, out)
EOF
echo "wrote $out ($(du -h "$out" | cut -f1)): bootstrap, spillway, fashion-mlp.pb," \
    "$(ls "$stage/lib" | wc -l) libraries in lib/"

#!/usr/bin/env bash
# Installs every Debian package Spillway needs to build, test and run, on Debian 12.
# Idempotent: apt-get skips what is already installed. Uses sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libevent-dev libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev
  libopenblas-dev liblapacke-dev libyaml-dev libjansson-dev
  libssl-dev zlib1g-dev libcriterion-dev python3 python3-botocore python3-yaml prometheus
  dataset-fashion-mnist
  chromium
  clang libclang-rt-14-dev libfuzzer-14-dev llvm-14
)

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# Installs what weft needs to build and test on Debian/Ubuntu (run as root,
# or with sudo available). Safe to run again: installed packages are skipped.
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang libcmocka-dev libopenmpi-dev openmpi-bin iproute2 tcpdump
      libucx-dev ucx-utils libfabric-dev libfabric-bin libssl-dev libyaml-dev libhwloc-dev libzstd-dev
      ocl-icd-opencl-dev opencl-c-headers pocl-opencl-icd libgloo-dev
      gnuplot-nox python3-numpy python3-pytest python3-setuptools python3-pip python3-dev
      python3-torch libtorch-dev pybind11-dev)  # the last three: weft.torch (docs/torch.md)
# clang's libFuzzer runtime (tests/fuzz, scripts/fuzz.sh): only recommended by
# clang, and named so only on some releases; without it the fuzzing step skips
for p in libclang-rt-dev; do
  apt-cache show "$p" >/dev/null 2>&1 && pkgs+=("$p")
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

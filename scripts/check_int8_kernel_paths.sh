#!/bin/sh
# Builds the int8 kernel for each CPU level Package.swift can choose (skylake-avx512, haswell, baseline x86-64) with the
# Swift toolchain's clang and checks each path's outputs bit for bit against an int64 reference. A path the CPU running
# this lacks is built but not run (it would die of an illegal instruction). Exit status 1 when any output differs.
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
cc=$(dirname "$(command -v swift)")/clang
out=$(mktemp -d)
status=0
for level in skylake-avx512 haswell x86-64; do
    "$cc" -O2 -march=$level -I "$here/Sources/CInt8Kernels/include" "$here/scripts/int8_kernel_paths.c" \
        "$here/Sources/CInt8Kernels/Int8Kernels.c" -o "$out/check-$level"
    case $level in
        skylake-avx512) need=avx512bw ;;
        haswell) need=avx2 ;;
        *) need=sse2 ;;
    esac
    if grep -q " $need" /proc/cpuinfo; then
        printf '%s: ' $level
        "$out/check-$level" || status=1
    else
        echo "$level: built, not run (this CPU has no $need)"
    fi
done
rm -rf "$out"
exit $status

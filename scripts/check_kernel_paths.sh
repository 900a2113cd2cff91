#!/bin/sh
# Builds the C kernels (Sources/CInt8Kernels, Sources/CFewRowKernels) for each CPU level Package.swift can choose
# (skylake-avx512, haswell, baseline x86-64) with the Swift toolchain's clang and checks each path's outputs bit for bit
# against a plain reference: the int8 product against int64 sums, the few-row float product against one fmaf chain per
# output. A path the CPU running this lacks is built but not run (it would die of an illegal instruction). Exit status
# 1 when any output differs.
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
cc=$(dirname "$(command -v swift)")/clang
out=$(mktemp -d)
status=0
for kernel in Int8 FewRow; do
    case $kernel in
        Int8) check=int8_kernel_paths.c ;;
        FewRow) check=fewrow_kernel_paths.c ;;
    esac
    for level in skylake-avx512 haswell x86-64; do
        "$cc" -O2 -march=$level -I "$here/Sources/C${kernel}Kernels/include" "$here/scripts/$check" \
            "$here/Sources/C${kernel}Kernels/${kernel}Kernels.c" -lm -o "$out/check-$kernel-$level"
        case $level in
            skylake-avx512) need=avx512bw ;;
            haswell) need=avx2 ;;
            *) need=sse2 ;;
        esac
        if grep -q " $need" /proc/cpuinfo; then
            printf '%s %s: ' $kernel $level
            "$out/check-$kernel-$level" || status=1
        else
            echo "$kernel $level: built, not run (this CPU has no $need)"
        fi
    done
done
rm -rf "$out"
exit $status

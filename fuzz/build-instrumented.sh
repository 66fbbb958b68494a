#!/usr/bin/env bash
# The compiled core built for long fuzz campaigns: clang with libFuzzer coverage
# (-fsanitize=fuzzer-no-link), AddressSanitizer and UBSan, in a copy of the tree
# (build/fuzz-instrumented) so that the release build stays in place. Then, for example:
#
#   bash fuzz/build-instrumented.sh
#   cd build/fuzz-instrumented && bash fuzz/run-instrumented.sh frames --venue okx --seconds 600
#
# (run-instrumented.sh preloads atheris' ASan+libFuzzer runtime and sets the sanitizer options.)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
if ! command -v clang >/dev/null 2>&1 || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.asan-x86_64.a >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || { echo "build-instrumented: please install clang and libclang-rt-dev" >&2; exit 2; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
fi
TREE=$ROOT/build/fuzz-instrumented
rm -rf "$TREE"
mkdir -p "$TREE"
git ls-files -z --cached --others --exclude-standard | grep -zv '^build/' | xargs -0 cp --parents -t "$TREE"
cd "$TREE"
# Cython's generated argument handling offsets a NULL argument array by zero: pointer-overflow off.
SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=pointer-overflow -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CC=clang LDSHARED="clang -shared" CFLAGS="$SAN -g" LDFLAGS="-fsanitize=address,undefined" \
    "$PY" setup.py -q build_ext --inplace > build.log 2>&1 || { tail -n 40 build.log; exit 1; }
"$PY" - "$TREE" <<'PY'
import subprocess, sys
so = subprocess.run(["sh", "-c", "ls marketprism_fast/_parse*.so"], capture_output=True, text=True).stdout.split()[0]
syms = subprocess.run(["nm", "-D", so], capture_output=True, text=True).stdout
assert "__sanitizer_cov" in syms and "__asan" in syms, "the extension is not instrumented"
print(f"instrumented build ready in {sys.argv[1]} ({so})")
PY

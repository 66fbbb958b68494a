# Convenience targets; the scripts are the source of truth (they also work without make).
.PHONY: setup test demo debug bench bench-normalize clean

setup:
	bash scripts/setup.sh

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

# Debug build of the compiled core: bounds checks, wraparound checks, line tracing.
debug:
	MPF_DEBUG=1 .venv/bin/python setup.py build_ext --inplace --force

bench:
	.venv/bin/python -m pytest benchmarks --benchmark-only -p no:cacheprovider

# normalize end to end against the parser alone (side by side, one run, the largest session).
bench-normalize:
	.venv/bin/python benchmarks/bench_normalize.py

clean:
	rm -rf build dist *.egg-info marketprism_fast/_columns.pxi .venv/.setup-build
	find marketprism_fast \( -name '*.so' -o -name '*.c' \) -delete

# Convenience targets; the scripts are the source of truth (they also work without make).
.PHONY: setup test demo debug bench clean

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

clean:
	rm -rf build dist *.egg-info marketprism_fast/*.so marketprism_fast/*.c marketprism_fast/_columns.pxi

# The README's two commands: `make demo` and `make test`.
# Both work on a fresh Debian machine as root: they install the Debian
# packages the project needs, create .venv and install the project into it.
VENV := .venv
PY := $(VENV)/bin/python
DEBS := sane-utils qpdf tesseract-ocr tesseract-ocr-vie libzbar0 poppler-utils fonts-dejavu-core chromium iproute2 iptables kmod softhsm2 opensc postgresql systemd nginx libgammu-dev pkg-config jbig2dec
STAMP := $(VENV)/.installed

.PHONY: demo test deps bench-deps clean

demo: $(STAMP)
	$(PY) -m agent.demo

test: $(STAMP)
	$(PY) -m pytest -q --timeout=1200 tests

deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): setup.py deps
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	# compile the JBIG2 coder now into numba's cache, not during a desk's first scan
	$(PY) -c 'import numpy, scanners.jbig2_generic as j; j.encode_black(numpy.ones((2, 2), numpy.uint8))'
	touch $(STAMP)

# OCRmyPDF is a baseline of bench/bench_capture.py only, never a runtime dependency
bench-deps: deps
	dpkg -s ocrmypdf >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ocrmypdf

clean:
	rm -rf $(VENV) build *.egg-info

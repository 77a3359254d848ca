# The README's two commands: `make demo` and `make test`.
# Both work on a fresh Debian machine as root: they install the Debian
# packages the project needs, create .venv and install the project into it.
VENV := .venv
PY := $(VENV)/bin/python
DEBS := sane-utils qpdf tesseract-ocr tesseract-ocr-vie libzbar0 poppler-utils fonts-dejavu-core chromium iproute2 iptables kmod softhsm2 opensc postgresql systemd
# JBIG2 encoder (Debian 12 packages none): agl/jbig2enc 0.31, built from this pinned commit against leptonica
DEBS += libleptonica-dev g++ git
STAMP := $(VENV)/.installed
JBIG2ENC_REPO ?= https://github.com/agl/jbig2enc
JBIG2ENC_COMMIT := e5122e826030d607a22c3eb630886b8e79bb6b4c
JBIG2 := $(VENV)/bin/jbig2

.PHONY: demo test deps bench-deps clean

demo: $(STAMP) $(JBIG2)
	$(PY) -m agent.demo

test: $(STAMP) $(JBIG2)
	$(PY) -m pytest -q tests

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
	touch $(STAMP)

# OCRmyPDF is a baseline of bench/bench_capture.py only, never a runtime dependency
bench-deps: deps
	dpkg -s ocrmypdf >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ocrmypdf

# lossless generic-region coding only: scanners/jbig2.py never passes -s (symbol mode can swap digits)
$(JBIG2): $(STAMP)
	rm -rf build/jbig2enc && mkdir -p build
	git clone -q $(JBIG2ENC_REPO) build/jbig2enc
	git -C build/jbig2enc checkout -q $(JBIG2ENC_COMMIT)
	cd build/jbig2enc/src && g++ -O2 -DVERSION='"0.31"' -I. jbig2.cc jbig2enc.cc jbig2arith.cc jbig2sym.cc \
	  jbig2comparator.cc -llept -o $(abspath $(JBIG2))

clean:
	rm -rf $(VENV) build *.egg-info

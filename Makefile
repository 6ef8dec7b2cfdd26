# gradlab: every target creates .venv and installs the pinned stack when needed.
#   make run    set up, run the default sweep and the quick presets, regenerate the reports
#   make run-all  make run, then the long presets (trainability, remedies, through time)
#   make test   set up, lint, run the test suite
#   make report regenerate the report figures from the runs in mlflow.db
#   make lock   re-resolve the newest allowed versions and record them in constraints.txt

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run run-all ui ui-check test lint lock clean docs report bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install whenever the declared or pinned dependencies change.
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,server,fast]"
	touch $(STAMP)

install: $(STAMP)

# Into ./mlflow.db: the default sweep (36 runs, 2 joblib workers), then the quick presets
# (Nielsen ch. 5 and exploding gradients in training; mean-field probes, phase diagram
# and Jacobian spectra at initialisation; an RNN's error against the time gap), then the report from all of them.  The presets' jobs take a second or less
# each, so they run in one process: starting joblib workers would cost more than they save.
JOBLIB := hydra/launcher=joblib hydra.launcher.n_jobs=2
run: install
	$(BIN)/python experiments/train.py -m +experiment=default_sweep $(JOBLIB)
	$(BIN)/python experiments/train.py -m +experiment=nielsen_ch5
	$(BIN)/python experiments/train.py -m +experiment=exploding
	$(BIN)/python experiments/probe.py -m +experiment=probe_mean_field
	$(BIN)/python experiments/probe.py -m +experiment=phase_diagram
	$(BIN)/python experiments/probe.py -m +experiment=jacobian_spectrum
	$(BIN)/python experiments/train.py -m +experiment=rnn_time_gap
	$(BIN)/python reports/make_report.py
	@echo "Runs: $(CURDIR)/mlflow.db ('make ui' prints the URL to open). Report: reports/index.html"

# make run, then the presets that train hundreds of networks (about 20 minutes on 2
# cores): which networks train (trainability), what fixes vanishing gradients
# (remedies), clipping and RNN against LSTM through time, finite-width spread; then the
# report again.
run-all: run
	$(BIN)/python experiments/train.py -m +experiment=trainability $(JOBLIB)
	$(BIN)/python experiments/train.py -m +experiment=remedies $(JOBLIB)
	$(BIN)/python experiments/train.py -m +experiment=rnn_clipping $(JOBLIB)
	$(BIN)/python experiments/train.py -m +experiment=rnn_vs_lstm $(JOBLIB)
	$(BIN)/python experiments/probe.py -m +experiment=width_vs_depth
	$(BIN)/python reports/make_report.py

# The MLflow UI on the default store, on this machine only; prints the URL that opens the
# runs in the Model training view with the gradient-against-layer charts first.
ui: install
	$(BIN)/python experiments/ui.py

# The newcomer's path (a small sweep, make ui's URL, the profile charts, a run's figure,
# reports/index.html) in headless Chromium; screenshots in reports/ui/.  Needs Debian's
# chromium package (apt-get install chromium); Playwright never downloads a browser.
ui-check: install
	$(BIN)/python experiments/ui_check.py

# Regenerate reports/figures/ and reports/index.md from the latest sweep in ./mlflow.db
# ($MLFLOW_TRACKING_URI if set); other sweeps and stores: reports/make_report.py --help.
report: install
	$(BIN)/python reports/make_report.py

# Regenerate docs/worked-examples.md (the notes' examples and errata) from the engine.
docs: install
	$(BIN)/python experiments/explain.py docs=true out=docs/worked-examples.md

# Time the engine against PyTorch (if installed: pip install torch==2.13.0), the BLAS
# limit and itself; writes reports/benchmarks.md in about 12 minutes.  Where the
# environment sets OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, run it as
# `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE make bench` (see the script's docstring).
bench: install
	$(BIN)/python experiments/benchmark.py

# ruff, then the layer and no-cycle contracts of [tool.importlinter] in pyproject.toml.
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest

# Upgrade: resolve afresh in a scratch venv, test there, then pin what passed.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e ".[dev,server,fast]"
	.venv-lock/bin/python -m pytest -q
	.venv-lock/bin/python -m pip freeze --exclude-editable | grep -v '^-e ' > constraints.txt
	rm -rf .venv-lock
	@echo "constraints.txt updated; run 'make test' and commit it"

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache .ruff_cache .import_linter_cache .grimp_cache

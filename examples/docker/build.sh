#!/bin/sh
# Build an image from the private PyPI with the index URL and its token passed as a BuildKit secret
# (id pip-index-url): it is mounted only into the RUN steps that ask for it, and never reaches a
# layer, the image history or the build cache key. Never pass it with --build-arg: build arguments
# are recorded in the image history and invalidate the cache whenever the token changes.
#
# On a developer machine (the helper prints the exports; the token lasts at most 12 hours):
#   eval "$(pypi-login --stack-outputs outputs.json)"
#   ./build.sh -t myapp:dev .
#   ./build.sh -f Dockerfile.uv -t myapp:dev .
#   ./build.sh -f Dockerfile.uv-lock -t myapp:dev .   # uv.lock
#   ./build.sh -f Dockerfile.poetry -t myapp:dev .    # poetry.lock
#
# In GitHub Actions, after the codeartifact-install action (it sets PIP_INDEX_URL for the job,
# from the read-only CI reader role):
#   - run: ./build.sh -t myapp:ci .
#
# Arguments are passed to `docker build` as they are. DOCKER=podman (or buildah) builds with that
# command instead; both accept the same --secret option.
set -eu

# `pypi-login --tool uv` exports only UV_DEFAULT_INDEX: the same URL.
PIP_INDEX_URL="${PIP_INDEX_URL:-${UV_DEFAULT_INDEX:-}}"
if [ -z "$PIP_INDEX_URL" ]; then
    echo "PIP_INDEX_URL is not set: run eval \"\$(pypi-login --stack-outputs outputs.json)\" first," \
        "or the codeartifact-install action in CI" >&2
    exit 2
fi
export PIP_INDEX_URL

# The value is read from the environment by the builder: it is never on a command line.
DOCKER_BUILDKIT=1 exec "${DOCKER:-docker}" build --secret id=pip-index-url,env=PIP_INDEX_URL "$@"

#!/usr/bin/env bash
# A Debian base image made from the Debian mirror, for building the worker image where no
# container registry can be reached (the tests; an air-gapped site with a Debian mirror).
#
#   deploy/docker/debian-base.sh TAG [SUITE [MIRROR]]
#   e.g. deploy/docker/debian-base.sh hts-base:bookworm
#   docker build -f deploy/docker/Dockerfile --build-arg BASE_IMAGE=hts-base:bookworm ...
#
# mmdebstrap makes a minimal Debian (SUITE: bookworm, Python 3.11) and `docker import` turns
# it into an image. This machine's CA certificates go in too (pip and apt in the build then
# trust what this machine trusts, e.g. a proxy's CA); PIP_CERT points pip at them.
set -euo pipefail

tag=${1:?usage: $0 TAG [SUITE [MIRROR]]}
suite=${2:-bookworm}
mirror=${3:-http://deb.debian.org/debian}
DOCKER=${DOCKER:-/usr/bin/docker}
t0=$(date +%s.%N)
mmdebstrap --quiet --variant=minbase --include=ca-certificates \
    --customize-hook='copy-in /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs' \
    "$suite" - "$mirror" \
    | "$DOCKER" import \
        --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        --change 'CMD ["/bin/bash"]' \
        - "$tag" >/dev/null
echo "base image $tag ($suite) made in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a}') s"

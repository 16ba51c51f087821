#!/usr/bin/env bash
# Build gpu_wheels/: the Python packages the device machine lacks (it has jax 0.11.2 + CUDA 13, equinox, optax,
# chex, flax, numpy, pandas, matplotlib, rich, pillow, seaborn, safetensors, jaxtyping; nothing can be downloaded
# there). All are pure-Python wheels, so they install on its Python 3.12 from this machine's download.
# The folder is git-ignored; carry it with the device run (carry: ["gpu_wheels"]). See benchmarks/gpu_run.py.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf gpu_wheels
python3 -m pip download --quiet --no-deps --only-binary :all: --python-version 3.12 --dest gpu_wheels \
    "jaxmarl==0.2.0" "gymnax==1.0.1" "gymnasium==1.3.0" "farama-notifications==0.0.4"
ls -l gpu_wheels

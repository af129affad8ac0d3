#!/usr/bin/env bash
# Creates .venv and installs the whole stack. Called by `make setup`; safe to re-run.
# Order matters (see the README's "Installing" section):
#   1. TensorFlow first, because Horovod compiles against the installed TensorFlow;
#   2. Horovod from source with Gloo (no MPI), --no-build-isolation so its build sees TensorFlow;
#   3. labkit and everything else, with NumPy pinned so nothing upgrades it under TensorFlow.
set -euo pipefail
PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}
TF_VERSION=${TF_VERSION:-2.15.1}
HVD_VERSION=${HVD_VERSION:-0.28.1}
PY="$VENV/bin/python"

if ! "$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
  echo "labkit needs Python 3.11 as '$PYTHON' (set PYTHON=/path/to/python3.11)." >&2
  exit 1
fi
if ! command -v java >/dev/null; then
  echo "warning: no 'java' on PATH: Spark needs a JDK 17 (Debian: apt-get install openjdk-17-jre-headless)." >&2
fi

[ -x "$PY" ] || "$PYTHON" -m venv "$VENV"
"$PY" -m pip install -q -U pip setuptools wheel
"$PY" -m pip install -q "tensorflow-cpu==$TF_VERSION" "numpy==1.26.4" cloudpickle psutil pyyaml packaging cffi

if ! "$PY" -c 'import horovod.tensorflow as h; assert h.gloo_built()' 2>/dev/null; then
  # A Horovod wheel fits only the TensorFlow it was compiled against: cache it keyed on both.
  cache="${LABKIT_WHEEL_CACHE:-$HOME/.cache/labkit/wheels}/horovod-$HVD_VERSION-tf$TF_VERSION-py311"
  if ! ls "$cache"/horovod-*.whl >/dev/null 2>&1; then
    echo "Building Horovod $HVD_VERSION with Gloo against TensorFlow $TF_VERSION (about 4 minutes on 2 cores)..."
    mkdir -p "$cache"
    HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1 HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITHOUT_PYTORCH=1 \
    HOROVOD_WITHOUT_MXNET=1 HOROVOD_CPU_OPERATIONS=gloo MAKEFLAGS="-j$(nproc)" \
      "$PY" -m pip wheel --no-cache-dir --no-build-isolation --no-deps -w "$cache" "horovod==$HVD_VERSION"
  fi
  "$PY" -m pip install -q --no-deps "$cache"/horovod-*.whl
fi

# LABKIT_INSTALL=copy installs labkit as a copy, not linked to this checkout: the class environment that learners'
# accounts run (labkit.classroom.class_env) must not lead back to the instructor's solutions.
if [ "${LABKIT_INSTALL:-editable}" = copy ]; then
  "$PY" -m pip install -q ".[dev,class]"
else
  "$PY" -m pip install -q -e ".[dev,class]"
fi
# The Spark Connect client needs protobuf 6; TensorFlow 2.15 declares protobuf<5 but runs on 6 once
# labkit._protobuf_compat restores the one API its C extensions call. pip prints the declared conflict
# ("tensorflow-cpu 2.15.1 requires protobuf<5") and exits 0; the tests check that TensorFlow imports
# without a word on stderr and that Spark Connect works.
# MLflow's OpenTelemetry protos are resolved with the main dependencies at a protobuf-4 version: lift them too.
"$PY" -m pip install -q "grpcio-status>=1.76" "googleapis-common-protos>=1.71" "zstandard>=0.25" "protobuf>=6.31,<7" \
  "opentelemetry-proto>=1.45"
"$PY" -c "import labkit._protobuf_compat as m; print('installed', m.install_pth())"
# The kit's own kernel, installed into the venv so every notebook runs with this environment
# whatever Jupyter is on PATH.
"$PY" -m labkit.jupyter
TF_CPP_MIN_LOG_LEVEL=2 "$PY" -c 'import horovod.tensorflow as h; assert h.gloo_built(), "Horovod was built without Gloo"'
echo "labkit environment ready in $VENV"

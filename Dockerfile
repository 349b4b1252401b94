# tuner on Ray's GPU image: the image k8s/raycluster.yaml and k8s/rayjob.yaml run.
#
#   docker build -t tuner:latest .
#   docker tag tuner:latest REGISTRY/tuner:latest && docker push REGISTRY/tuner:latest
#
# The Ray version in the tag must equal the Ray of every node and of the machine that submits
# jobs; tests/test_k8s.py checks it against cluster.yaml, the manifests' rayVersion and the
# installed ray. The image has Ray and Python 3.11; torch and the rest come from pyproject.toml.
FROM rayproject/ray:2.60.0-py311-gpu

# Only what the package needs (not .venv/, runs/ or data). The image runs as user ray (group
# users); COPY --chown also gives ray the folders it creates, so pip can write the egg-info.
# The sweep files are copied too: RayJob entrypoints name them by absolute path.
COPY --chown=ray:users pyproject.toml README.md /home/ray/tuner/
COPY --chown=ray:users src /home/ray/tuner/src
COPY --chown=ray:users sweeps /home/ray/tuner/sweeps
WORKDIR /home/ray/tuner

RUN pip install --no-cache-dir -e .

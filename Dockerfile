# Worker image for Dataflow (--sdk_container_image): the Beam Python SDK image of the locked
# Beam version, a Java runtime for konlpy's Okt, and call-triage installed from the lock.
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/call-triage:0.1.0 .
# BEAM_VERSION must equal apache-beam's version in requirements.lock (tests/test_packaging.py).
ARG BEAM_VERSION=2.78.0
FROM apache/beam_python3.11_sdk:${BEAM_VERSION}

RUN apt-get update \
    && apt-get install -y --no-install-recommends default-jre-headless \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/call-triage
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY setup.py README.md ./
COPY pipelines ./pipelines
COPY transforms ./transforms
COPY models ./models
COPY synth ./synth
RUN pip install --no-cache-dir --no-deps . \
    && pip check \
    && python -c "from transforms.text import OktTokenizer; print(OktTokenizer().tokenize('불이 났어요'))"

# The SDK harness of the base image stays the entry point.

# Worker image for Dataflow (--sdk_container_image): the Beam Python SDK image of our Beam
# version, a Java runtime for konlpy's Okt, and call-triage with its dependencies.
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/call-triage:0.1.0 .
ARG BEAM_VERSION=2.77.0
FROM apache/beam_python3.11_sdk:${BEAM_VERSION}

RUN apt-get update \
    && apt-get install -y --no-install-recommends default-jre-headless \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/call-triage
COPY setup.py README.md ./
COPY pipelines ./pipelines
COPY transforms ./transforms
COPY models ./models
COPY synth ./synth
RUN pip install --no-cache-dir . \
    && python -c "from transforms.text import OktTokenizer; print(OktTokenizer().tokenize('불이 났어요'))"

# The SDK harness of the base image stays the entry point.

"""call-triage: a batch audio triage job for emergency-call archives."""

from setuptools import find_packages, setup

setup(
    name="call-triage",
    version="0.1.0",
    description=(
        "Apache Beam job that scores archived emergency calls (audio + Korean transcript) "
        "and writes Parquet reports of flagged emergencies and likely prank calls."
    ),
    python_requires=">=3.11,<3.12",  # the Python the lock and CI test
    packages=find_packages(include=["pipelines*", "transforms*", "models*", "synth*"]),
    package_data={"transforms": ["data/*.txt", "data/*.onnx", "data/*.LICENSE", "data/*.toml"],
                  "models": ["bundled/*/*"]},
    # Upper bounds stop at the newest releases tested (requirements.lock); raise one only
    # after `make test-latest` has passed with it.
    install_requires=[
        "apache-beam[gcp]>=2.70,<2.79",
        "tensorflow>=2.18,<2.22",
        "keras>=3.6,<3.16",
        "librosa>=0.10.2,<0.12",
        "soundfile>=0.12,<0.15",
        "soxr>=0.3,<1.2",
        "threadpoolctl>=3.1,<4",
        "konlpy>=0.6,<0.7",
        "numpy>=1.26,<2.5",
        "scipy>=1.11,<1.18",  # sparse designs of the words models (models/words.py)
        "pyarrow>=14,<26",
        "scikit-learn>=1.4,<1.10",  # the words models' refit; evaluation metrics and curves
        "matplotlib>=3.8,<3.12",  # ROC and PR plots of `call-triage evaluate --plots`
        "onnxruntime>=1.17,<1.33",  # the speech detector (transforms/speech.py)
        "duckdb>=1.1,<3",  # the query `call-triage run` prints for the analysts
        "google-cloud-storage>=2.14,<4",
        "tzdata>=2024.1",  # IANA time zones (--timezone) where the system has none
    ],
    extras_require={
        # `call-triage train --logdir`: TensorFlow >= 2.21 no longer installs it
        "tensorboard": ["tensorboard>=2.18,<2.22"],
        "test": [
            "pytest>=8,<10",
            "playwright>=1.50,<1.66",  # drives the system's Chromium in the report's test
            "gcp-storage-emulator>=2024.8.3,<2027",
            "tensorboard>=2.18,<2.22",  # the --logdir test
        ],
    },
    entry_points={"console_scripts": ["call-triage=pipelines.cli:main"]},
)

#!/usr/bin/env bash
# Installs the system packages call-triage needs, when they are missing:
#   java (konlpy's Okt runs on the JVM)   -> default-jre-headless
#   espeak-ng, sox (the synthetic corpus) -> espeak-ng, sox
# Uses apt-get as root; otherwise stops and names the packages to install.
set -euo pipefail

missing=()
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v sox >/dev/null 2>&1 || missing+=(sox)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "call-triage needs these system packages: ${missing[*]}" >&2
  echo "install them (e.g. 'sudo apt-get install -y ${missing[*]}') and run again." >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# Installs the system packages call-triage needs, when they are missing:
#   java (konlpy's Okt runs on the JVM)   -> default-jre-headless
#   espeak-ng, sox (the synthetic corpus) -> espeak-ng, sox
#   real sounds of the synthetic corpus  -> sound-theme-freedesktop (ringing phone, alarm
#                                            clock, ringback), asterisk-core-sounds-en-wav
#                                            (telephone-system prompts); see synth/README.md
#   a headless browser with a Korean font -> chromium, fonts-nanum (the HTML report's test;
#                                            without a Hangul font it shows empty boxes)
# Uses apt-get as root; otherwise stops and names the packages to install.
set -euo pipefail

missing=()
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v sox >/dev/null 2>&1 || missing+=(sox)
[ -f /usr/share/sounds/freedesktop/stereo/phone-incoming-call.oga ] \
  || missing+=(sound-theme-freedesktop)
[ -f /usr/share/asterisk/sounds/en_US_f_Allison/one-moment-please.wav ] \
  || missing+=(asterisk-core-sounds-en-wav)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -f /usr/share/fonts/truetype/nanum/NanumGothic.ttf ] || missing+=(fonts-nanum)

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

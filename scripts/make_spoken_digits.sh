#!/usr/bin/env bash
# Write a spoken-digit folder for the audio benchmark: OUT/<word>/<word>-NNN.wav for the ten words zero..nine,
# PER_CLASS clips each (default 100), spoken by the espeak-ng speech synthesizer (installed with apt when run as
# root) in 7 English accents x 20 voice variants, at random speeds (110-230 words/min), pitches (15-85) and
# loudness. Deterministic for a given espeak-ng version: the choices come from a seeded generator.
#
#   scripts/make_spoken_digits.sh /tmp/speech        # 1,000 clips, about a minute
#   dlbench recommend /tmp/speech --output kw.yaml && dlbench train kw.yaml
set -euo pipefail
OUT=${1:?usage: scripts/make_spoken_digits.sh OUT_FOLDER [PER_CLASS]}
PER_CLASS=${2:-100}
if ! command -v espeak-ng >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null
  else
    echo "make_spoken_digits.sh: needs espeak-ng (sudo apt-get install espeak-ng)" >&2
    exit 1
  fi
fi
if [ -e "$OUT" ] && [ -n "$(ls -A "$OUT" 2>/dev/null)" ]; then
  echo "make_spoken_digits.sh: $OUT exists and is not empty; choose a new folder" >&2
  exit 2
fi
ACCENTS=(en en-us en-gb-scotland en-gb-x-gbclan en-gb-x-rp en-gb-x-gbcwmd en-029)
VARIANTS=(m1 m2 m3 m4 m5 m6 m7 f1 f2 f3 f4 f5 klatt klatt2 klatt3 croak whisper Andy annie max)
WORDS=(zero one two three four five six seven eight nine)
RANDOM=20261207  # seeds bash's generator: the same clips on every run
for word in "${WORDS[@]}"; do
  mkdir -p "$OUT/$word"
  for ((i = 0; i < PER_CLASS; i++)); do
    voice="${ACCENTS[RANDOM % ${#ACCENTS[@]}]}+${VARIANTS[RANDOM % ${#VARIANTS[@]}]}"
    espeak-ng -v "$voice" -s $((110 + RANDOM % 121)) -p $((15 + RANDOM % 71)) -a $((60 + RANDOM % 141)) \
      -w "$OUT/$word/$word-$(printf %03d "$i").wav" "$word"
  done
done
echo "wrote $((PER_CLASS * ${#WORDS[@]})) clips to $OUT"

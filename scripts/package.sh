#!/usr/bin/env bash
# Builds the Debian package with cargo-deb (installed from crates.io when
# missing), prints its path, and checks that it holds what an installation
# needs: the binary, the configuration as a conffile, the units, the
# sysusers and tmpfiles snippets, the maintainer scripts and the guide.
# Extra arguments go to `cargo deb` (e.g. --no-build).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo deb --version >/dev/null 2>&1; then
    echo "package.sh: installing cargo-deb from crates.io (a few minutes, once)" >&2
    cargo install cargo-deb --locked
fi
cargo deb --version >&2

deb=$(cargo deb "$@" | tail -n 1)
if [[ ! -f $deb ]]; then
    echo "package.sh: cargo deb did not name a package file (got: $deb)" >&2
    exit 1
fi

info=$(dpkg-deb --info "$deb")
contents=$(dpkg-deb --contents "$deb")
conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles)
problems=()
for path in \
    ./usr/bin/bientap \
    ./usr/sbin/bientap-admin \
    ./etc/bientap/bientap.toml \
    ./usr/lib/systemd/system/bientap.service \
    ./usr/lib/systemd/system/bientap-backup.service \
    ./usr/lib/systemd/system/bientap-backup.timer \
    ./usr/lib/sysusers.d/bientap.conf \
    ./usr/lib/tmpfiles.d/bientap.conf \
    ./usr/share/doc/bientap/sysadmin.md \
    ./usr/share/doc/bientap/README.md; do
    grep -q " $path\$" <<<"$contents" || problems+=("missing $path")
done
grep -q '^-rw-r----- 0/0 .* \./etc/bientap/bientap\.toml$' <<<"$contents" ||
    problems+=("/etc/bientap/bientap.toml is not mode 640")
grep -qx '/etc/bientap/bientap.toml' <<<"$conffiles" ||
    problems+=("/etc/bientap/bientap.toml is not a conffile")
for script in postinst prerm postrm; do
    grep -q " $script " <<<"$info" || problems+=("no $script maintainer script")
done
grep -q 'Depends:.*systemd-sysusers' <<<"$info" || problems+=("does not depend on systemd-sysusers")
# The units are installed but neither enabled nor started on installation
# (cargo-deb's enable fragment, its start and restart-or-start fragments).
postinst=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./postinst)
if grep -Eq 'deb-systemd-invoke (start|\$_dh_action)|was-enabled defaults to true' <<<"$postinst"; then
    problems+=("postinst enables or starts the units")
fi

if ((${#problems[@]})); then
    printf 'package.sh: %s\n' "${problems[@]}" >&2
    exit 1
fi

echo "$info"
echo "$contents"
echo
echo "$deb ($(du -h "$deb" | cut -f1))"

#!/usr/bin/env bash
# services.sh - makes sure the servers bientap's tests talk to are installed
# and running on loopback: the private mail stack (Dovecot + Postfix, see
# mailstack.sh), PostgreSQL and MariaDB, and the tools the tests call
# (systemd-analyze, pg_dump, dnsmasq: the tests' private DNS servers for
# DKIM, see tests/common/dkim.rs). Installs missing Debian packages
# when run as root; otherwise says what to install and fails.
#
#   services.sh install              install missing Debian packages
#   services.sh ensure postgres      PostgreSQL answers on 127.0.0.1:5432
#   services.sh ensure mariadb       MariaDB answers on 127.0.0.1:3306
#   services.sh ensure mail [DIR]    the mail stack in DIR (default: mail-dir) is up
#   services.sh ensure all [DIR]     all of the above
#   services.sh mail-dir             the default mail stack directory of this
#                                    checkout (under /tmp: Dovecot's users must
#                                    be able to reach it, and a checkout may
#                                    live under a private directory)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PROG=${0##*/}
die() { echo "$PROG: error: $*" >&2; exit 1; }
info() { echo "$PROG: $*" >&2; }

apt_install() {
    [ "$#" -gt 0 ] || return 0
    if [ "$(id -u)" -ne 0 ]; then
        die "missing Debian packages: $*; install them (sudo apt-get install $*) or run as root"
    fi
    info "installing $*"
    export DEBIAN_FRONTEND=noninteractive
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
    # Keep the packages' own system-wide services from starting on the
    # standard ports: the tests run private instances.
    local made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    local rc=0
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"; } >/dev/null || rc=$?
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ "$rc" = 0 ] || die "apt-get install $* failed (exit $rc)"
}

cmd_install() {
    local need=()
    [ -x /usr/sbin/dovecot ] || need+=(dovecot-core dovecot-imapd dovecot-lmtpd)
    [ -x /usr/lib/dovecot/imap ] || need+=(dovecot-imapd)
    [ -x /usr/lib/dovecot/lmtp ] || need+=(dovecot-lmtpd)
    [ -x /usr/sbin/postfix ] || need+=(postfix)
    command -v openssl >/dev/null || need+=(openssl)
    command -v ss >/dev/null || need+=(iproute2)
    # The unit checks (tests/units.rs) and the PostgreSQL backups.
    command -v systemd-analyze >/dev/null || need+=(systemd)
    command -v pg_dump >/dev/null || need+=(postgresql-client)
    # The DKIM tests' DNS servers: the bare executable, which comes with no
    # system service (the "dnsmasq" package would start one on port 53).
    [ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
    if [ "${#need[@]}" -gt 0 ]; then
        # shellcheck disable=SC2207
        need=($(printf '%s\n' "${need[@]}" | sort -u))
        apt_install "${need[@]}"
    fi
}

pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
my_up() { (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null; }

wait_up() { # wait_up CHECK SECONDS
    local i
    for ((i = 0; i < $2 * 10; i++)); do "$1" && return 0; sleep 0.1; done
    return 1
}

ensure_postgres() {
    pg_up && return 0
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
        apt_install postgresql
    fi
    [ "$(id -u)" -eq 0 ] || die "PostgreSQL is not running on 127.0.0.1:5432; start it (pg_ctlcluster VERSION main start)"
    local v
    v=$(ls /etc/postgresql | sort -V | tail -n 1)
    info "starting PostgreSQL $v"
    pg_ctlcluster --skip-systemctl-redirect "$v" main start || die "pg_ctlcluster $v main start failed"
    wait_up pg_up 30 || die "PostgreSQL did not come up on 127.0.0.1:5432"
    # The tests connect as postgres without a password over TCP.
    su postgres -c "psql -qtAc \"select 1\"" >/dev/null 2>&1 || true
}

ensure_mariadb() {
    my_up && return 0
    [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server
    [ "$(id -u)" -eq 0 ] || die "MariaDB is not running on 127.0.0.1:3306; start it"
    info "starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || die "cannot start mariadbd"
    wait_up my_up 30 || die "MariaDB did not come up on 127.0.0.1:3306"
}

mail_dir() {
    local repo sum
    repo=$(cd "$here/../.." && pwd)
    sum=$(printf %s "$repo" | cksum | cut -d' ' -f1)
    echo "${TMPDIR:-/tmp}/bientap-mailstack-$(id -u)-$sum"
}

ensure_mail() {
    cmd_install
    "$here/mailstack.sh" start "${1:-$(mail_dir)}" >&2
}

case "${1:-}" in
    install) cmd_install ;;
    mail-dir) mail_dir ;;
    ensure)
        case "${2:-}" in
            postgres) ensure_postgres ;;
            mariadb) ensure_mariadb ;;
            mail) ensure_mail "${3:-}" ;;
            all) ensure_mail "${3:-}"; ensure_postgres; ensure_mariadb ;;
            *) die "usage: $PROG ensure postgres|mariadb|mail [DIR]|all [DIR]" ;;
        esac ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac

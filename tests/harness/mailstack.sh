#!/usr/bin/env bash
# mailstack.sh - a private, loopback-only, real mail system for bientap's
# integration tests and benchmarks: Dovecot (IMAP, IMAPS, LMTP) + Postfix
# (SMTP) with every config, queue, mailbox, log and pid file kept under one
# directory. Adapted from the team's shared mailstack.sh: every address of the
# test domain is a mailbox (password "secret"), so each test uses addresses of
# its own, and XOAUTH2 works with HS256 JWTs validated by Dovecot itself.
#
#   mailstack.sh start   DIR [dovecot|postfix]   start (idempotent)
#   mailstack.sh stop    DIR [dovecot|postfix]   stop what the pid files name
#   mailstack.sh restart DIR [dovecot|postfix]
#   mailstack.sh status  DIR                     exit 0 = all up, 3 = not all up
#   mailstack.sh env     DIR                     shell-sourceable connection facts
#   mailstack.sh destroy DIR                     stop, then delete DIR
#
# Debian packages it needs: dovecot-core dovecot-imapd dovecot-lmtpd postfix
# openssl (swaks only for manual checks). It never reads or writes /etc/dovecot
# or /etc/postfix, never binds anything but 127.0.0.1, and never stops a
# process it cannot match to one of its own pid files.
#
# Default endpoints (override with env vars at the first start of a DIR; the
# values are then remembered in DIR/mailstack.env):
#   IMAP   127.0.0.1:3143  MAILSTACK_IMAP_PORT   (plain, STARTTLS offered)
#   IMAPS  127.0.0.1:3993  MAILSTACK_IMAPS_PORT  (implicit TLS, self-signed)
#   SMTP   127.0.0.1:3025  MAILSTACK_SMTP_PORT   (STARTTLS + AUTH PLAIN/LOGIN)
#   LMTP   127.0.0.1:3024  MAILSTACK_LMTP_PORT   (direct delivery, no auth)
# Users: any address @MAILSTACK_DOMAIN (default example.test) logs in with
# MAILSTACK_PASSWORD (default "secret") or with XOAUTH2: a JWT signed HS256
# with the key in DIR/oauth2.key (base64), claim "sub" = the address.
# Mail to any domain other than the test domain is accepted from loopback and
# delivered to sink@<domain>, so nothing can leave the machine.
#
# Postfix can only be started by root. Run as a normal user, "start" brings up
# Dovecot alone (IMAP/IMAPS/LMTP) and says so; SMTP then is not available.
set -euo pipefail
umask 022

PROG=${0##*/}
HOST=127.0.0.1
DOVECOT_BIN=/usr/sbin/dovecot
POSTFIX_BIN=/usr/sbin/postfix
START_TIMEOUT=${MAILSTACK_START_TIMEOUT:-8}   # seconds to wait for listeners

die()  { echo "$PROG: error: $*" >&2; exit 1; }
warn() { echo "$PROG: warning: $*" >&2; }
info() { echo "$PROG: $*"; }

usage() {
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# ---------------------------------------------------------------- settings --

resolve_dir() {
    [ -n "${1:-}" ] || usage
    DIR=$(realpath -m -- "$1")
    case "$DIR" in
        /|/etc|/etc/*|/usr|/usr/*|/var|/bin|/sbin|/lib|/lib64|/boot|/proc|/proc/*|/sys|/sys/*|/dev|/dev/*)
            die "refusing to use $DIR as a mail stack directory";;
    esac
    # Dovecot binds absolute unix socket paths under $DIR/run (longest name
    # ~25 chars); sun_path holds 107 bytes.
    [ "${#DIR}" -le 78 ] || die "DIR path too long for unix sockets (${#DIR} > 78 chars): $DIR"
    case "$DIR" in *[[:space:]\"\'\\\$\`]*) die "DIR must not contain spaces, quotes, \\, \$ or backquotes: $DIR";; esac
    ENVFILE=$DIR/mailstack.env
    DOVECOT_CONF=$DIR/dovecot.conf
    PF_CONF=$DIR/postfix
    PF_SPOOL=$DIR/spool
    RUNDIR=$DIR/run
    DOVECOT_PID=$RUNDIR/master.pid
    PF_PID=$PF_SPOOL/pid/master.pid
    LOGDIR=$DIR/log
    TLSDIR=$DIR/tls
}

load_settings() {
    # Remembered values first, then explicit env overrides, then defaults.
    MS_IMAP_PORT='' MS_IMAPS_PORT='' MS_SMTP_PORT='' MS_LMTP_PORT=''
    MS_DOMAIN='' MS_SMTPUTF8='' MS_IMAP_CAPABILITY='' MS_PASSWORD='' MS_MAIL_USER='' MS_MAIL_GROUP=''
    if [ -f "$ENVFILE" ]; then
        # shellcheck disable=SC1090
        . <(grep -E '^MS_[A-Z_]+=' "$ENVFILE")
    fi
    IMAP_PORT=${MAILSTACK_IMAP_PORT:-${MS_IMAP_PORT:-3143}}
    IMAPS_PORT=${MAILSTACK_IMAPS_PORT:-${MS_IMAPS_PORT:-3993}}
    SMTP_PORT=${MAILSTACK_SMTP_PORT:-${MS_SMTP_PORT:-3025}}
    LMTP_PORT=${MAILSTACK_LMTP_PORT:-${MS_LMTP_PORT:-3024}}
    DOMAIN=${MAILSTACK_DOMAIN:-${MS_DOMAIN:-example.test}}
    SMTPUTF8=${MAILSTACK_SMTPUTF8:-${MS_SMTPUTF8:-no}}
    # A full CAPABILITY list to announce instead of Dovecot's, to imitate
    # older servers (e.g. without IDLE, MOVE or UIDPLUS).
    IMAP_CAPABILITY=${MAILSTACK_IMAP_CAPABILITY:-${MS_IMAP_CAPABILITY:-}}
    [[ "$IMAP_CAPABILITY" =~ ^[A-Za-z0-9=+\ -]*$ ]] || die "bad MAILSTACK_IMAP_CAPABILITY"
    case "$SMTPUTF8" in yes|no) ;; *) die "MAILSTACK_SMTPUTF8 must be yes or no";; esac
    PASSWORD=${MAILSTACK_PASSWORD:-${MS_PASSWORD:-secret}}
    SINK=sink@$DOMAIN
    for p in "$IMAP_PORT" "$IMAPS_PORT" "$SMTP_PORT" "$LMTP_PORT"; do
        [[ "$p" =~ ^[0-9]+$ ]] && [ "$p" -ge 1024 ] && [ "$p" -le 65535 ] ||
            die "port '$p' must be a number in 1024..65535"
    done
    [[ "$DOMAIN" =~ ^[A-Za-z0-9.-]+$ ]] || die "bad domain '$DOMAIN'"
    [[ "$PASSWORD" =~ ^[^:[:space:]]+$ ]] || die "password must not contain ':' or spaces"

    IS_ROOT=0; [ "$(id -u)" -eq 0 ] && IS_ROOT=1
    # Mail files must be owned by a non-root uid (Dovecot refuses root).
    local mu=${MAILSTACK_MAIL_USER:-$MS_MAIL_USER}
    if [ -z "$mu" ]; then
        if [ "$IS_ROOT" = 1 ]; then
            mu=nobody
            if [ -d "$DIR" ]; then
                local owner; owner=$(stat -c %U "$DIR")
                [ "$owner" != root ] && [ "$owner" != UNKNOWN ] && mu=$owner
            fi
        else
            mu=$(id -un)
        fi
    fi
    MAIL_USER=$mu
    MAIL_UID=$(id -u "$MAIL_USER" 2>/dev/null) || die "unknown mail user '$MAIL_USER'"
    [ "$MAIL_UID" -ne 0 ] || die "the mail user must not be root"
    MAIL_GROUP=${MAILSTACK_MAIL_GROUP:-${MS_MAIL_GROUP:-$(id -gn "$MAIL_USER")}}
    MAIL_GID=$(getent group "$MAIL_GROUP" | cut -d: -f3)
    [ -n "$MAIL_GID" ] || die "unknown mail group '$MAIL_GROUP'"
    if [ "$IS_ROOT" = 0 ] && [ "$MAIL_UID" -ne "$(id -u)" ]; then
        die "as a normal user the mail user must be yourself ($(id -un))"
    fi
}

save_settings() {
    cat > "$ENVFILE.tmp" <<EOF
# written by $PROG; remembered settings of this mail stack
MS_IMAP_PORT=$IMAP_PORT
MS_IMAPS_PORT=$IMAPS_PORT
MS_SMTP_PORT=$SMTP_PORT
MS_LMTP_PORT=$LMTP_PORT
MS_DOMAIN=$DOMAIN
MS_SMTPUTF8=$SMTPUTF8
MS_IMAP_CAPABILITY="$IMAP_CAPABILITY"
MS_PASSWORD=$PASSWORD
MS_MAIL_USER=$MAIL_USER
MS_MAIL_GROUP=$MAIL_GROUP
EOF
    mv -f "$ENVFILE.tmp" "$ENVFILE"
}

# ------------------------------------------------------------- processes --

# pid_of COMPONENT -> prints the master pid when its pid file names a live
# process that is really this stack's master; prints nothing otherwise.
pid_of() {
    local comp=$1 file pid comm
    case $comp in
        dovecot) file=$DOVECOT_PID;;
        postfix) file=$PF_PID;;
    esac
    [ -r "$file" ] || return 0
    pid=$(tr -dc '0-9' < "$file")
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 0
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 0
    case $comp in
        dovecot)
            [ "$comm" = dovecot ] || return 0
            tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-c $DOVECOT_CONF" || return 0;;
        postfix)
            [ "$comm" = master ] || return 0
            # The Postfix master runs with its queue directory as cwd.
            if [ -r "/proc/$pid/cwd" ] || [ "$IS_ROOT" = 1 ]; then
                [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$PF_SPOOL" ] || return 0
            fi;;
    esac
    echo "$pid"
}

port_busy() {  # port_busy PORT -> true when something listens on it
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
    else
        (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
    fi
}

# banner HOST PORT -> first line the server sends (empty on failure)
banner() {
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1; IFS= read -r -t 2 l <&3; printf "%s" "${l%$'"'"'\r'"'"'}"' "$HOST" "$1" 2>/dev/null || true
}

wait_for() {  # wait_for DEADLINE_EPOCH_NS PORT EXPECTED_PREFIX
    local deadline=$1 port=$2 want=$3 b
    while :; do
        b=$(banner "$port")
        case "$b" in "$want"*) return 0;; esac
        [ "$(date +%s%N)" -lt "$deadline" ] || { echo "$b"; return 1; }
        sleep 0.05
    done
}

wait_gone() {  # wait_gone PID SECONDS
    local pid=$1 n=$(( $2 * 20 ))
    while [ -d "/proc/$pid" ] && [ "$n" -gt 0 ]; do
        # a zombie child of ours counts as gone
        [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 0
        sleep 0.05; n=$((n - 1))
    done
    [ ! -d "/proc/$pid" ]
}

# ---------------------------------------------------------------- configs --

make_tls() {
    # A private CA (its certificate is what clients trust: MAILSTACK_CA_CERT)
    # and a server certificate for localhost / 127.0.0.1 signed by it; TLS
    # libraries such as rustls refuse a CA certificate used as a server's.
    [ -s "$TLSDIR/ca.pem" ] && [ -s "$TLSDIR/cert.pem" ] && [ -s "$TLSDIR/key.pem" ] && return 0
    mkdir -p "$TLSDIR"
    local t=$TLSDIR/tmp
    rm -rf "$t"; mkdir -p "$t"
    {
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -days 3650 -subj "/CN=mailstack test CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -keyout "$t/ca-key.pem" -out "$t/ca.pem" &&
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -subj "/CN=localhost/O=mailstack" -keyout "$t/key.pem" -out "$t/req.pem" &&
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:mail.%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' "$DOMAIN" > "$t/ext.cnf" &&
        openssl x509 -req -in "$t/req.pem" -CA "$t/ca.pem" -CAkey "$t/ca-key.pem" -CAcreateserial \
            -days 3650 -extfile "$t/ext.cnf" -out "$t/cert.pem"
    } >/dev/null 2>&1 || die "openssl could not create the test certificates"
    chmod 600 "$t/key.pem" "$t/ca-key.pem"
    mv -f "$t/key.pem" "$TLSDIR/key.pem"
    mv -f "$t/cert.pem" "$TLSDIR/cert.pem"
    mv -f "$t/ca.pem" "$TLSDIR/ca.pem"
    rm -rf "$t"
}

# The mail user (and Dovecot's internal user) must be able to walk into DIR.
check_traversal() {
    [ "$IS_ROOT" = 1 ] || return 0
    local who
    for who in "$MAIL_USER" dovecot; do
        if ! setpriv --reuid="$who" --regid="$(id -g "$who")" --clear-groups test -x "$DIR/." 2>/dev/null; then
            chmod o+x "$DIR" 2>/dev/null || true
            setpriv --reuid="$who" --regid="$(id -g "$who")" --clear-groups test -x "$DIR/." 2>/dev/null ||
                die "user '$who' cannot reach $DIR (a parent directory is not world-searchable); pick another DIR or set MAILSTACK_MAIL_USER"
        fi
    done
}

write_dovecot_conf() {
    mkdir -p "$RUNDIR" "$DIR/state" "$LOGDIR"
    if [ ! -d "$DIR/mail" ]; then
        mkdir -p "$DIR/mail"
        chmod 750 "$DIR/mail"
    fi
    [ "$IS_ROOT" = 1 ] && chown "$MAIL_UID:$MAIL_GID" "$DIR/mail"

    # XOAUTH2: Dovecot validates HS256 JWTs locally with this key.
    if [ ! -s "$DIR/oauth2.key" ]; then
        head -c 32 /dev/urandom | base64 -w0 > "$DIR/oauth2.key.tmp"
        mv -f "$DIR/oauth2.key.tmp" "$DIR/oauth2.key"
    fi
    mkdir -p "$DIR/oauth2-keys/default/HS256"
    cp "$DIR/oauth2.key" "$DIR/oauth2-keys/default/HS256/default"
    cat > "$DIR/dovecot-oauth2.conf.ext" <<EOF
introspection_mode = local
local_validation_key_dict = fs:posix:prefix=$DIR/oauth2-keys/
username_attribute = sub
EOF
    if [ "$IS_ROOT" = 1 ]; then
        chgrp -R dovecot "$DIR/oauth2-keys" "$DIR/dovecot-oauth2.conf.ext"
        chmod -R g+rX "$DIR/oauth2-keys" "$DIR/dovecot-oauth2.conf.ext"
    fi

    local internal_user internal_group login_user rootless postfix_sockets
    if [ "$IS_ROOT" = 1 ]; then
        internal_user=dovecot internal_group=dovecot login_user=dovenull rootless=''
        postfix_sockets=$(cat <<EOF
# Postfix (running chdir'ed in its queue dir) uses private/dovecot-lmtp and
# private/auth; the sockets live in Postfix's private/ directory.
service lmtp {
  unix_listener $PF_SPOOL/private/dovecot-lmtp {
    mode = 0600
    user = postfix
    group = postfix
  }
}
service auth {
  unix_listener $PF_SPOOL/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOF
)
    else
        internal_user=$(id -un) internal_group=$(id -gn) login_user=$(id -un)
        rootless=$(printf 'service anvil {\n  chroot =\n}\nservice imap-login {\n  chroot =\n}\n')
        postfix_sockets=''
    fi

    cat > "$DOVECOT_CONF.tmp" <<EOF
# Generated by $PROG - private Dovecot instance; do not edit (rewritten at start)
instance_name = mailstack-$(printf %s "$DIR" | cksum | cut -d' ' -f1)
base_dir = $RUNDIR
state_dir = $DIR/state
log_path = $LOGDIR/dovecot.log
info_log_path = $LOGDIR/dovecot.log
log_timestamp = "%Y-%m-%d %H:%M:%S "
protocols = imap lmtp
listen = $HOST
hostname = mail.$DOMAIN
login_greeting = Dovecot (mailstack) ready.
verbose_proctitle = yes
shutdown_clients = yes

default_internal_user = $internal_user
default_internal_group = $internal_group
default_login_user = $login_user
$rootless

# --- auth: every address of the domain, one password; plaintext allowed on loopback
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_username_format = %Lu
# no 2 s delay and no per-IP penalty after failed logins (keeps tests fast
# and deterministic; a real server keeps the defaults)
auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $DIR/dovecot-oauth2.conf.ext
}
passdb {
  driver = static
  mechanisms = plain login
  args = password=$PASSWORD
}
userdb {
  driver = static
  args = uid=$MAIL_UID gid=$MAIL_GID home=$DIR/mail/%Ld/%Ln allow_all_users=yes
}

# --- storage
mail_uid = $MAIL_UID
mail_gid = $MAIL_GID
first_valid_uid = $MAIL_UID
last_valid_uid = $MAIL_UID
first_valid_gid = $MAIL_GID
last_valid_gid = $MAIL_GID
mail_location = maildir:~/Maildir
mail_privileged_group =
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
}

# --- TLS (self-signed, generated into $TLSDIR)
ssl = yes
ssl_cert = <$TLSDIR/cert.pem
ssl_key = <$TLSDIR/key.pem
ssl_min_protocol = TLSv1.2

# --- IMAP
protocol imap {
  ${IMAP_CAPABILITY:+imap_capability = $IMAP_CAPABILITY}
  mail_max_userip_connections = 512
  imap_idle_notify_interval = 2 mins
}
service imap-login {
  inet_listener imap {
    address = $HOST
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = $HOST
    port = $IMAPS_PORT
    ssl = yes
  }
}

# --- LMTP (Postfix hands mail over here; tests may also speak LMTP directly)
recipient_delimiter = +
lmtp_save_to_detail_mailbox = no
postmaster_address = postmaster@$DOMAIN
service lmtp {
  inet_listener lmtp {
    address = $HOST
    port = $LMTP_PORT
  }
}
$postfix_sockets
EOF
    mv -f "$DOVECOT_CONF.tmp" "$DOVECOT_CONF"
    $DOVECOT_BIN -c "$DOVECOT_CONF" -n >/dev/null 2>"$LOGDIR/doveconf.err" ||
        die "generated dovecot.conf is invalid: $(cat "$LOGDIR/doveconf.err")"
}

write_postfix_conf() {
    mkdir -p "$PF_CONF" "$DIR/postfix-data" "$LOGDIR" "$PF_SPOOL/private" "$PF_SPOOL/pid"
    # Dovecot puts its sockets into private/ before Postfix starts.
    chown postfix:root "$PF_SPOOL/private"; chmod 700 "$PF_SPOOL/private"
    chown root:root "$PF_SPOOL" "$PF_SPOOL/pid"
    chown postfix "$DIR/postfix-data"

    local dre=${DOMAIN//./\\.}
    printf '/^[^@]+@%s$/ OK\n' "$dre" > "$PF_CONF/vmailbox.regexp"
    printf '# postmaster and all mail for other domains go to the sink mailbox\n/^postmaster@%s$/ %s\n!/@%s$/ %s\n' \
        "$dre" "$SINK" "$dre" "$SINK" > "$PF_CONF/sink.regexp"

    cat > "$PF_CONF/main.cf" <<EOF
# Generated by $PROG - private Postfix instance; do not edit (rewritten at start)
compatibility_level = 3.6
queue_directory = $PF_SPOOL
data_directory = $DIR/postfix-data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $LOGDIR/postfix.log
maillog_file_prefixes = $LOGDIR

myhostname = mail.$DOMAIN
mydomain = $DOMAIN
myorigin = \$mydomain
mydestination =
relayhost =
inet_interfaces = $HOST
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = \$myhostname ESMTP mailstack
biff = no
append_dot_mydomain = no
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled

alias_maps =
alias_database =
local_recipient_maps =
local_transport = error:5.1.1 local delivery is disabled in mailstack
default_transport = error:5.7.1 mailstack delivers only to $DOMAIN
recipient_delimiter = +
virtual_mailbox_domains = $DOMAIN
virtual_mailbox_maps = regexp:$PF_CONF/vmailbox.regexp
virtual_alias_maps = regexp:$PF_CONF/sink.regexp
# keep the catch-all regexp from turning its own domain into an alias domain
virtual_alias_domains =
virtual_transport = lmtp:unix:private/dovecot-lmtp

smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_sasl_security_options = noanonymous
smtpd_tls_security_level = may
smtpd_tls_auth_only = no
smtpd_tls_cert_file = $TLSDIR/cert.pem
smtpd_tls_key_file = $TLSDIR/key.pem
smtp_tls_security_level = none
lmtp_tls_security_level = none

# Dovecot 2.3 LMTP does not offer SMTPUTF8, so Postfix would accept a
# "MAIL FROM:<..> SMTPUTF8" message and then bounce it (5.6.7). "no" (the
# default here) refuses SMTPUTF8 up front instead; 8-bit UTF-8 headers sent
# without the SMTPUTF8 keyword still pass through. MAILSTACK_SMTPUTF8=yes
# gives Postfix's own default.
smtputf8_enable = $SMTPUTF8
message_size_limit = 52428800
mailbox_size_limit = 0
# test-friendly timing: no inbound throttling, quick retries after an outage
in_flow_delay = 0
smtpd_error_sleep_time = 0
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 30s
maximal_queue_lifetime = 1d
bounce_queue_lifetime = 1d
delay_warning_time = 0h
EOF

    cat > "$PF_CONF/master.cf" <<EOF
# Generated by $PROG. Nothing is chrooted: paths stay under $DIR.
# service  type  private unpriv  chroot  wakeup  maxproc command
$HOST:$SMTP_PORT inet n - n - - smtpd
pickup     unix  n       -       n       60      1       pickup
cleanup    unix  n       -       n       -       0       cleanup
qmgr       unix  n       -       n       300     1       qmgr
tlsmgr     unix  -       -       n       1000?   1       tlsmgr
rewrite    unix  -       -       n       -       -       trivial-rewrite
bounce     unix  -       -       n       -       0       bounce
defer      unix  -       -       n       -       0       bounce
trace      unix  -       -       n       -       0       bounce
verify     unix  -       -       n       -       1       verify
flush      unix  n       -       n       1000?   0       flush
proxymap   unix  -       -       n       -       -       proxymap
proxywrite unix  -       -       n       -       1       proxymap
smtp       unix  -       -       n       -       -       smtp
relay      unix  -       -       n       -       -       smtp
showq      unix  n       -       n       -       -       showq
error      unix  -       -       n       -       -       error
retry      unix  -       -       n       -       -       error
discard    unix  -       -       n       -       -       discard
lmtp       unix  -       -       n       -       -       lmtp
anvil      unix  -       -       n       -       1       anvil
scache     unix  -       -       n       -       1       scache
postlog    unix-dgram n  -       n       -       1       postlogd
EOF
}

# ---------------------------------------------------------------- actions --

start_dovecot() {
    local pid; pid=$(pid_of dovecot)
    if [ -n "$pid" ]; then info "dovecot already running (pid $pid)"; return 0; fi
    for p in "$IMAP_PORT" "$IMAPS_PORT" "$LMTP_PORT"; do
        port_busy "$p" && die "port $HOST:$p is already in use by another process (dovecot not started)"
    done
    rm -f "$DOVECOT_PID"
    write_dovecot_conf
    $DOVECOT_BIN -c "$DOVECOT_CONF" 2>>"$LOGDIR/dovecot.log" 9>&- ||
        die "dovecot failed to start; see $LOGDIR/dovecot.log"
    local deadline=$(( $(date +%s%N) + START_TIMEOUT * 1000000000 )) b
    b=$(wait_for "$deadline" "$IMAP_PORT" "* OK") || die "IMAP on $HOST:$IMAP_PORT not ready (got '$b'); see $LOGDIR/dovecot.log"
    b=$(wait_for "$deadline" "$LMTP_PORT" "220") || die "LMTP on $HOST:$LMTP_PORT not ready (got '$b'); see $LOGDIR/dovecot.log"
    info "dovecot started (pid $(pid_of dovecot)): IMAP $HOST:$IMAP_PORT, IMAPS $HOST:$IMAPS_PORT, LMTP $HOST:$LMTP_PORT"
}

start_postfix() {
    local pid; pid=$(pid_of postfix)
    if [ -n "$pid" ]; then info "postfix already running (pid $pid)"; return 0; fi
    if [ "$IS_ROOT" = 0 ]; then
        warn "postfix can only be started by root; SMTP on $HOST:$SMTP_PORT is NOT available"
        return 0
    fi
    port_busy "$SMTP_PORT" && die "port $HOST:$SMTP_PORT is already in use by another process (postfix not started)"
    rm -f "$PF_PID"
    write_postfix_conf
    if ! $POSTFIX_BIN -c "$PF_CONF" start >>"$LOGDIR/postfix-start.log" 2>&1 9>&-; then
        # postfix prints its reasons only to a terminal or the log; replay
        # the sanity check under script(1) so the reason reaches the user
        script -qec "$POSTFIX_BIN -c $PF_CONF check" /dev/null >>"$LOGDIR/postfix-start.log" 2>&1 || true
        die "postfix failed to start: $(tail -n 5 "$LOGDIR/postfix-start.log" "$LOGDIR/postfix.log" 2>/dev/null)"
    fi
    local deadline=$(( $(date +%s%N) + START_TIMEOUT * 1000000000 )) b
    b=$(wait_for "$deadline" "$SMTP_PORT" "220") || die "SMTP on $HOST:$SMTP_PORT not ready (got '$b'); see $LOGDIR/postfix.log"
    [ -S "$PF_SPOOL/private/dovecot-lmtp" ] || warn "dovecot's LMTP socket for postfix is missing (is dovecot running?)"
    info "postfix started (pid $(pid_of postfix)): SMTP $HOST:$SMTP_PORT"
}

stop_dovecot() {
    local pid; pid=$(pid_of dovecot)
    if [ -z "$pid" ]; then
        info "dovecot not running"; rm -f "$DOVECOT_PID"; return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 10; then
        warn "dovecot (pid $pid) ignored SIGTERM; killing its process group"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 2 || die "could not stop dovecot pid $pid"
    fi
    # Mail processes of this instance (its process group) may outlive the
    # master; a stopped server must not keep serving old connections.
    local n=100
    while [ "$n" -gt 0 ] && pgrep -g "$pid" >/dev/null 2>&1; do
        [ "$n" = 60 ] && kill -TERM -- "-$pid" 2>/dev/null
        sleep 0.05; n=$((n - 1))
    done
    pgrep -g "$pid" >/dev/null 2>&1 && kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$DOVECOT_PID"
    info "dovecot stopped (was pid $pid)"
}

stop_postfix() {
    local pid; pid=$(pid_of postfix)
    if [ -z "$pid" ]; then
        info "postfix not running"; rm -f "$PF_PID"; return 0
    fi
    # "postfix stop" signals exactly the master named in $PF_PID.
    $POSTFIX_BIN -c "$PF_CONF" stop >>"$LOGDIR/postfix-start.log" 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 10; then
        warn "postfix master (pid $pid) still there; killing its process group"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 2 || die "could not stop postfix pid $pid"
    fi
    # master's children exit on their own once master is gone; wait for the
    # process group (it is the master pid) to empty.
    local n=100
    while [ "$n" -gt 0 ] && pgrep -g "$pid" >/dev/null 2>&1; do sleep 0.05; n=$((n - 1)); done
    pgrep -g "$pid" >/dev/null 2>&1 && kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$PF_PID"
    info "postfix stopped (was pid $pid)"
}

comp_list() {
    case "${1:-all}" in
        all|'') echo "dovecot postfix";;
        dovecot|postfix) echo "$1";;
        *) usage;;
    esac
}

cmd_start() {
    local comps; comps=$(comp_list "${1:-}")
    command -v "$DOVECOT_BIN" >/dev/null || die "dovecot not installed (apt-get install dovecot-core dovecot-imapd dovecot-lmtpd)"
    command -v "$POSTFIX_BIN" >/dev/null || [ "$comps" = dovecot ] || die "postfix not installed (apt-get install postfix)"
    if [ ! -d "$DIR" ]; then mkdir -p "$DIR"; chmod 755 "$DIR"; fi
    touch "$DIR/.mailstack"
    exec 9>"$DIR/.lock"
    flock -w 30 9 || die "another $PROG is working on $DIR"
    # settings are frozen while any component runs
    if [ -z "$(pid_of dovecot)$(pid_of postfix)" ]; then save_settings; fi
    check_traversal
    make_tls
    local t0; t0=$(date +%s%N)
    # Postfix's private/ dir must exist before dovecot binds sockets into it.
    if [ "$IS_ROOT" = 1 ] && [ ! -d "$PF_SPOOL/private" ]; then
        mkdir -p "$PF_SPOOL/private"; chown postfix:root "$PF_SPOOL/private"; chmod 700 "$PF_SPOOL/private"
    fi
    for c in $comps; do "start_$c"; done
    info "ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms; dir $DIR"
}

cmd_stop() {
    local comps; comps=$(comp_list "${1:-}")
    [ -d "$DIR" ] || { info "no mail stack at $DIR"; return 0; }
    exec 9>"$DIR/.lock"
    flock -w 30 9 || die "another $PROG is working on $DIR"
    # postfix first so no delivery attempt hits a vanished LMTP socket
    case "$comps" in *postfix*) stop_postfix;; esac
    case "$comps" in *dovecot*) stop_dovecot;; esac
}

count_mail() {  # count_mail USER -> messages in INBOX (new + cur)
    local d=$DIR/mail/${1#*@}/${1%@*}/Maildir
    if [ -d "$d" ]; then find "$d/new" "$d/cur" -type f 2>/dev/null | wc -l; else echo 0; fi
}

cmd_status() {
    [ -d "$DIR" ] || { echo "no mail stack at $DIR"; return 3; }
    local rc=0 pid q b
    pid=$(pid_of dovecot)
    if [ -n "$pid" ]; then
        echo "dovecot: running (pid $pid)"
        b=$(banner "$IMAP_PORT"); echo "  imap  $HOST:$IMAP_PORT  ${b:-NOT ANSWERING}"
        [ -n "$b" ] || rc=3
        if port_busy "$IMAPS_PORT"; then echo "  imaps $HOST:$IMAPS_PORT  listening (TLS)"; else echo "  imaps $HOST:$IMAPS_PORT  NOT LISTENING"; rc=3; fi
        b=$(banner "$LMTP_PORT"); echo "  lmtp  $HOST:$LMTP_PORT  ${b:-NOT ANSWERING}"
    else
        echo "dovecot: stopped"; rc=3
    fi
    pid=$(pid_of postfix)
    if [ -n "$pid" ]; then
        echo "postfix: running (pid $pid)"
        b=$(banner "$SMTP_PORT"); echo "  smtp  $HOST:$SMTP_PORT  ${b:-NOT ANSWERING}"
        [ -n "$b" ] || rc=3
        q=$(find "$PF_SPOOL/incoming" "$PF_SPOOL/active" "$PF_SPOOL/deferred" "$PF_SPOOL/maildrop" -type f 2>/dev/null | wc -l)
        echo "  queue: $q message(s) not yet delivered"
    else
        echo "postfix: stopped"; rc=3
    fi
    echo "mailboxes (INBOX messages):"
    local box
    for box in "$DIR/mail/$DOMAIN"/*/; do
        [ -d "$box" ] || continue
        box=$(basename "$box")
        printf '  %-32s %s\n' "$box@$DOMAIN" "$(count_mail "$box@$DOMAIN")"
    done
    echo "logs: $LOGDIR/dovecot.log $LOGDIR/postfix.log"
    return $rc
}

cmd_env() {
    cat <<EOF
MAILSTACK_DIR=$DIR
MAILSTACK_HOST=$HOST
MAILSTACK_IMAP_PORT=$IMAP_PORT
MAILSTACK_IMAPS_PORT=$IMAPS_PORT
MAILSTACK_SMTP_PORT=$SMTP_PORT
MAILSTACK_LMTP_PORT=$LMTP_PORT
MAILSTACK_DOMAIN=$DOMAIN
MAILSTACK_OAUTH2_KEY_FILE=$DIR/oauth2.key
MAILSTACK_PASSWORD=$PASSWORD
MAILSTACK_CA_CERT=$TLSDIR/ca.pem
MAILSTACK_MAILDIR_ROOT=$DIR/mail
EOF
}

cmd_destroy() {
    [ -d "$DIR" ] || return 0
    [ -f "$DIR/.mailstack" ] || die "$DIR was not created by $PROG; not deleting it"
    cmd_stop
    exec 9>&-
    rm -rf -- "$DIR"
    info "removed $DIR"
}

main() {
    local cmd=${1:-}; shift || true
    case "$cmd" in
        start|stop|restart|status|env|destroy) ;;
        -h|--help|help|'') usage;;
        *) usage;;
    esac
    resolve_dir "${1:-}"
    load_settings
    case "$cmd" in
        start)   cmd_start "${2:-}";;
        stop)    cmd_stop "${2:-}";;
        restart) cmd_stop "${2:-}"; exec 9>&-; cmd_start "${2:-}";;
        status)  cmd_status;;
        env)     cmd_env;;
        destroy) cmd_destroy;;
    esac
}

main "$@"

#!/bin/bash
#
# Stand-ins for the part of DevStack's function library that doctor's
# DevStack plugin calls, for its unit tests.
#
# Each function records its call in the file $STUB_LOG, one line per call:
# the function's name and its arguments, separated by tabs. iniset and
# iniget act on real INI files. As in DevStack, run_process and
# stop_process do nothing (and record nothing) for a service that is not
# enabled.
#
# What DevStack does around the plugin's phases is modelled as it is, not
# as a plugin would like it: SERVICE_PROTOCOL stays http under tls-proxy,
# NEUTRON_CORE_PLUGIN_CONF is a relative path, SERVICE_LISTEN_ADDRESS has
# brackets under IPv6, MySQL URLs carry DevStack's query counter, and
# stack.sh edits Nova's files in a background job during post-config
# (async_runfunc and async_wait below).

function _stub_record {
    local IFS=$'\t'
    echo "$*" >> "$STUB_LOG"
}

function define_plugin {
    _stub_record define_plugin "$@"
}

# enable_service and disable_service keep DevStack's rule: a service
# disabled (in local.conf) stays disabled when a plugin enables it.
function enable_service {
    local service
    for service in "$@"; do
        if [[ ,${DISABLED_SERVICES:-}, == *,$service,* ]]; then
            continue
        fi
        if [[ ,$ENABLED_SERVICES, != *,$service,* ]]; then
            ENABLED_SERVICES=${ENABLED_SERVICES:+$ENABLED_SERVICES,}$service
        fi
    done
}

function disable_service {
    local service
    local kept=""
    local enabled
    for service in "$@"; do
        DISABLED_SERVICES=${DISABLED_SERVICES:+$DISABLED_SERVICES,}$service
    done
    for enabled in ${ENABLED_SERVICES//,/ }; do
        for service in "$@"; do
            if [[ $enabled == "$service" ]]; then
                continue 2
            fi
        done
        kept=${kept:+$kept,}$enabled
    done
    ENABLED_SERVICES=$kept
}

# is_service_enabled <service>... - true if any is enabled. Like
# DevStack's, a function is_<service>_enabled answers for its service.
function is_service_enabled {
    local service
    for service in "$@"; do
        if [[ ,$ENABLED_SERVICES, == *,$service,* ]]; then
            return 0
        fi
        if declare -F "is_${service}_enabled" >/dev/null; then
            if "is_${service}_enabled"; then
                return 0
            fi
        fi
    done
    return 1
}

# DevStack's lib/keystone, lib/nova and lib/neutron have these: keystone
# is the service "key", nova and neutron stand for any of their services.
function is_keystone_enabled {
    [[ ,$ENABLED_SERVICES, == *,key,* ]]
}

function is_nova_enabled {
    [[ ,$ENABLED_SERVICES == *,n-* ]]
}

function is_neutron_enabled {
    [[ ,$ENABLED_SERVICES =~ ,(q|neutron)- ]]
}

function iniset {
    if [[ $1 == -sudo ]]; then
        shift
    fi
    local file=$1
    _stub_check_writer "$file" || exit 1
    touch "$file"
    INI_SECTION=$2 INI_OPTION=$3 INI_VALUE=$4 awk '
        BEGIN {
            s = ENVIRON["INI_SECTION"]; o = ENVIRON["INI_OPTION"]
            v = ENVIRON["INI_VALUE"]; done = 0; inside = 0
        }
        /^\[.*\]$/ {
            if (inside && !done) { print o " = " v; done = 1 }
            inside = ($0 == "[" s "]")
            print
            next
        }
        inside && !done {
            name = $0
            sub(/[ \t]*=.*/, "", name)
            if (name == o) { print o " = " v; done = 1; next }
        }
        { print }
        END {
            if (!done) {
                if (!inside) { print "[" s "]" }
                print o " = " v
            }
        }' "$file" > "$file.new"
    mv "$file.new" "$file"
}

function iniget {
    local file=$1
    if [[ ! -f $file ]]; then
        return 0
    fi
    INI_SECTION=$2 INI_OPTION=$3 awk '
        /^\[.*\]$/ { inside = ($0 == "[" ENVIRON["INI_SECTION"] "]"); next }
        inside {
            name = $0
            sub(/[ \t]*=.*/, "", name)
            if (name == ENVIRON["INI_OPTION"]) {
                sub(/^[^=]*=[ \t]*/, "")
                print
                exit
            }
        }' "$file"
}

function get_python_exec_prefix {
    echo "$STUB_BIN_DIR"
}

# get_transport_url [virtual host] - as DevStack's: the RPC bus, a cell's
# virtual host when given one.
function get_transport_url {
    echo "rabbit://stackrabbit:secret@$SERVICE_HOST:5672/${1:-}"
}

# get_notification_url - DevStack's notification bus: its default
# virtual host, whichever a service's own RPC transport uses.
function get_notification_url {
    echo "rabbit://stackrabbit:secret@$SERVICE_HOST:5672/${1:-}"
}

# database_connection_url <database> - with MySQL, DevStack gathers query
# counts by default (MYSQL_GATHER_PERFORMANCE) through a SQLAlchemy plugin
# named in the URL.
function database_connection_url {
    local plugin=""
    if [[ ${MYSQL_GATHER_PERFORMANCE:-True} == True ]] \
            && is_service_enabled mysql; then
        plugin="&plugin=dbcounter"
    fi
    echo "mysql+pymysql://root:secret@$SERVICE_HOST/$1?charset=utf8$plugin"
}

# ipv6_unquote <address> - the address without the brackets of a URL.
function ipv6_unquote {
    local address=${1#[}
    echo "${address%]}"
}

function configure_keystone_authtoken_middleware {
    _stub_record configure_keystone_authtoken_middleware "$@"
    local section=${3:-keystone_authtoken}
    iniset "$1" "$section" auth_type password
    iniset "$1" "$section" username "$2"
}

function get_or_create_service {
    _stub_record get_or_create_service "$@"
    echo "service-id-of-$1"
}

function get_or_create_endpoint {
    _stub_record get_or_create_endpoint "$@"
    echo "endpoint-id-of-$1"
}

function run_process {
    if is_service_enabled "$1"; then
        _stub_record run_process "$@"
    fi
}

function stop_process {
    if is_service_enabled "$1"; then
        _stub_record stop_process "$@"
    fi
}

function wait_for_service {
    _stub_record wait_for_service "$@"
    return "${STUB_WAIT_STATUS:-0}"
}

function die {
    local line=$1
    shift
    _stub_record die "$*"
    echo "[ERROR] plugin.sh:$line $*" >&2
    exit 1
}

function sudo {
    "$@"
}

# Background jobs, as stack.sh runs them (async_runfunc, DEVSTACK_PARALLEL
# on by default): a job runs beside the phases that follow until a later
# async_wait collects it; waiting for a job that was never started, or
# was collected already, only says so. A job is "running" here until it
# is collected (it starts its work only then, which is one order the
# real job may take), and the files it writes are held meanwhile: the
# main shell writing one of them is a lost-update race, recorded as
# "race" and fatal.
STUB_ASYNC_DIR=${STUB_ASYNC_DIR:-$(mktemp -d)}
declare -A _STUB_ASYNC_PIDS=()

function async_runfunc {
    local name=$1
    local fifo=$STUB_ASYNC_DIR/$name.fifo
    _stub_record async_runfunc "$@"
    _stub_async_files "$name" > "$STUB_ASYNC_DIR/$name.files"
    mkfifo "$fifo"
    (
        STUB_ASYNC_JOB=$name
        read -r _ < "$fifo"
        "$@"
    ) &
    _STUB_ASYNC_PIDS[$name]=$!
}

function async_wait {
    local name
    local rc=0
    for name in "$@"; do
        _stub_record async_wait "$name"
        if [[ -z ${_STUB_ASYNC_PIDS[$name]:-} ]]; then
            echo "Not waiting for async task $name: not running"
            continue
        fi
        echo go > "$STUB_ASYNC_DIR/$name.fifo"
        wait "${_STUB_ASYNC_PIDS[$name]}" || rc=$?
        unset "_STUB_ASYNC_PIDS[$name]"
        rm -f "$STUB_ASYNC_DIR/$name.fifo" "$STUB_ASYNC_DIR/$name.files"
    done
    return $rc
}

# Jobs nobody collected (a phase failed) are let go when the shell exits.
function _stub_async_release {
    local name
    for name in "${!_STUB_ASYNC_PIDS[@]}"; do
        echo go > "$STUB_ASYNC_DIR/$name.fifo"
        wait "${_STUB_ASYNC_PIDS[$name]}" || true
    done
}
trap _stub_async_release EXIT

# _stub_async_files <job> - the files a background job writes.
function _stub_async_files {
    if [[ $1 == configure_neutron_nova ]]; then
        echo "$NOVA_CONF"
        local conf
        for conf in "$NOVA_CONF_DIR"/nova_cell*.conf; do
            if [[ -f $conf ]]; then
                echo "$conf"
            fi
        done
    fi
}

function _stub_check_writer {
    local held
    if [[ -n ${STUB_ASYNC_JOB:-} ]]; then
        return 0
    fi
    for held in "$STUB_ASYNC_DIR"/*.files; do
        if [[ -f $held ]] && grep -qxF -- "$1" "$held"; then
            _stub_record race "$1" "$(basename "$held" .files)"
            echo "[ERROR] $1 written while the background job" \
                "$(basename "$held" .files) writes it" >&2
            return 1
        fi
    done
}

# configure_neutron_nova - as lib/neutron's, started by stack.sh in the
# background before post-config: Nova's Neutron settings in nova.conf and
# in each cell conductor's file.
function configure_neutron_nova {
    local conf
    for conf in "$NOVA_CONF" "$NOVA_CONF_DIR"/nova_cell*.conf; do
        if [[ -f $conf ]]; then
            iniset "$conf" neutron auth_type password
            iniset "$conf" neutron region_name "$REGION_NAME"
            iniset "$conf" DEFAULT vif_plugging_is_fatal True
        fi
    done
}

# start_nova_compute - as lib/nova's, run by stack.sh after post-config:
# nova-cpu.conf is made from nova.conf then.
function start_nova_compute {
    _stub_record start_nova_compute
    cp "$NOVA_CONF" "$NOVA_CPU_CONF"
}

# Calls recorded and otherwise ignored.
function _stub_recorder {
    local name
    for name in "$@"; do
        eval "function $name { _stub_record $name \"\$@\"; }"
    done
}

_stub_recorder create_service_user echo_summary install_database_python \
    pip_install plugin_requires recreate_database setup_develop \
    setup_logging start_tls_proxy

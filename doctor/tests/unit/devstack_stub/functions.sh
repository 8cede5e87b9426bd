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

function get_transport_url {
    echo "rabbit://stackrabbit:secret@$SERVICE_HOST:5672/"
}

function database_connection_url {
    echo "mysql+pymysql://root:secret@$SERVICE_HOST/$1?charset=utf8"
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

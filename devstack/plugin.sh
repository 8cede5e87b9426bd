#!/bin/bash
#
# DevStack plugin of doctor.
#
# DevStack sources this file as "plugin.sh <mode> [<phase>]":
#   stack install      install doctor and the database's Python driver
#   stack post-config  Keystone accounts, doctor.conf, notifications of
#                      Nova and Neutron, the database and its schema
#   stack extra        start the services
#   stack test-config  tell Tempest that doctor is there
#   unstack            stop the services
#   clean              remove doctor's configuration and state

_XTRACE_DOCTOR=$(set +o | grep xtrace)
set -o xtrace

# Every DevStack service of the plugin; the settings file enables all but
# doctor-monitor and doctor-compute-agent.
DOCTOR_SERVICES="doctor-api doctor-eval doctor-notifier doctor-sync"
DOCTOR_SERVICES+=" doctor-inspector doctor-monitor doctor-compute-agent"

DOCTOR_BIN_DIR=${DOCTOR_BIN_DIR:-$(get_python_exec_prefix)}

# is_doctor_enabled - whether any doctor service is enabled. DevStack's
# is_service_enabled asks it when given "doctor".
function is_doctor_enabled {
    local service
    for service in $DOCTOR_SERVICES; do
        if [[ ,${ENABLED_SERVICES}, == *,${service},* ]]; then
            return 0
        fi
    done
    return 1
}

# _doctor_has <comma-separated list> <item> - whether the list holds item.
function _doctor_has {
    [[ ,$1, == *,$2,* ]]
}

# _doctor_openstack_plugins <fallback> - "nova", "neutron" or both, as
# far as DevStack runs them; fallback when it runs neither.
function _doctor_openstack_plugins {
    local plugins=""
    if is_service_enabled nova; then
        plugins=nova
    fi
    if is_service_enabled neutron; then
        plugins=${plugins:+$plugins,}neutron
    fi
    echo "${plugins:-$1}"
}

function _doctor_controllers {
    echo "${DOCTOR_CONTROLLERS:-$(_doctor_openstack_plugins local)}"
}

function _doctor_datasources {
    echo "${DOCTOR_DATASOURCES:-$(_doctor_openstack_plugins static)}"
}

# _doctor_coordination_url - the tooz URL of [coordination] backend_url,
# empty for none.
function _doctor_coordination_url {
    if [[ -n "$DOCTOR_COORDINATION_URL" ]]; then
        echo "$DOCTOR_COORDINATION_URL"
    elif is_service_enabled etcd3; then
        echo "etcd3+http://${SERVICE_HOST}:${ETCD_PORT:-2379}"
    fi
}

# _doctor_api_url - the API's public URL, as in the Keystone catalog.
function _doctor_api_url {
    echo "$DOCTOR_SERVICE_PROTOCOL://$DOCTOR_SERVICE_HOST:$DOCTOR_SERVICE_PORT"
}

# _doctor_database_url - doctor's database URL, without DevStack's
# SQLAlchemy query counter (plugin=dbcounter, added with MySQL): DevStack
# installs that plugin for its own services, and doctor's commands need
# not run where it can be loaded.
function _doctor_database_url {
    local url
    url=$(database_connection_url doctor)
    url=${url//&plugin=dbcounter/}
    url=${url/\?plugin=dbcounter&/?}
    echo "${url%\?plugin=dbcounter}"
}

# _doctor_notification_url - the transport of the notifications doctor
# listens to, Nova and Neutron publish on: DevStack's notification bus.
function _doctor_notification_url {
    get_notification_url
}

# _doctor_core_plugin_conf - Neutron's core plugin file (ML2's), as a
# path. DevStack names it relative to the file system's root, under
# Neutron's configuration directory (etc/neutron/plugins/ml2/...): that
# part is taken from NEUTRON_CONF_DIR.
function _doctor_core_plugin_conf {
    local path=${NEUTRON_CORE_PLUGIN_CONF:-${Q_PLUGIN_CONF_FILE:-}}
    if [[ -z "$path" || "$path" == /* ]]; then
        echo "$path"
    elif [[ "$path" == etc/neutron/* ]]; then
        echo "${NEUTRON_CONF_DIR:-/etc/neutron}/${path#etc/neutron/}"
    else
        echo "/$path"
    fi
}

# _doctor_add_to_list <file> <section> <option> <item> [<unset value>]
# Adds item to a comma-separated list option unless it is there already;
# an option not set yet starts from its service's default, unset value.
function _doctor_add_to_list {
    local file=$1
    local section=$2
    local option=$3
    local item=$4
    local value
    value=$(iniget "$file" "$section" "$option")
    value=${value:-${5:-}}
    if ! _doctor_has "$value" "$item"; then
        value=${value:+$value,}$item
    fi
    iniset "$file" "$section" "$option" "$value"
}

# _doctor_configure_auth <section> [region] - keystoneauth credentials of
# doctor's service user in doctor.conf's section; with "region", the
# region of the service the section reaches too.
function _doctor_configure_auth {
    local section=$1
    iniset "$DOCTOR_CONF" "$section" auth_type password
    iniset "$DOCTOR_CONF" "$section" auth_url "$KEYSTONE_SERVICE_URI"
    iniset "$DOCTOR_CONF" "$section" username "$DOCTOR_SERVICE_USER"
    iniset "$DOCTOR_CONF" "$section" password "$SERVICE_PASSWORD"
    iniset "$DOCTOR_CONF" "$section" user_domain_name "$SERVICE_DOMAIN_NAME"
    iniset "$DOCTOR_CONF" "$section" project_name "$SERVICE_PROJECT_NAME"
    iniset "$DOCTOR_CONF" "$section" project_domain_name \
        "$SERVICE_DOMAIN_NAME"
    if [[ "${2:-}" == "region" ]]; then
        iniset "$DOCTOR_CONF" "$section" region_name "$REGION_NAME"
    fi
    if is_service_enabled tls-proxy; then
        iniset "$DOCTOR_CONF" "$section" cafile "$SSL_BUNDLE_FILE"
    fi
}

# install_doctor - doctor, the database's driver, the coordination
# backend's client.
function install_doctor {
    install_database_python
    setup_develop "$DOCTOR_DIR"
    local url
    url=$(_doctor_coordination_url)
    case "$url" in
        etcd3+http*)
            pip_install etcd3gw
            ;;
        redis*)
            pip_install redis
            ;;
    esac
}

# create_doctor_accounts - service user (admin: it acts on every
# project's servers and ports), catalog service and endpoint.
function create_doctor_accounts {
    create_service_user "$DOCTOR_SERVICE_USER" "admin"
    get_or_create_service "doctor" "$DOCTOR_SERVICE_TYPE" \
        "Fault management" >/dev/null
    get_or_create_endpoint "$DOCTOR_SERVICE_TYPE" "$REGION_NAME" \
        "$(_doctor_api_url)" >/dev/null
}

# configure_doctor - write doctor.conf from DevStack's settings.
function configure_doctor {
    sudo install -d -o "$STACK_USER" -m 755 "$DOCTOR_CONF_DIR" \
        "$DOCTOR_STATE_PATH"
    rm -f "$DOCTOR_CONF"
    # Beside the configuration file, where the evaluator looks first.
    cp "$DOCTOR_DIR/etc/doctor/event_definitions.yaml" "$DOCTOR_CONF_DIR/"

    iniset "$DOCTOR_CONF" DEFAULT debug "$ENABLE_DEBUG_LOG_LEVEL"
    iniset "$DOCTOR_CONF" DEFAULT state_path "$DOCTOR_STATE_PATH"
    iniset "$DOCTOR_CONF" DEFAULT transport_url "$(get_transport_url)"
    local notification_url
    notification_url=$(_doctor_notification_url)
    if [[ -n "$notification_url" ]]; then
        iniset "$DOCTOR_CONF" oslo_messaging_notifications transport_url \
            "$notification_url"
    fi
    iniset "$DOCTOR_CONF" database connection "$(_doctor_database_url)"
    setup_logging "$DOCTOR_CONF"

    iniset "$DOCTOR_CONF" api host \
        "$(ipv6_unquote "$DOCTOR_SERVICE_LISTEN_ADDRESS")"
    if is_service_enabled tls-proxy; then
        iniset "$DOCTOR_CONF" api port "$DOCTOR_SERVICE_PORT_INT"
    else
        iniset "$DOCTOR_CONF" api port "$DOCTOR_SERVICE_PORT"
    fi
    if is_service_enabled keystone; then
        iniset "$DOCTOR_CONF" api auth_strategy keystone
        configure_keystone_authtoken_middleware "$DOCTOR_CONF" \
            "$DOCTOR_SERVICE_USER"
    else
        iniset "$DOCTOR_CONF" api auth_strategy noauth
    fi

    local controllers
    local datasources
    controllers=$(_doctor_controllers)
    datasources=$(_doctor_datasources)
    iniset "$DOCTOR_CONF" inspector controllers "$controllers"
    iniset "$DOCTOR_CONF" synchronizer datasources "$datasources"

    local topic=$DOCTOR_NOTIFICATION_TOPIC
    local versioned=$DOCTOR_VERSIONED_NOTIFICATION_TOPIC
    iniset "$DOCTOR_CONF" evaluator notification_topics "$topic,$versioned"
    if _doctor_has "$controllers,$datasources" nova; then
        _doctor_configure_auth nova region
        iniset "$DOCTOR_CONF" nova notification_topics "$topic,$versioned"
    fi
    if _doctor_has "$controllers,$datasources" neutron; then
        _doctor_configure_auth neutron region
        iniset "$DOCTOR_CONF" neutron notification_topics "$topic"
    fi

    # With doctor-notifier running, the evaluators hand fired alarms to
    # it; without, they deliver them themselves.
    if is_service_enabled doctor-notifier; then
        iniset "$DOCTOR_CONF" evaluator inline_notifier False
    else
        iniset "$DOCTOR_CONF" evaluator inline_notifier True
    fi

    local url
    url=$(_doctor_coordination_url)
    if [[ -n "$url" ]]; then
        iniset "$DOCTOR_CONF" coordination backend_url "$url"
    fi

    if is_service_enabled doctor-monitor; then
        _doctor_configure_monitor
    fi
    if is_service_enabled doctor-compute-agent; then
        _doctor_configure_compute_agent
    fi
}

# _doctor_configure_compute_agent - the [compute_agent] section of
# doctor-compute-agent, and the directory of the guests' channels.
function _doctor_configure_compute_agent {
    sudo install -d -o "$STACK_USER" -m 2775 "$DOCTOR_CHANNEL_DIR"
    if getent group "$DOCTOR_CHANNEL_GROUP" >/dev/null; then
        sudo chgrp "$DOCTOR_CHANNEL_GROUP" "$DOCTOR_CHANNEL_DIR"
    fi
    iniset "$DOCTOR_CONF" compute_agent channel_dir "$DOCTOR_CHANNEL_DIR"
    iniset "$DOCTOR_CONF" compute_agent api_url "$(_doctor_api_url)"
    if is_service_enabled keystone; then
        _doctor_configure_auth compute_agent
    fi
}

# _doctor_configure_monitor - the [monitor] section of doctor-monitor.
function _doctor_configure_monitor {
    local hosts=$DOCTOR_MONITOR_HOSTS
    if [[ -z "$hosts" ]]; then
        if [[ -z "$HOST_IP" ]]; then
            die $LINENO "doctor-monitor is enabled but neither" \
                "DOCTOR_MONITOR_HOSTS nor HOST_IP is set: set" \
                "DOCTOR_MONITOR_HOSTS to name=address,..."
        fi
        hosts="$(hostname)=$HOST_IP"
    fi
    iniset "$DOCTOR_CONF" monitor hosts "$hosts"
    iniset "$DOCTOR_CONF" monitor api_url "$(_doctor_api_url)"
    if is_service_enabled keystone; then
        _doctor_configure_auth monitor
    fi
}

# configure_doctor_peers - Nova and Neutron publish the notifications
# doctor listens to; Neutron lets the inspector set a port's data-plane
# status.
function configure_doctor_peers {
    local topic=$DOCTOR_NOTIFICATION_TOPIC
    local versioned=$DOCTOR_VERSIONED_NOTIFICATION_TOPIC
    local conf
    local url
    url=$(_doctor_notification_url)
    if is_service_enabled nova; then
        # stack.sh writes nova.conf and the cell conductors' files in a
        # background job while this phase runs: two writers of one file
        # lose settings, so that job ends first.
        if declare -F async_wait >/dev/null; then
            async_wait configure_neutron_nova
        fi
        # nova-compute's file is made from nova.conf after this phase;
        # the cell conductors' are beside it. Each one that exists gets
        # the same; each names the notification bus, since a cell
        # conductor's own transport is a virtual host of its cell.
        for conf in "$NOVA_CONF" "${NOVA_CPU_CONF:-}" \
                "$NOVA_CONF_DIR"/nova_cell*.conf; do
            if [[ "$conf" != "$NOVA_CONF" && ! -f "$conf" ]]; then
                continue
            fi
            iniset "$conf" oslo_messaging_notifications driver messagingv2
            if [[ -n "$url" ]]; then
                iniset "$conf" oslo_messaging_notifications transport_url \
                    "$url"
            fi
            _doctor_add_to_list "$conf" oslo_messaging_notifications topics \
                "$topic" notifications
            iniset "$conf" notifications notification_format both
            _doctor_add_to_list "$conf" notifications \
                versioned_notifications_topics "$versioned" \
                versioned_notifications
            iniset "$conf" notifications notify_on_state_change \
                vm_and_task_state
        done
    fi
    if is_service_enabled neutron; then
        iniset "$NEUTRON_CONF" oslo_messaging_notifications driver \
            messagingv2
        if [[ -n "$url" ]]; then
            iniset "$NEUTRON_CONF" oslo_messaging_notifications \
                transport_url "$url"
        fi
        _doctor_add_to_list "$NEUTRON_CONF" oslo_messaging_notifications \
            topics "$topic" notifications
        if _doctor_has "$(_doctor_controllers)" neutron; then
            local ml2_conf
            ml2_conf=$(_doctor_core_plugin_conf)
            if [[ -f "$ml2_conf" ]]; then
                _doctor_add_to_list "$ml2_conf" ml2 extension_drivers \
                    data_plane_status
            else
                echo "WARNING: Neutron's core plugin file" \
                    "'${ml2_conf:-(unset)}' is missing: the" \
                    "data_plane_status extension driver is not enabled" >&2
            fi
        fi
    fi
}

# init_doctor - a fresh database with doctor's schema.
function init_doctor {
    recreate_database doctor
    "$DOCTOR_BIN_DIR/doctor-manage" --config-file "$DOCTOR_CONF" db sync
}

# start_doctor - run every enabled service; run_process skips the others.
function start_doctor {
    local config="--config-file $DOCTOR_CONF"
    run_process doctor-sync "$DOCTOR_BIN_DIR/doctor-synchronizer $config"
    run_process doctor-inspector "$DOCTOR_BIN_DIR/doctor-inspector $config"
    run_process doctor-eval "$DOCTOR_BIN_DIR/doctor-evaluator $config"
    run_process doctor-notifier "$DOCTOR_BIN_DIR/doctor-notifier $config"
    run_process doctor-api "$DOCTOR_BIN_DIR/doctor-api $config"
    if is_service_enabled doctor-api; then
        if is_service_enabled tls-proxy; then
            start_tls_proxy doctor '*' "$DOCTOR_SERVICE_PORT" \
                "$DOCTOR_SERVICE_HOST" "$DOCTOR_SERVICE_PORT_INT"
        fi
        local url
        url=$(_doctor_api_url)
        if ! wait_for_service "$SERVICE_TIMEOUT" "$url"; then
            die $LINENO "doctor-api did not answer at $url"
        fi
    fi
    run_process doctor-monitor "$DOCTOR_BIN_DIR/doctor-monitor $config"
    run_process doctor-compute-agent \
        "$DOCTOR_BIN_DIR/doctor-compute-agent $config"
}

# stop_doctor - stop every service; stop_process skips those not running.
function stop_doctor {
    local service
    for service in $DOCTOR_SERVICES; do
        stop_process "$service"
    done
}

# cleanup_doctor - remove what the plugin wrote outside the database.
function cleanup_doctor {
    sudo rm -rf "${DOCTOR_CONF_DIR:?}" "${DOCTOR_STATE_PATH:?}"
}

if is_service_enabled doctor; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing doctor"
        install_doctor
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring doctor"
        if is_service_enabled keystone; then
            create_doctor_accounts
        fi
        configure_doctor
        configure_doctor_peers
        echo_summary "Creating doctor's database"
        init_doctor
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Starting doctor"
        start_doctor
    elif [[ "$1" == "stack" && "$2" == "test-config" ]]; then
        if is_service_enabled tempest; then
            iniset "$TEMPEST_CONFIG" service_available doctor True
        fi
    fi

    if [[ "$1" == "unstack" ]]; then
        stop_doctor
    fi

    if [[ "$1" == "clean" ]]; then
        cleanup_doctor
    fi
fi

$_XTRACE_DOCTOR

# Local variables:
# mode: shell-script
# End:

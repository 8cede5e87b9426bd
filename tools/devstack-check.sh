#!/bin/bash
#
# Runs doctor's DevStack plugin against a checkout of DevStack itself.
#
#   tools/devstack-check.sh DEVSTACK_DIR [SCENARIO...]
#
# DEVSTACK_DIR is a checkout of DevStack (any branch or commit). Each
# scenario (default, tls, ipv6, serial; all of them unless named) sources
# DevStack's own shell library as stack.sh does (functions, stackrc,
# lib/*), lets DevStack write nova.conf, the cell conductors' files and
# neutron.conf with its own functions, starts its background
# configure_neutron_nova job, and runs the plugin's phases in stack.sh's
# order through DevStack's run_phase, then unstack and clean, with errexit
# on. Package installs, service starts, database and message-bus
# administration and every network call are recorded instead of run: the
# recorders are defined below, after DevStack's library is sourced.
#
# Nothing outside a temporary directory changes: each scenario runs in a
# mount namespace of its own in which /etc and /opt are overlays whose
# writes land in that directory. That needs root, or unprivileged user
# namespaces (then the scenario runs as root of its own namespace).
#
# At the end it checks what the plugin left in doctor.conf, nova.conf,
# the cell conductor's file, nova-cpu.conf, neutron.conf and ML2's file,
# prints one line per scenario and exits non-zero if any failed. Not run
# in CI: it needs a DevStack checkout. See
# doc/source/contributor/devstack-check.rst.

set -o errexit

DOCTOR_SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCENARIOS="default tls ipv6 serial"

function usage {
    echo "usage: $0 DEVSTACK_DIR [$SCENARIOS]" >&2
    exit 2
}

# check_main <devstack dir> [scenario...] - every scenario in its own
# namespace.
function check_main {
    if [[ $# -lt 1 || ! -f $1/stackrc || ! -f $1/functions-common ]]; then
        usage
    fi
    local devstack
    devstack=$(cd "$1" && pwd)
    shift
    local scenarios=${*:-$SCENARIOS}
    local work
    work=$(mktemp -d "${TMPDIR:-/tmp}/doctor-devstack-check.XXXXXX")
    local -a namespace=(unshare --mount --propagation private)
    if [[ $(id -u) != 0 ]]; then
        namespace=(unshare --user --map-root-user --mount)
        namespace+=(--propagation private)
    fi
    local commit
    commit=$(git -C "$devstack" rev-parse HEAD 2>/dev/null || echo unknown)
    echo "DevStack $devstack at $commit; doctor $DOCTOR_SOURCE"
    local scenario
    local failed=0
    for scenario in $scenarios; do
        mkdir -p "$work/$scenario"
        if "${namespace[@]}" env _DOCTOR_CHECK_SCENARIO="$scenario" \
                bash "${BASH_SOURCE[0]}" "$devstack" "$work/$scenario" \
                > "$work/$scenario/log" 2>&1; then
            echo "PASS $scenario"
        else
            echo "FAIL $scenario: see $work/$scenario/log"
            tail -n 20 "$work/$scenario/log" | sed 's/^/    /'
            failed=1
        fi
    done
    echo "Files, calls and logs: $work"
    return $failed
}

# mount_overlays <work dir> - /etc and /opt, written into the work dir.
function mount_overlays {
    local dir
    for dir in etc opt; do
        mkdir -p "$1/upper/$dir" "$1/overlay-work/$dir" "/$dir"
        mount -t overlay overlay -o "lowerdir=/$dir,upperdir=$1/upper/$dir,\
workdir=$1/overlay-work/$dir" "/$dir"
    done
}

# record <name> <args...> - one line of calls.log, tab-separated.
function record {
    local IFS=$'\t'
    echo "$*" >> "$CHECK_WORK/calls.log"
}

# recorders <name>... - functions that only record their calls.
function recorders {
    local name
    for name in "$@"; do
        eval "function $name { record $name \"\$@\"; }"
    done
}

# scenario_settings <scenario> - local.conf's [[local|localrc]], as
# variables set before stackrc.
function scenario_settings {
    ENABLED_SERVICES=key,mysql,rabbit,etcd3,n-api,n-cpu,n-cond,n-sch
    ENABLED_SERVICES+=,placement-api,placement-client
    ENABLED_SERVICES+=,q-svc,q-agt,q-dhcp,q-l3,q-meta,doctor-monitor
    HOST_IP=192.0.2.10
    ADMIN_PASSWORD=secret
    DATABASE_PASSWORD=secret
    RABBIT_PASSWORD=secret
    SERVICE_PASSWORD=secret
    Q_AGENT=openvswitch
    Q_ML2_PLUGIN_MECHANISM_DRIVERS=openvswitch
    Q_ML2_TENANT_NETWORK_TYPE=vxlan
    case "$1" in
        tls)
            ENABLED_SERVICES+=,tls-proxy
            ;;
        ipv6)
            SERVICE_IP_VERSION=6
            HOST_IPV6=2001:db8::10
            ;;
        serial)
            DEVSTACK_PARALLEL=False
            CELLSV2_SETUP=singleconductor
            MYSQL_GATHER_PERFORMANCE=False
            ;;
    esac
}

# source_devstack - DevStack's library, in stack.sh's order.
function source_devstack {
    # A tool DevStack's hosts have, a developer's machine may not.
    if ! command -v uuidgen >/dev/null; then
        function uuidgen {
            python3 -c 'import uuid; print(uuid.uuid4())'
        }
    fi
    source "$TOP_DIR/functions"
    source "$TOP_DIR/lib/stack"
    GetDistro
    source "$TOP_DIR/stackrc"
    # stack.sh runs as a user of its own; here, whoever runs the check.
    STACK_USER=$(id -un)
    source "$TOP_DIR/lib/database"
    source "$TOP_DIR/lib/rpc_backend"
    initialize_database_backends
    define_database_baseurl
    local lib
    for lib in apache tls infra libraries lvm horizon keystone glance \
            nova placement cinder swift neutron ldap dstat atop tcpdump \
            etcd3 os-vif; do
        if [[ -f $TOP_DIR/lib/$lib ]]; then
            source "$TOP_DIR/lib/$lib"
        fi
    done
}

# define_recorders - in place of everything that installs, starts,
# administers a peer or reaches the network.
function define_recorders {
    recorders install_package uninstall_package pip_install pip_install_gr \
        setup_develop setup_dev_lib git_clone install_database_python \
        run_process stop_process start_tls_proxy stop_tls_proxy \
        restart_apache_server enable_apache_site wait_for_service \
        create_service_user get_or_create_service get_or_create_endpoint \
        get_or_create_user get_or_create_project get_or_create_role \
        get_or_add_user_project_role recreate_database \
        rpc_backend_add_vhost restart_service start_service stop_service \
        configure_placement_nova_compute configure_console_proxies \
        neutron_plugin_create_nova_conf write_uwsgi_config \
        write_local_uwsgi_http_config enable_apache_mod \
        neutron-ovs-cleanup ovs-vsctl ovs-ofctl ip iptables systemctl
    # Commands run by name.
    function sudo {
        "$@"
    }
    function curl {
        record curl "$@"
    }
    function openstack {
        record openstack "$@"
    }
}

# doctor_manage_recorder - doctor-manage stands in the plugin's bin dir.
function doctor_manage_recorder {
    mkdir -p "$CHECK_WORK/bin"
    cat > "$CHECK_WORK/bin/doctor-manage" <<EOF
#!/bin/sh
{ printf "doctor-manage"; printf "\\t%s" "\$@"; echo; } \
    >> "$CHECK_WORK/calls.log"
EOF
    chmod +x "$CHECK_WORK/bin/doctor-manage"
    DOCTOR_BIN_DIR=$CHECK_WORK/bin
}

# neutron_tree - the files configure_neutron copies from Neutron's
# checkout, empty.
function neutron_tree {
    NEUTRON_DIR=$CHECK_WORK/neutron
    local file
    mkdir -p "$NEUTRON_DIR/tools" "$NEUTRON_DIR/etc/neutron/rootwrap.d" \
        "$NEUTRON_DIR/etc/neutron/plugins/ml2"
    printf '#!/bin/sh\n' > "$NEUTRON_DIR/tools/generate_config_file_samples.sh"
    chmod +x "$NEUTRON_DIR/tools/generate_config_file_samples.sh"
    for file in neutron.conf.sample dhcp_agent.ini.sample \
            metadata_agent.ini.sample l3_agent.ini.sample \
            neutron/api-paste.ini neutron/rootwrap.conf \
            neutron/rootwrap.d/check.filters \
            neutron/plugins/ml2/ml2_conf.ini.sample \
            neutron/plugins/ml2/openvswitch_agent.ini.sample; do
        printf '[DEFAULT]\n' > "$NEUTRON_DIR/etc/$file"
    done
}

# run_scenario <devstack dir> <work dir> - inside the namespace.
function run_scenario {
    TOP_DIR=$1
    CHECK_WORK=$2
    mount_overlays "$CHECK_WORK"
    # What a DevStack host has, inside the overlay and the work dir.
    mkdir -p /etc/sudoers.d "$CHECK_WORK/tmp"
    export TMPDIR=$CHECK_WORK/tmp
    cd "$TOP_DIR"
    scenario_settings "$_DOCTOR_CHECK_SCENARIO"
    set -o xtrace
    source_devstack
    define_recorders
    doctor_manage_recorder
    neutron_tree

    # The plugin, as enable_plugin leaves it.
    DEVSTACK_PLUGINS=doctor
    GITDIR[doctor]=$DOCTOR_SOURCE
    DOCTOR_DIR=$DOCTOR_SOURCE
    run_phase source
    async_init

    run_phase stack install
    # What stack.sh does between install and post-config that the plugin
    # depends on: Nova's and Neutron's files, Nova's Neutron settings in
    # the background.
    mkdir -p "$NOVA_CONF_DIR" "$NEUTRON_CONF_DIR" "$DATA_DIR"
    create_nova_conf
    configure_neutron
    async_runfunc configure_neutron_nova
    run_phase stack post-config
    async_wait configure_neutron_nova
    start_nova_compute
    run_phase stack extra
    run_phase stack test-config
    run_phase unstack
    cp -a "$DOCTOR_CONF_DIR" "$CHECK_WORK/doctor-conf"
    run_phase clean
    async_cleanup
    set +o xtrace

    verify
}

# expect <what> <expected> <actual>
function expect {
    if [[ "$2" != "$3" ]]; then
        echo "CHECK FAILED: $1: expected '$2', got '$3'"
        CHECK_FAILED=1
    else
        echo "ok: $1 = $3"
    fi
}

# verify - what the plugin left, read with DevStack's own iniget.
function verify {
    CHECK_FAILED=0
    local doctor=$CHECK_WORK/doctor-conf/doctor.conf
    local bus
    bus=$(get_notification_url)
    local protocol=http
    if [[ $_DOCTOR_CHECK_SCENARIO == tls ]]; then
        protocol=https
    fi
    local url="$protocol://$SERVICE_HOST:12345"
    expect "endpoint" "$url" \
        "$(awk -F'\t' '$1 == "get_or_create_endpoint" { print $4 }' \
            "$CHECK_WORK/calls.log")"
    expect "[monitor] api_url" "$url" "$(iniget "$doctor" monitor api_url)"
    expect "[api] host" "$(ipv6_unquote "$SERVICE_LISTEN_ADDRESS")" \
        "$(iniget "$doctor" api host)"
    local devstack_url
    devstack_url=$(database_connection_url doctor)
    if [[ $MYSQL_GATHER_PERFORMANCE == True ]]; then
        expect "DevStack's query counter in its URLs" yes \
            "$([[ $devstack_url == *plugin=dbcounter* ]] && echo yes)"
    fi
    expect "[database] connection" "${devstack_url/&plugin=dbcounter/}" \
        "$(iniget "$doctor" database connection)"
    expect "doctor's notification bus" "$bus" \
        "$(iniget "$doctor" oslo_messaging_notifications transport_url)"
    local conf
    for conf in "$NOVA_CONF" "$NOVA_CPU_CONF" \
            "$NOVA_CONF_DIR"/nova_cell*.conf; do
        if [[ ! -f $conf ]]; then
            continue
        fi
        expect "$conf notification bus" "$bus" \
            "$(iniget "$conf" oslo_messaging_notifications transport_url)"
        expect "$conf notification_format" both \
            "$(iniget "$conf" notifications notification_format)"
        # configure_neutron_nova's work, kept: in the cell conductors'
        # files only with a conductor per cell.
        local conductor=$CELLSV2_SETUP
        if [[ $conf != */nova_cell* || $conductor == superconductor ]]; then
            expect "$conf [neutron] auth_type" password \
                "$(iniget "$conf" neutron auth_type)"
        fi
    done
    if [[ $CELLSV2_SETUP == superconductor ]]; then
        expect "cell conductor's file" yes \
            "$([[ -f $NOVA_CONF_DIR/nova_cell1.conf ]] && echo yes)"
    fi
    expect "nova-cpu.conf" yes "$([[ -f $NOVA_CPU_CONF ]] && echo yes)"
    expect "neutron.conf notification bus" "$bus" \
        "$(iniget "$NEUTRON_CONF" oslo_messaging_notifications \
            transport_url)"
    expect "ML2 extension drivers" yes \
        "$(iniget "/$NEUTRON_CORE_PLUGIN_CONF" ml2 extension_drivers \
            | grep -q data_plane_status && echo yes)"
    local services="doctor-api doctor-eval doctor-inspector doctor-monitor"
    services+=" doctor-notifier doctor-sync"
    expect "services started" "$services" \
        "$(awk -F'\t' '$1 == "run_process" && $2 ~ /^doctor-/ { print $2 }' \
            "$CHECK_WORK/calls.log" | sort | xargs)"
    expect "doctor's files removed by clean" no \
        "$([[ -e $DOCTOR_CONF_DIR ]] && echo yes || echo no)"
    return $CHECK_FAILED
}

if [[ -n ${_DOCTOR_CHECK_SCENARIO:-} ]]; then
    run_scenario "$@"
else
    check_main "$@"
fi

#!/bin/bash
# First start: unattended iRODS setup, omero-irods deployed as docs/deploy.md describes, zone
# initialised (init_zone.sh). Every start: the server in the foreground, its log on stdout
# (`docker compose logs irods`), stopped cleanly on `docker compose stop`.
set -euo pipefail

catalog_host=${IRODS_CATALOG_HOST:-irods-catalog}
setup_done=/var/lib/irods/omero_irods_setup_done
ready_marker=/var/lib/irods/omero_irods_ready
project=/src
bin=/opt/omero-irods/bin

say() { echo "omero-irods entrypoint: $*"; }
as_irods() { su irods -s /bin/bash -c "$1"; }

# 4 or 5: the answer file and the server's command line differ between the two series.
irods_major() {
    python3 -c 'import json; print(json.load(open("/var/lib/irods/version.json.dist"))["irods_version"].split(".")[0])'
}

wait_for_catalog() {
    say "waiting for the catalog database on ${catalog_host}"
    until pg_isready -q -h "${catalog_host}" -d ICAT -U irods; do sleep 1; done
}

# The unattended setup writes server_config.json and the service account's environment and
# leaves the server stopped (irods/irods scripts/setup_irods.py setup_server; input format:
# irods/irods_docs docs/getting_started/installation.md, "Unattended Install").
run_setup() {
    local answers=/opt/omero-irods/setup/setup_irods.$(irods_major).json
    say "running setup_irods.py with ${answers}"
    chown irods:irods /data/irods/vault
    python3 /var/lib/irods/scripts/setup_irods.py --json_configuration_file "${answers}"
}

# What an admin does on an existing zone (docs/deploy.md, steps 3-5).
deploy_omero_irods() {
    say "deploying omero-irods rules, policy config and user map into /etc/irods"
    install -o irods -g irods -m 0644 "${project}/rules/omero_irods_rules.py" /etc/irods/omero_irods_rules.py
    install -o irods -g irods -m 0644 "${project}/rules/core.py" /etc/irods/core.py
    # The example config as shipped, with the few values this stack differs in merged over it
    # (jq's `*` merges objects recursively): the OMERO host's name and the importer's login.
    jq -s '.[0] * .[1]' "${project}/irods_config/omero_irods.example.json" \
        /opt/omero-irods/setup/omero_irods.compose.json > /etc/irods/omero_irods.json
    chown irods:irods /etc/irods/omero_irods.json && chmod 0640 /etc/irods/omero_irods.json
    # Each zone's user map, under the name the config gives it (relative to the config file).
    jq -r '[.zones[].user_map.file] | unique | .[]' /etc/irods/omero_irods.json | while read -r map; do
        install -o irods -g irods -m 0640 "${project}/irods_config/${map}" "/etc/irods/${map}"
    done
    # The importer's OMERO login: the Sudo-only light admin's credentials, readable by the
    # service account alone (docs/deploy.md section 5a; omero-init created the account).
    install -o irods -g irods -m 0600 /omero-importer/omero_importer.json /etc/irods/omero_importer.json
    as_irods "omero-irods admin enable-rule-engine --server-config /etc/irods/server_config.json --stanzas ${project}/irods_config/server_config.rule_engine.json"
    if [ "${OMERO_IRODS_PEP_TRACE:-0}" = 1 ]; then
        say "PEP tracing on: /etc/irods/core.py logs every PEP (test stack only)"
        install -o irods -g irods -m 0644 /etc/irods/core.py /etc/irods/omero_irods_traced_core.py
        install -o irods -g irods -m 0644 "${bin}/pep_trace_core.py" /etc/irods/core.py
    fi
}

start_server() {
    local foreground_flag=-u   # 4.3: irods/irods server/main_server/src/rodsServer.cpp getopt "tuvVqsh"
    if [ "$(irods_major)" -ge 5 ]; then
        foreground_flag=--stdout   # 5.0: irods/irods server/main_server/src/main.cpp options
    fi
    # 4.3 execs "irodsDelayServer" by relative name (rodsServer.cpp launch_delay_server).
    cd /usr/sbin
    # setpriv execs (no forking su in between), so the trap below signals the server itself.
    env HOME=/var/lib/irods USER=irods LOGNAME=irods \
        setpriv --reuid=irods --regid=irods --init-groups ./irodsServer ${foreground_flag} &
    server_pid=$!
    trap 'say "stopping"; kill -TERM "${server_pid}" 2>/dev/null; wait "${server_pid}"' TERM INT
}

wait_for_server() {
    say "waiting for the server on port 1247"
    until as_irods "ils >/dev/null 2>&1"; do
        kill -0 "${server_pid}" 2>/dev/null || { say "the iRODS server exited during start-up"; exit 1; }
        sleep 1
    done
}

rm -f "${ready_marker}"
if [ ! -e "${setup_done}" ]; then
    wait_for_catalog
    run_setup
    deploy_omero_irods
    touch "${setup_done}"
    start_server
    wait_for_server
    as_irods "${bin}/init_zone.sh"
else
    start_server
    wait_for_server
fi
touch "${ready_marker}"
say "ready"
wait "${server_pid}"

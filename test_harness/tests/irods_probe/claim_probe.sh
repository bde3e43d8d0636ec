#!/usr/bin/env bash
# Exactly-once claims on a real iRODS: N delayed rules create the same collection at once.
#
#   bash claim_probe.sh ZONE_WORKDIR [N]     (a zone from ../shared/irods/start-zone.sh, as root)
#
# Set advanced_settings.delay_server_sleep_time_in_seconds to 1 and
# number_of_concurrent_delay_rule_executors to >= 4 in the zone's server_config.json and restart
# it first. Installs claim_core.py as the zone's core.py (keep a copy of yours), queues N
# delayed rules that all run msiCollCreate(NAME, 0, 0) for one new NAME, waits, and prints
# each rule's outcome; exits 0 when exactly one WON and every other one lost with
# CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME (-809000).
set -euo pipefail
workdir=${1:?zone workdir}
count=${2:-8}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC1091
source "$workdir/env.sh"
cp "$here/claim_core.py" "$IRODS_KIT_CORE_PY"
chown irods:irods "$IRODS_KIT_CORE_PY"
name="/tempZone/home/rods/claim-$(date +%s%N)"
irule -r irods_rule_engine_plugin-python-instance probe_submit "*name=\"$name\"%*count=\"$count\"" ruleExecOut
for _ in $(seq 60); do
    done_count=$(grep -c "CLAIM-PROBE $name " "$IRODS_KIT_LOG" || true)
    [ "$done_count" -ge "$count" ] && break
    sleep 1
done
grep -o "CLAIM-PROBE $name [0-9]* [A-Z]*[^\\\"]*" "$IRODS_KIT_LOG" | cut -c1-160
won=$(grep -c "CLAIM-PROBE $name [0-9]* WON" "$IRODS_KIT_LOG" || true)
lost=$(grep -c "CLAIM-PROBE $name [0-9]* LOST (\[iRods__Error__Code:-809000\]" "$IRODS_KIT_LOG" || true)
echo "won: $won, lost with CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME: $lost of $count"
[ "$won" -eq 1 ] && [ "$lost" -eq $((count - 1)) ]
